"""Migrations, schema check, SQLite durability settings and the CLI around them."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import inspect, text

from crowdcensus.cli import main
from crowdcensus.collect import database
from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import SchemaError, check_schema, make_engine, upgrade
from crowdcensus.collect.settings import Settings

from .helpers import SECRET

EXTRA_REVISION = '''"""Test-only revision: a note column on studies."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("studies", sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("studies", "note")
'''


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_upgrade_creates_tables_and_is_idempotent(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    code, out, _ = run_cli(["db", "upgrade", "--db", url], capsys)
    assert code == 0 and "from empty to revision 0001" in out
    code, out, _ = run_cli(["db", "upgrade", "--db", url], capsys)
    assert code == 0 and "already at revision 0001" in out
    engine = make_engine(url)
    assert {"studies", "waves", "responses"} <= set(inspect(engine).get_table_names())
    check_schema(engine)
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    engine.dispose()


def test_service_refuses_an_empty_database(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with pytest.raises(SchemaError, match="db upgrade"):
        create_app(Settings(db_url=url, secret=SECRET))
    monkeypatch.setenv("CROWDCENSUS_SECRET", SECRET.decode())
    code, _, err = run_cli(["serve", "--db", url], capsys)
    assert code == 2 and "no crowdcensus schema" in err and "Traceback" not in err


def test_service_refuses_a_schema_that_is_behind(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    upgrade(make_engine(url))  # database at 0001
    scripts = tmp_path / "migrations"
    shutil.copytree(database.MIGRATIONS_DIR, scripts)
    (scripts / "versions" / "9999_note.py").write_text(EXTRA_REVISION)
    monkeypatch.setattr(database, "MIGRATIONS_DIR", scripts)
    engine = make_engine(url)
    with pytest.raises(SchemaError, match=r"behind \(at revision 0001, code needs 9999\)"):
        check_schema(engine)
    before, after = upgrade(engine)
    assert (before, after) == ("0001", "9999")
    assert "note" in {c["name"] for c in inspect(engine).get_columns("studies")}
    check_schema(engine)
    engine.dispose()


def test_serve_refuses_without_secret(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CROWDCENSUS_SECRET", raising=False)
    url = f"sqlite:///{tmp_path / 'e.db'}"
    code, _, err = run_cli(["serve", "--db", url], capsys)
    assert code == 2 and "no identity secret" in err
    short = tmp_path / "short"
    short.write_text("abc")
    code, _, err = run_cli(["serve", "--db", url, "--secret-file", str(short)], capsys)
    assert code == 2 and "too short" in err
    code, _, err = run_cli(["serve", "--db", url, "--secret-file", str(tmp_path / "nope")],
                           capsys)
    assert code == 2 and "cannot read the secret file" in err


def test_bad_database_urls_are_one_line_errors(capsys):
    code, _, err = run_cli(["db", "upgrade", "--db", "mysql://x@y/z"], capsys)
    assert code == 2 and "unsupported database" in err
    code, _, err = run_cli(["db", "upgrade", "--db", "not a url"], capsys)
    assert code == 2 and err.startswith("error:")


@pytest.mark.xdist_group("collect-db")  # with the other PostgreSQL tests: one cluster
def test_migrations_match_the_models(db_url):
    """The schema the migrations build is the one the models declare (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from crowdcensus.collect.models import Base

    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
