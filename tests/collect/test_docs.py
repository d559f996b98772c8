"""Every option of `crowdcensus serve`, `db` and `export`, every setting and every route
(API, admin pages, worker pages) is documented in docs/collect.md."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

import crowdcensus.cli  # noqa: F401 -- registers every command
from crowdcensus.collect.app import create_app
from crowdcensus.commands.apps import app

from .helpers import make_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "collect.md"


def test_every_serve_and_export_option_is_documented():
    text = DOC.read_text()
    group = typer.main.get_command(app)
    commands = [group.commands["serve"], group.commands["export"],
                *group.commands["db"].commands.values()]
    for command in commands:
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}`" in text or f" {opt} " in text, \
                        f"{command.name} {opt} missing from docs/collect.md"


def test_every_route_is_documented(tmp_path):
    """API routes, admin pages and worker pages: `METHOD /path` with ids written {id}."""
    from crowdcensus.collect.database import make_engine, upgrade
    from crowdcensus.collect.views import admin, worker

    url = f"sqlite:///{tmp_path / 'doc.db'}"
    upgrade(make_engine(url))
    application = create_app(make_settings(url, api_docs=True))
    text = DOC.read_text()
    paths = application.openapi()["paths"]
    routes = [(method.upper(), path) for path, item in paths.items() for method in item]
    plain = [*admin.router.routes, *worker.routes,
             *(r for r in application.routes if getattr(r, "path", "").startswith("/api/"))]
    routes += [(method, route.path) for route in plain
               for method in sorted(getattr(route, "methods", None) or ()) if method != "HEAD"]
    assert len(routes) >= 30
    for method, path in routes:
        documented = re.sub(r"\{\w+_id\}", "{id}", path)
        assert f"`{method} {documented}`" in text, f"{method} {path} missing from docs"
    application.state.store.close()


def test_every_setting_is_documented():
    from crowdcensus.collect.settings import Settings

    text = DOC.read_text()
    for name in Settings.__dataclass_fields__:
        assert f"`{name}`" in text, f"setting {name} missing from docs/collect.md"
