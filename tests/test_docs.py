"""Every command and option of the CLI is documented (README.md or docs/*.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from crowdcensus.cli import app

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)


def _walk(command, path=()):
    subs = getattr(command, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from _walk(sub, (*path, name))
    else:
        yield path, command


COMMANDS = list(_walk(typer.main.get_command(app)))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_and_options_documented(path, command):
    words = "crowdcensus " + " ".join(path)
    assert words in DOCS, f"`{words}` is not shown in README.md or docs/"
    missing = [
        opt
        for param in command.params
        for opt in param.opts
        if opt.startswith("--") and opt not in ("--help",) and opt not in DOCS
    ]
    assert not missing, f"`{words}`: options not documented: {missing}"
