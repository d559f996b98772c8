"""Engines, migrations and the schema check.

SQLite is opened in WAL mode with ``synchronous=FULL``: a commit returns only
after the write-ahead log is on disk, so a response the service acknowledged
survives a ``kill -9`` or a power cut. PostgreSQL (``postgresql+psycopg://``)
is the choice for several app instances.

Alembic is configured in code (no ``alembic.ini``): the migration scripts ship
inside the package, so ``crowdcensus db upgrade`` works from an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import QueuePool

from crowdcensus.errors import CrowdcensusError, InputError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class SchemaError(CrowdcensusError):
    """The database schema is missing or older than the code."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(db_url: str, pool_size: int = 8) -> Engine:
    """An engine for ``db_url`` (SQLite file or PostgreSQL through psycopg 3).

    Raises
    ------
    InputError
        When the URL is malformed or names another kind of database.
    """
    try:
        url = make_url(db_url)
    except ArgumentError:
        raise InputError(f"--db: not a database URL: {db_url!r}") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise InputError("--db: SQLite needs a file (sqlite:///path/to/file.db)")
        engine = create_engine(
            url, poolclass=QueuePool, pool_size=pool_size, max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": 10},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if url.get_driver_name() != "psycopg":
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                             pool_pre_ping=True)
    raise InputError(f"--db: unsupported database '{backend}' (use sqlite:/// or "
                     "postgresql+psycopg://)")


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this version of the code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise CrowdcensusError(f"cannot open the database: {_first_line(exc)}") from None


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply migrations up to ``revision``; return (revision before, revision after)."""
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), revision)
    return before, current_revision(engine) or ""


def check_schema(engine: Engine) -> None:
    """Refuse to run on a database whose schema is not the code's.

    Raises
    ------
    SchemaError
        With a message telling the user to run ``crowdcensus db upgrade``.
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if current is None:
        raise SchemaError(
            f"the database has no crowdcensus schema (expected revision {head}); "
            "run `crowdcensus db upgrade --db URL` first"
        )
    if current not in known:
        raise SchemaError(
            f"the database schema is at revision {current}, unknown to this version "
            f"of crowdcensus (newest known: {head}); upgrade crowdcensus"
        )
    raise SchemaError(
        f"the database schema is behind (at revision {current}, code needs {head}); "
        "run `crowdcensus db upgrade --db URL`"
    )


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
