"""Fixtures of the collection-service tests: real SQLite files and a throwaway PostgreSQL.

The PostgreSQL cluster is started by the tests themselves (initdb + pg_ctl as
the ``postgres`` user, in a temp dir, on a free port) and stopped at the end.
When the binaries are missing the PostgreSQL cases skip -- or fail when
``CI=true``.
"""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade
from crowdcensus.collect.loopback import ThrowawayPostgres, postgres_bindir

from .helpers import make_settings


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL server for the whole session."""
    bindir = postgres_bindir()
    if bindir is None:
        message = "PostgreSQL binaries not found (apt-get install postgresql)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    cluster = ThrowawayPostgres(bindir)
    yield cluster
    cluster.stop("immediate")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A migrated, empty database: a real SQLite file, then a real PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'collect.db'}"
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url




@pytest.fixture
def client(db_url):
    """An in-process HTTP client on the app (no server exceptions re-raised)."""
    app = create_app(make_settings(db_url))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.state.engine.dispose()
