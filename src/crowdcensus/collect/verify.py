"""Checking a Prolific submissions export against the responses, to approve in bulk.

The researcher downloads the study's submissions from Prolific (a CSV with a
participant ID column, ``Participant id`` or ``participant_id``, and usually a
``Submission id`` or ``session_id``) and uploads it. Each participant ID is
hashed with the service's key, as on arrival, and looked up among the
responses of the wave(s): per submission the answer is

* ``completed``: this participant answered (approve);
* ``duplicate``: this participant answered, but an earlier row of the file
  already stands for that response (another submission by the same person);
* ``not found``: no response from this participant (do not approve unseen).

Nothing is stored: the IDs live only in the request and the answer.
"""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import Engine, select

from crowdcensus.collect.identity import worker_hash
from crowdcensus.collect.models import responses, wave_occasion, waves
from crowdcensus.errors import InputError

PARTICIPANT_COLUMNS = ("participantid", "prolificpid", "participant", "pid")
SUBMISSION_COLUMNS = ("submissionid", "sessionid", "submission")
_ID = re.compile(r"^[\w.@:+\-]{1,128}$")
MAX_ROWS = 100_000


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.strip().lower())


def read_submissions(data: bytes) -> list[dict[str, str]]:
    """``participant_id`` and ``submission_id`` of each row of a Prolific export.

    Raises
    ------
    InputError
        When the file is not a UTF-8 CSV with a participant ID column.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("the file is not UTF-8 text: upload the CSV Prolific gives") from None
    if "\x00" in text:
        raise InputError("the file holds NUL characters: upload the CSV Prolific gives")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise InputError(f"the file is not a readable CSV ({exc})") from None
    if not rows:
        raise InputError("the file is empty")
    header = [_key(h) for h in rows[0]]
    pid = next((header.index(c) for c in PARTICIPANT_COLUMNS if c in header), None)
    sub = next((header.index(c) for c in SUBMISSION_COLUMNS if c in header), None)
    if pid is None:
        raise InputError("no participant ID column (expected 'Participant id' or "
                         "'participant_id' in the first row)")
    if len(rows) - 1 > MAX_ROWS:
        raise InputError(f"more than {MAX_ROWS:,} submissions in one file")
    out = []
    for row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        out.append({"participant_id": row[pid].strip() if pid < len(row) else "",
                    "submission_id": (row[sub].strip() if sub is not None and sub < len(row)
                                      else "")})
    return out


def prolific_waves(engine: Engine, study_id: int, label: str | None) -> list[tuple[int, str]]:
    """The Prolific waves the export is checked against: ``(id, label)``; ``label`` names
    the wave or its occasion (an occasion has one wave per platform).

    Raises
    ------
    LookupError
        When ``label`` is not a Prolific wave of the study.
    InputError
        When the study has no Prolific wave, or several and no ``label``.
    """
    query = select(waves.c.id, waves.c.label, wave_occasion.label("occasion")).where(
        waves.c.study_id == study_id, waves.c.platform == "prolific").order_by(waves.c.id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    found = [(r.id, r.label) for r in rows]
    if label:
        chosen = [(r.id, r.label) for r in rows if label in (r.label, r.occasion)]
        if not chosen:
            raise LookupError(f"no Prolific wave {label!r} in study {study_id}")
        return chosen
    if not found:
        raise InputError("the study has no Prolific wave")
    if len(found) > 1:
        raise InputError("the study has several Prolific waves "
                         f"({', '.join(w[1] for w in found)}); name the one this export "
                         "belongs to (wave=LABEL)")
    return found


def verify_submissions(engine: Engine, secret: bytes, wave_ids: list[int],
                       rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each row with its ``status``: completed, duplicate or not found."""
    hashes = [worker_hash(secret, "prolific", r["participant_id"])
              if _ID.match(r["participant_id"]) else None for r in rows]
    wanted = sorted({h for h in hashes if h is not None})
    answered: set[str] = set()
    with engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            answered.update(conn.execute(select(responses.c.worker_hash).where(
                responses.c.wave_id.in_(wave_ids),
                responses.c.worker_hash.in_(chunk))).scalars())
    seen: set[str] = set()
    out = []
    for row, h in zip(rows, hashes, strict=True):
        if h is not None and h in answered:
            status = "duplicate" if h in seen else "completed"
            seen.add(h)
        else:
            status = "not found"
        out.append({**row, "status": status})
    return out


def summary(checked: list[dict[str, str]]) -> dict[str, int]:
    """How many submissions have each status."""
    counts = {"completed": 0, "duplicate": 0, "not found": 0}
    for row in checked:
        counts[row["status"]] += 1
    return counts
