"""Migrations, schema and writability checks, SQLite durability settings and the CLI around them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from crowdcensus.cli import main
from crowdcensus.collect import database
from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import (
    DatabaseError,
    SchemaError,
    check_schema,
    head_revision,
    make_engine,
    upgrade,
)
from crowdcensus.collect.settings import Settings

from .helpers import SECRET

EXTRA_REVISION = '''"""Test-only revision: a note column on studies."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
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
    head = head_revision()
    code, out, _ = run_cli(["db", "upgrade", "--db", url], capsys)
    assert code == 0 and f"from empty to revision {head}" in out
    code, out, _ = run_cli(["db", "upgrade", "--db", url], capsys)
    assert code == 0 and f"already at revision {head}" in out
    engine = make_engine(url)
    assert {"studies", "waves", "responses", "admin_sessions", "census_snapshots",
            "census_plots", "wave_schedules"} <= set(inspect(engine).get_table_names())
    check_schema(engine)
    engine.dispose()
    code, out, _ = run_cli(["db", "status", "--db", url], capsys)
    assert code == 0 and "up to date and writable" in out


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
    code, _, status_err = run_cli(["db", "status", "--db", url], capsys)
    assert code == 2 and status_err == err  # the same line from both commands


def test_service_refuses_a_schema_that_is_behind(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    head = head_revision()
    upgrade(make_engine(url))
    scripts = tmp_path / "migrations"
    shutil.copytree(database.MIGRATIONS_DIR, scripts)
    (scripts / "versions" / "9999_note.py").write_text(EXTRA_REVISION.format(head=head))
    monkeypatch.setattr(database, "MIGRATIONS_DIR", scripts)
    engine = make_engine(url)
    with pytest.raises(SchemaError, match=rf"behind \(at revision {head}, code needs 9999\)"):
        check_schema(engine)
    before, after = upgrade(engine)
    assert (before, after) == (head, "9999")
    assert "note" in {c["name"] for c in inspect(engine).get_columns("studies")}
    check_schema(engine)
    engine.dispose()


def test_unknown_revision_and_garbage_file_are_one_line_everywhere(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setenv("CROWDCENSUS_SECRET", SECRET.decode())
    future = tmp_path / "future.db"
    url = f"sqlite:///{future}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'zz99'"))
    engine.dispose()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database\n" * 400)
    for target, words in ((url, "unknown to this version"),
                          (f"sqlite:///{garbage}", "not a crowdcensus database")):
        messages = []
        for args in (["db", "upgrade"], ["db", "status"], ["serve"]):
            code, _, err = run_cli([*args, "--db", target], capsys)
            assert code == 2, (args, err)
            assert words in err and "Traceback" not in err and err.count("\n") == 1, err
            messages.append(err)
        assert messages[1] == messages[2]  # db status and serve say the same
    assert garbage.read_bytes().startswith(b"this is not a database")  # left as it was


def _readonly_urls(tmp_path):
    """SQLite databases the service can read but not write: read-only mode, immutable file."""
    path = tmp_path / "ro.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield "read-only mode", f"sqlite:///file:{path}?mode=ro&uri=true"
    yield "immutable", f"sqlite:///file:{path}?immutable=1&uri=true"
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode == 0:  # a file the kernel will not let even root write
        try:
            yield "chattr +i", f"sqlite:///{path}"
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_database_it_cannot_write_refuses_to_start(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CROWDCENSUS_SECRET", SECRET.decode())
    seen = []
    for kind, url in _readonly_urls(tmp_path):
        with pytest.raises(DatabaseError, match="read-only"):
            create_app(Settings(db_url=url, secret=SECRET))
        code, _, serve_err = run_cli(["serve", "--db", url], capsys)
        code2, _, status_err = run_cli(["db", "status", "--db", url], capsys)
        assert code == code2 == 2, kind
        assert "read-only" in serve_err and serve_err == status_err, kind
        assert "Traceback" not in serve_err and serve_err.count("\n") == 1
        seen.append(kind)
    assert seen[:2] == ["read-only mode", "immutable"]


@pytest.mark.xdist_group("collect-db")
def test_a_read_only_postgresql_database_refuses_to_start(pg_cluster, capsys, monkeypatch):
    import psycopg

    monkeypatch.setenv("CROWDCENSUS_SECRET", SECRET.decode())
    url = pg_cluster.new_database()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"host=127.0.0.1 port={pg_cluster.port} user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    code, _, err = run_cli(["serve", "--db", url], capsys)
    assert code == 2 and "read-only" in err and "Traceback" not in err
    assert run_cli(["db", "status", "--db", url], capsys)[2] == err


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


def test_serve_as_a_process_says_one_line_on_a_garbage_file(tmp_path):
    """The installed command, not only main(): no traceback reaches the terminal."""
    garbage = tmp_path / "g.db"
    garbage.write_bytes(b"\x00garbage" * 500)
    done = subprocess.run([sys.executable, "-m", "crowdcensus", "serve", "--db",
                           f"sqlite:///{garbage}"], capture_output=True, text=True,
                          env={"CROWDCENSUS_SECRET": SECRET.decode(), "PATH": "/usr/bin"},
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.xdist_group("collect-db")  # with the other PostgreSQL tests: one cluster
# SQLite's reflection cannot read an index on an expression: the comparison skips it there,
# and the test below checks it
@pytest.mark.filterwarnings("ignore:.*expression-based index")
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


@pytest.mark.xdist_group("collect-db")
def test_the_database_refuses_a_second_wave_of_an_occasion_on_a_platform(db_url, monkeypatch):
    """One wave per platform per occasion (its own, or else its label) is the database's
    rule, not only the store's check before the insert: with the check blinded, as when two
    requests pass it at the same moment, the insert is refused and the store says why,
    storing nothing; another platform, or another occasion, is taken."""
    import sqlalchemy as sa

    from crowdcensus.collect import store as store_module
    from crowdcensus.collect.store import OccasionTakenError, Store

    engine = make_engine(db_url)
    store = Store(engine)
    sid = store.create_study({"title": "t", "country": "FR", "languages": ["fr"],
                              "questionnaire_version": "1"})
    base = {"reward_cents": 10, "currency": "USD", "target_responses": 5}
    store.create_wave(sid, {**base, "label": "w1_mturk", "platform": "mturk",
                            "occasion": "w1"})
    store.create_wave(sid, {**base, "label": "m1", "platform": "mturk"})
    # the check finds nothing: every wave's occasion read as one no wave asks for
    monkeypatch.setattr(store_module, "wave_occasion", sa.literal("not an occasion"))
    for values in ({"label": "w1_again", "platform": "mturk", "occasion": "w1"},
                   {"label": "again", "platform": "mturk", "occasion": "m1"}):
        with pytest.raises(OccasionTakenError, match="created at the same moment"):
            store.create_wave(sid, {**base, **values})
    store.create_wave(sid, {**base, "label": "w1_prolific", "platform": "prolific",
                            "occasion": "w1"})
    with engine.connect() as conn:
        labels = conn.execute(text("SELECT label FROM waves ORDER BY label")).scalars().all()
    assert labels == ["m1", "w1_mturk", "w1_prolific"]
    # a label taken twice is still the label's error, not the occasion's
    monkeypatch.undo()
    with pytest.raises(IntegrityError):
        store.create_wave(sid, {**base, "label": "m1", "platform": "mturk"})
    engine.dispose()


@pytest.mark.xdist_group("collect-db")
def test_upgrade_from_0001_keeps_every_response(pg_or_sqlite_empty):
    """0001 -> head on a database holding data: nothing lost (no table is rebuilt)."""
    url = pg_or_sqlite_empty
    engine = make_engine(url)
    upgrade(engine, "0001")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO studies (id, title, country, languages, "
                          "questionnaire_version, created_at) VALUES "
                          "(1, 'old', 'FR', 'fr,en', '1', :t)"), {"t": now})
        conn.execute(text("INSERT INTO waves (id, public_id, study_id, label, platform, "
                          "reward_cents, currency, target_responses, "
                          "platform_completion_code, created_at) VALUES "
                          "(1, 'pub1', 1, 'w1', 'mturk', 10, 'USD', 5, 'CODE', :t)"), {"t": now})
        for i in range(3):
            conn.execute(text(
                "INSERT INTO responses (wave_id, worker_hash, completion_code, submitted_at, "
                "language, frequency, platforms_registered, platforms_last_month, "
                "hours_per_week, earnings_band, country, attention_answer, attention_passed) "
                "VALUES (1, :h, :c, :t, 'fr', 'weekly', 'mturk', 'mturk', 7.5, 'lt20', 'FR', "
                "'rarely', :yes)"), {"h": f"{i:064d}", "c": f"CODE{i}", "t": now, "yes": True})
    assert upgrade(engine) == ("0001", head_revision())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM responses")).scalar() == 3
        assert conn.execute(text("SELECT researcher_name, label, occasion FROM studies JOIN "
                                 "waves ON waves.study_id = studies.id")).one() == (
            None, "w1", None)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def pg_or_sqlite_empty(request, tmp_path):
    """An empty database (no schema): a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_cluster").new_database()
