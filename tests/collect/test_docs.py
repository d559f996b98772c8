"""Every option of `crowdcensus serve` and every API route is documented in docs/collect.md."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

import crowdcensus.cli  # noqa: F401 -- registers every command
from crowdcensus.collect.app import create_app
from crowdcensus.commands.apps import app

from .helpers import make_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "collect.md"


def _command(name: str):
    group = typer.main.get_command(app)
    return group.commands[name]


def test_every_serve_and_export_option_is_documented():
    text = DOC.read_text()
    for command in ("serve", "export"):
        for param in _command(command).params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}`" in text or f" {opt} " in text, \
                        f"{command} {opt} missing from docs/collect.md"


def test_every_api_route_is_documented(tmp_path):
    from crowdcensus.collect.database import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'doc.db'}"
    upgrade(make_engine(url))
    application = create_app(make_settings(url))
    text = DOC.read_text()
    paths = application.openapi()["paths"]
    routes = [(method.upper(), path) for path, item in paths.items() for method in item]
    assert len(routes) >= 10
    for method, path in routes:
        documented = re.sub(r"\{\w+\}", "{id}", path)
        assert f"`{method} {documented}`" in text, f"{method} {path} missing from docs"
    application.state.store.close()
