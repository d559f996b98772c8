"""Entry point of the ``crowdcensus`` command.

Exit codes (also in the README):

- ``0`` -- success;
- ``2`` -- bad input or usage: a missing or malformed file, an unknown option or
  value, a missing optional extra (:class:`crowdcensus.errors.InputError`);
- ``3`` -- a model cannot be fitted to these data: not identifiable, a table
  too large, a fit that has no estimate (:class:`crowdcensus.errors.ModelError`);
- ``1`` -- an unexpected failure (a bug: please report it; set
  ``CROWDCENSUS_DEBUG=1`` to see the traceback), or a worker process killed by the
  system (:class:`crowdcensus.errors.WorkerDiedError`);
- ``130`` -- interrupted.

Each error is one line on stderr, never a traceback. Start-up is kept short: the
command modules import only Typer; what a command needs is imported when it runs.
"""

from __future__ import annotations

import os
import sys

# Importing a command module registers its commands on the apps.
from crowdcensus.commands import (  # noqa: F401
    collect,
    demo,
    estimate_closed,
    estimate_mse,
    estimate_open,
    run,
    simulate,
)
from crowdcensus.commands.apps import app
from crowdcensus.errors import CrowdcensusError

#: Exit code of an unexpected failure.
EXIT_UNEXPECTED = 1
#: Exit code of bad input or usage.
EXIT_USAGE = 2


def _click_exceptions() -> tuple[type[Exception], type[Exception]]:
    """Click's ``UsageError`` and ``ClickException``, found from Typer's public
    ``BadParameter`` (Typer may vendor its own copy of Click)."""
    import typer

    mro = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return mro["UsageError"], mro["ClickException"]


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _fail(message: str, code: int) -> None:
    print(f"error: {_one_line(message)}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the command line and exit with the documented code."""
    usage_error, click_exception = _click_exceptions()
    try:
        code = app(args=argv, prog_name="crowdcensus", standalone_mode=False)
    except CrowdcensusError as exc:
        _fail(str(exc), exc.exit_code)
    except usage_error as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            # a bare command group: show its help, as `--help` would
            ctx = getattr(exc, "ctx", None)
            print(ctx.get_help() if ctx is not None else exc.format_message())
            sys.exit(0)
        _fail(exc.format_message(), EXIT_USAGE)
    except click_exception as exc:
        _fail(exc.format_message(), getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except RuntimeError as exc:
        if type(exc).__name__ == "Abort":  # Click's Ctrl-C / end of input
            _fail("interrupted", 130)
        _unexpected(exc)
    except Exception as exc:  # a bug: one line, the traceback on request
        _unexpected(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _unexpected(exc: BaseException) -> None:
    if os.environ.get("CROWDCENSUS_DEBUG"):
        raise exc
    _fail(f"unexpected {type(exc).__name__}: {exc} (this is a bug; run with "
          "CROWDCENSUS_DEBUG=1 for the traceback and please report it)", EXIT_UNEXPECTED)


if __name__ == "__main__":
    main()
