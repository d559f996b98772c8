"""Entry point of the ``crowdcensus`` command.

Every domain error (:class:`crowdcensus.errors.CrowdcensusError`) and every usage
error ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys

import click

# Importing a command module registers its commands on the apps.
from crowdcensus.commands import collect, demo, estimate_closed  # noqa: F401
from crowdcensus.commands.apps import app
from crowdcensus.errors import CrowdcensusError


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: list[str] | None = None) -> None:
    """Run the command line; exit with 0 on success, 2 on bad input, 1 otherwise."""
    try:
        code = app(args=argv, prog_name="crowdcensus", standalone_mode=False)
    except CrowdcensusError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.exceptions.UsageError as exc:
        print(f"error: {_one_line(exc.format_message())}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Abort:
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
