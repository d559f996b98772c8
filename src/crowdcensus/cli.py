"""Entry point of the ``crowdcensus`` command.

Every domain error (:class:`crowdcensus.errors.CrowdcensusError`) and every usage
error ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys

import click

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

try:  # recent Typer releases vendor their own copy of Click
    from typer._click import exceptions as _typer_click_exc  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - older Typer uses Click itself
    _typer_click_exc = click.exceptions

NO_ARGS = tuple(
    e for e in (getattr(click.exceptions, "NoArgsIsHelpError", None),
                getattr(_typer_click_exc, "NoArgsIsHelpError", None)) if e is not None
)
USAGE_ERRORS = (click.exceptions.UsageError, _typer_click_exc.UsageError)
ABORTS = (click.exceptions.Abort, getattr(_typer_click_exc, "Abort", click.exceptions.Abort))


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: list[str] | None = None) -> None:
    """Run the command line; exit with 0 on success, 2 on bad input, 1 otherwise."""
    try:
        code = app(args=argv, prog_name="crowdcensus", standalone_mode=False)
    except CrowdcensusError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except NO_ARGS as exc:
        # a bare command group: show its help, as `--help` would
        print(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        sys.exit(0)
    except USAGE_ERRORS as exc:
        print(f"error: {_one_line(exc.format_message())}", file=sys.stderr)
        sys.exit(2)
    except ABORTS:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
