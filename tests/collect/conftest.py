"""Fixtures of the collection-service tests: real SQLite files and a throwaway PostgreSQL.

The PostgreSQL cluster is started by the tests themselves (initdb + pg_ctl as
the ``postgres`` user, in a temp dir, on a free port) and stopped at the end.
When the binaries are missing the PostgreSQL cases skip -- or fail when
``CI=true``.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile

import pytest
from fastapi.testclient import TestClient

from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade

from .helpers import free_port, make_settings


def _pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class PgCluster:
    """A PostgreSQL server in a temp dir; :meth:`new_database` gives a fresh database URL."""

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="crowdcensus-pg-")
        self.port = free_port()
        self._n = itertools.count()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        data = os.path.join(self.dir, "data")
        subprocess.run(_as_postgres([f"{bindir}/initdb", "-D", data, "-A", "trust",
                                     "-U", "postgres", "--no-sync"]),
                       check=True, capture_output=True)
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c full_page_writes=off -c max_connections=200")
        subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-l",
                                     os.path.join(self.dir, "log"), "-w", "start"]),
                       check=True, capture_output=True)
        self.data = data

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self._n)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(_as_postgres([f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "immediate",
                                     "-w", "stop"]), capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL server for the whole session."""
    bindir = _pg_bin()
    if bindir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        message = "PostgreSQL binaries not found (apt-get install postgresql)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    cluster = PgCluster(bindir)
    yield cluster
    cluster.stop()


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
