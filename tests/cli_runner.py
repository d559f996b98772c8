"""Running the ``crowdcensus`` command in-process through its real entry point."""

from __future__ import annotations

import contextlib
import dataclasses
import io

from crowdcensus.cli import main


@dataclasses.dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args) -> Result:
    """Exit code, stdout and stderr of ``crowdcensus ARGS...``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code
    return Result(code, out.getvalue(), err.getvalue())
