"""Engines, migrations, the schema check and the writability check.

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
from alembic.util.exc import CommandError as AlembicCommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from crowdcensus.errors import CrowdcensusError, InputError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class SchemaError(CrowdcensusError):
    """The database schema is missing or older than the code."""


class DatabaseError(CrowdcensusError):
    """The database cannot be opened, read or written (one line for a person)."""


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


def _where(engine: Engine) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"the SQLite file {url.database}"
    return f"the PostgreSQL database {url.database or ''} on {url.host or 'localhost'}"


def database_error(engine: Engine, exc: BaseException) -> CrowdcensusError:
    """One line, for a person, about a driver error met while opening or writing."""
    text = _first_line(exc)
    low = text.lower()
    where = _where(engine)
    if "file is not a database" in low or "malformed" in low:
        return DatabaseError(f"{where} is not a crowdcensus database (not SQLite, or "
                             "damaged); point --db at the right file")
    if "readonly" in low or "read-only" in low or "read only" in low:
        return DatabaseError(f"{where} is read-only: the service could not store any "
                             "response; make it (and, for SQLite, its folder) writable by "
                             "this user")
    if "unable to open" in low:
        return DatabaseError(f"cannot open {where}: check that its folder exists and that "
                             "this user may read and write there")
    return DatabaseError(f"cannot use {where}: {text}")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database).

    Raises
    ------
    DatabaseError
        When the database cannot be opened or read (one line, no traceback).
    """
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise database_error(engine, exc) from None


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply migrations up to ``revision``; return (revision before, revision after).

    Raises
    ------
    SchemaError
        When the database is at a revision this version of the code does not know.
    DatabaseError
        When the database cannot be opened or written.
    """
    before = current_revision(engine)
    if before is not None and before not in _known_revisions():
        raise SchemaError(_schema_problem(before) or "")
    try:
        command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise database_error(engine, exc) from None
    except AlembicCommandError as exc:
        raise SchemaError(f"cannot upgrade the database: {_first_line(exc)}") from None
    return before, current_revision(engine) or ""


def _known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def _schema_problem(current: str | None) -> str | None:
    head = head_revision()
    if current == head:
        return None
    if current is None:
        return (f"the database has no crowdcensus schema (expected revision {head}); "
                "run `crowdcensus db upgrade --db URL` first")
    if current not in _known_revisions():
        return (f"the database schema is at revision {current}, unknown to this version "
                f"of crowdcensus (newest known: {head}); upgrade crowdcensus")
    return (f"the database schema is behind (at revision {current}, code needs {head}); "
            "run `crowdcensus db upgrade --db URL`")


def check_schema(engine: Engine) -> None:
    """Refuse to run on a database whose schema is not the code's.

    Raises
    ------
    SchemaError
        With a message telling the user to run ``crowdcensus db upgrade``.
    DatabaseError
        When the database cannot be opened or read.
    """
    problem = _schema_problem(current_revision(engine))
    if problem is not None:
        raise SchemaError(problem)


def check_writable(engine: Engine) -> None:
    """Refuse a database the service could read but not write.

    A read-only or immutable SQLite file, a read-only folder, a read-only
    PostgreSQL role or ``default_transaction_read_only``: each lets the
    service start and then fail at the first response, losing the worker's
    answers. This writes the schema's own version row onto itself in a
    transaction that is rolled back, so nothing changes.

    Raises
    ------
    DatabaseError
        Naming the database and what to do.
    """
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            finally:
                trans.rollback()
    except SQLAlchemyError as exc:
        raise database_error(engine, exc) from None


def ready_for_service(engine: Engine) -> str:
    """Check what ``crowdcensus serve`` needs: current schema, writable; return the revision.

    ``crowdcensus db status`` and ``crowdcensus serve`` both call this, so
    they give the same message about the same database.
    """
    check_schema(engine)
    check_writable(engine)
    return head_revision()


def _first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
