"""Replicates kept on disk as they finish, so a stopped validation can go on.

A validation of a few hundred replicates runs for tens of minutes; a worker
killed by the system, a Ctrl-C or a closed terminal used to lose every
replicate. :class:`Checkpoint` appends each finished replicate's rows to a
JSON Lines file (one line per replicate, flushed at once), keyed by what
determines its figures: the scenario as loaded (with ``--vary`` and
``--capture`` applied), the seed, the replicate's number, the inference, the
inputs set aside and the crowdcensus version. A run with ``resume=True`` reads
the file and reuses every replicate whose key it would compute again, so the
figures are those of an uninterrupted run; a replicate of another setting is
never reused, whatever its name. A line cut short by a kill is ignored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from crowdcensus.errors import InputError

#: The file's name in the validation's output directory.
CHECKPOINT_NAME = "checkpoint.jsonl"


def _plain(value: object) -> object:
    """NumPy scalars as the Python numbers JSON knows."""
    item = getattr(value, "item", None)
    if item is None:
        raise TypeError(f"cannot write {type(value).__name__} to a checkpoint")
    return item()


def replicate_key(scenario_json: dict, seed: int, replicate: int, inference: str,
                  set_aside: Sequence[str]) -> str:
    """A digest of everything a replicate's figures depend on."""
    from crowdcensus.report.outputs import package_version

    blob = json.dumps({"scenario": scenario_json, "seed": seed, "replicate": replicate,
                       "inference": inference, "set_aside": sorted(set_aside),
                       "crowdcensus": package_version()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class Checkpoint:
    """The replicates of earlier runs (``done``: key → rows), and new ones appended.

    Without ``resume`` the file is started afresh. Use as a context manager.
    """

    def __init__(self, path: str | Path, resume: bool = False) -> None:
        self.path = Path(path)
        self.done: dict[str, list[dict]] = {}
        if resume and self.path.exists():
            self.done = self._read()
        self._file: IO[str] | None = None
        self._resume = resume

    def _read(self) -> dict[str, list[dict]]:
        done: dict[str, list[dict]] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--resume: cannot read {self.path} ({exc})") from None
        for line in text.splitlines():
            try:
                entry = json.loads(line)
                done[str(entry["key"])] = list(entry["rows"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short when the run was killed
        return done

    def __enter__(self) -> Checkpoint:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._resume and self.done:
            # rewrite what was read, so that a line cut short does not run into the next
            with self.path.open("w", encoding="utf-8") as f:
                for key, rows in self.done.items():
                    f.write(json.dumps({"key": key, "rows": rows}, default=_plain) + "\n")
        self._file = self.path.open("a" if self._resume and self.done else "w",
                                    encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def add(self, key: str, rows: list[dict]) -> None:
        """Append one finished replicate (written and flushed at once)."""
        if self._file is None:
            raise RuntimeError("Checkpoint.add outside its with-block")
        self._file.write(json.dumps({"key": key, "rows": rows}, default=_plain) + "\n")
        self._file.flush()
        self.done[key] = rows
