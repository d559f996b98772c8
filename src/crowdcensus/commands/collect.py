"""``crowdcensus serve``, ``crowdcensus db upgrade|status`` and ``crowdcensus export``."""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from crowdcensus.commands.apps import app
from crowdcensus.errors import InputError

db_app = typer.Typer(help="The collection service's database: migrations and status.",
                     no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")

class ExportKind(StrEnum):
    """``--kind`` of ``crowdcensus export``."""

    responses = "responses"
    histories = "histories"
    schedule = "schedule"


class LogLevel(StrEnum):
    """``--log-level`` of ``crowdcensus serve``."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


DbOption = Annotated[str | None, typer.Option(
    "--db", help="Database URL: sqlite:///file.db (default: $CROWDCENSUS_DB or "
                 "sqlite:///crowdcensus.db) or postgresql+psycopg://user@host/db.")]
SecretFileOption = Annotated[Path | None, typer.Option(
    "--secret-file", help="File holding the identity secret (else $CROWDCENSUS_SECRET).")]


def _db_url(db: str | None, command: str) -> str:
    """The database URL; checks first that the extras the command needs are installed."""
    from crowdcensus.extras import require_extra

    require_extra("collect", f"crowdcensus {command}")
    from crowdcensus.collect.settings import DB_ENV, DEFAULT_DB

    url = db or os.environ.get(DB_ENV) or DEFAULT_DB
    if url.startswith("postgresql"):
        require_extra("postgres", f"crowdcensus {command} on PostgreSQL")
    return url


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create the tables or bring them to the newest schema."""
    url = _db_url(db, "db upgrade")
    from crowdcensus.collect.database import make_engine, upgrade

    engine = make_engine(url)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"database already at revision {after}")
    else:
        typer.echo(f"database upgraded from {before or 'empty'} to revision {after}")


@db_app.command("status")
def db_status(db: DbOption = None) -> None:
    """Say whether `crowdcensus serve` can run on the database (schema current, writable).

    Exits 0 when it can; otherwise prints the same one-line error as `serve`.
    """
    url = _db_url(db, "db status")
    from crowdcensus.collect.database import make_engine, ready_for_service

    engine = make_engine(url)
    try:
        revision = ready_for_service(engine)
    finally:
        engine.dispose()
    typer.echo(f"revision {revision} (code needs {revision}): up to date and writable")


@app.command("serve")
def serve(
    db: DbOption = None,
    secret_file: SecretFileOption = None,
    admin_token: Annotated[str | None, typer.Option(
        "--admin-token", help="Researcher API token (else $CROWDCENSUS_ADMIN_TOKEN).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    public_url: Annotated[str | None, typer.Option(
        "--public-url", help="Base URL workers reach (for links and kits).")] = None,
    rate_limit: Annotated[float, typer.Option(
        "--rate-limit", help="Requests per second per client IP (0: no limit).")] = 20.0,
    rate_burst: Annotated[int, typer.Option("--rate-burst", help="Burst per IP.")] = 60,
    max_body: Annotated[int, typer.Option(
        "--max-body", help="Largest request body in bytes.")] = 64 * 1024,
    secure_cookies: Annotated[bool, typer.Option(
        "--secure-cookies", help="Secure, SameSite=None cookies (HTTPS, MTurk iframe).")
    ] = False,
    turk_submit_to: Annotated[list[str] | None, typer.Option(
        "--allow-turk-submit-to",
        help="Extra origin accepted as MTurk's turkSubmitTo (repeatable).")] = None,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips", help="Proxies trusted for X-Forwarded-For.")] = None,
    log_level: Annotated[LogLevel, typer.Option(
        "--log-level", help="Logging threshold.")] = LogLevel.info,
    api_docs: Annotated[bool, typer.Option(
        "--api-docs", help="Serve /api/docs and /api/openapi.json (behind the admin token).")
    ] = False,
    max_upload: Annotated[int, typer.Option(
        "--max-upload", help="Largest Prolific export accepted for verification, in bytes.")
    ] = 5 * 1024 * 1024,
    census: Annotated[bool, typer.Option(
        "--census/--no-census", help="Compute the live census in a helper process.")
    ] = True,
) -> None:
    """Run the collection service (refuses to start without a secret or on an old schema)."""
    url = _db_url(db, "serve")
    import uvicorn

    from crowdcensus.collect.app import SETTINGS_ENV, create_app, settings_to_env
    from crowdcensus.collect.settings import (
        MTURK_ORIGINS,
        Settings,
        load_admin_token,
        load_secret,
    )

    if workers < 1:
        raise InputError("--workers must be at least 1")
    settings = Settings(
        db_url=url, secret=load_secret(secret_file),
        admin_token=load_admin_token(admin_token), public_url=public_url,
        rate_limit=rate_limit, rate_burst=rate_burst, max_body_bytes=max_body,
        secure_cookies=secure_cookies,
        turk_submit_origins=MTURK_ORIGINS + tuple(o.rstrip("/") for o in turk_submit_to or ()),
        api_docs=api_docs, max_upload_bytes=max_upload, census=census,
    )
    # checks the schema and that the database can be written; raises a one-line error
    application = create_app(settings)
    logging.basicConfig(level=log_level.value.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("crowdcensus.collect")
    if settings.admin_token is None:
        log.warning("no admin token: the researcher API and admin pages are disabled")
    if workers > 1 and settings.db_url.startswith("sqlite"):
        log.warning("%d processes on one SQLite file contend for its write lock; one "
                    "process is faster (use PostgreSQL to scale out)", workers)
    common = dict(host=host, port=port, access_log=False, log_level=log_level.value,
                  proxy_headers=forwarded_allow_ips is not None,
                  forwarded_allow_ips=forwarded_allow_ips, server_header=False)
    if workers == 1:
        uvicorn.run(application, **common)
    else:
        os.environ[SETTINGS_ENV] = settings_to_env(settings)
        uvicorn.run("crowdcensus.collect.app:app_from_env", factory=True, workers=workers,
                    **common)


@app.command("export")
def export(
    study: Annotated[int, typer.Argument(help="Study id.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output file (.csv/.parquet/.json; .toml for the schedule).")],
    kind: Annotated[ExportKind, typer.Option(
        "--kind", help="Answers, capture histories for `crowdcensus estimate`, or the "
        "study file's [experiment.schedule] (the waves' days and platforms).")
    ] = ExportKind.histories,
    platform: Annotated[str | None, typer.Option(
        "--platform", help="Only this platform's waves.")] = None,
    reference_start: Annotated[datetime | None, typer.Option(
        "--reference-start", formats=["%Y-%m-%d"], help="With --kind schedule: the first "
        "day of the reference period (default: --reference-days before the last wave "
        "ends).")] = None,
    reference_days: Annotated[float, typer.Option(
        "--reference-days", min=1, help="With --kind schedule: the reference period's "
        "length in days.")] = 364,
    db: DbOption = None,
    secret_file: SecretFileOption = None,
) -> None:
    """Export a study's responses, capture histories or schedule to a file."""
    url = _db_url(db, "export")
    from crowdcensus.collect import exports
    from crowdcensus.collect.database import check_schema, make_engine
    from crowdcensus.collect.inputs import valid_id
    from crowdcensus.collect.settings import load_secret

    fmt = out.suffix.lstrip(".").lower()
    if kind is ExportKind.schedule:
        if fmt != "toml":
            raise InputError(f"--out: the schedule is written as a .toml file (got {out.name})")
    elif fmt not in exports.FORMATS:
        raise InputError(f"--out: use a .csv, .parquet or .json file (got {out.name})")
    if not valid_id(study):
        raise InputError(f"no study {study}")
    engine = make_engine(url)
    try:
        check_schema(engine)
        with engine.connect() as conn:
            try:
                if kind is ExportKind.schedule:
                    text = exports.schedule_toml(conn, study, reference_start, reference_days,
                                                 platform)
                    out.write_text(text, encoding="utf-8")
                    typer.echo(f"wrote the waves' schedule to {out}")
                    return
                if kind is ExportKind.responses:
                    frame = exports.responses_frame(conn, load_secret(secret_file), study,
                                                    platform=platform)
                else:
                    from datetime import UTC, datetime

                    frame = exports.histories_frame(conn, study, platform,
                                                    opened_by=datetime.now(UTC))
            except LookupError as exc:
                raise InputError(str(exc)) from None
    finally:
        engine.dispose()
    out.write_bytes(exports.serialise(frame, fmt))
    typer.echo(f"wrote {len(frame)} rows to {out}")
