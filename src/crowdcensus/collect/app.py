"""The ASGI application of the collection service.

:func:`create_app` checks the database (current schema, writable), wires the
settings, the clock, the store, the guard middleware (rate limit, body size,
security headers, access log), the error pages (never a stack trace; worker
pages in the worker's language), the census runner and the groups of routes:
worker pages (``views/worker.py``), the researcher JSON API (``views/api.py``,
``views/census.py``) and the plain admin pages (``views/admin.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

from crowdcensus.collect.clock import SystemClock
from crowdcensus.collect.database import make_engine, ready_for_service
from crowdcensus.collect.pages import (
    WorkerError,
    error_response,
    is_worker_path,
    worker_error_page,
)
from crowdcensus.collect.security import GuardMiddleware, TokenBucketLimiter
from crowdcensus.collect.sessions import require_reader
from crowdcensus.collect.settings import Settings
from crowdcensus.collect.store import Store

PACKAGE_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
log = logging.getLogger("crowdcensus.collect")


def _not_found_in_path(request: Request, exc: RequestValidationError) -> str | None:
    """For an id in the URL that cannot exist (not a number, 0, beyond 2**31-1): a 404 text."""
    for err in exc.errors():
        loc = err.get("loc", ())
        if loc and loc[0] == "path":
            name = str(loc[-1]).removesuffix("_id")
            value = str(request.path_params.get(str(loc[-1]), ""))[:24]
            return f"no {name} {value}".strip()
    return None


def create_app(settings: Settings, check: bool = True, clock=None) -> FastAPI:
    """Build the application for ``settings``.

    Parameters
    ----------
    settings : Settings
        Database URL, identity secret, admin token, limits.
    check : bool
        Refuse to build when the database schema is not current or the
        database cannot be written (default).
    clock : object, optional
        ``now()`` and ``monotonic()``; the system clock by default (tests
        inject a fake one).

    Raises
    ------
    crowdcensus.collect.database.SchemaError, crowdcensus.collect.database.DatabaseError
        When ``check`` and the database is not ready: one line saying what to do.
    """
    engine = make_engine(settings.db_url)
    if check:
        try:
            ready_for_service(engine)
        except Exception:
            engine.dispose()
            raise
    clock = clock or SystemClock()
    runner = None
    if settings.census:
        from crowdcensus.collect.census_runner import CensusRunner

        runner = CensusRunner(settings.db_url, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        task = asyncio.create_task(runner.loop(engine)) if runner is not None else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                runner.close()
            app.state.store.close()

    app = FastAPI(title="crowdcensus collection service", docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock
    app.state.store = Store(engine, clock=clock)
    app.state.templates = templates
    app.state.census = runner

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc, WorkerError):
            response = worker_error_page(request, exc.status_code, exc.key, exc.lang)
            if exc.headers:
                response.headers.update(exc.headers)
            return response
        return error_response(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        missing = _not_found_in_path(request, exc)
        if missing is not None:
            return error_response(request, 404, missing)
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return error_response(request, 422, "; ".join(parts) or "invalid input")

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        if is_worker_path(request.url.path):
            return worker_error_page(request, 500, "err_server")
        return error_response(request, 500, "internal error; please try again")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return FileResponse(PACKAGE_DIR / "static" / "favicon.ico",
                            media_type="image/x-icon")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    if settings.api_docs:
        @app.get("/api/openapi.json", include_in_schema=False,
                 dependencies=[Depends(require_reader)])
        async def openapi_json() -> Response:
            return JSONResponse(app.openapi())

        @app.get("/api/docs", include_in_schema=False, dependencies=[Depends(require_reader)])
        async def api_docs() -> Response:
            return get_swagger_ui_html(openapi_url="/api/openapi.json",
                                       title="crowdcensus collection API")

    app.mount("/static", StaticFiles(directory=str(PACKAGE_DIR / "static")), name="static")

    from crowdcensus.collect.views import admin, api, census, worker

    app.router.routes.extend(worker.routes)
    app.include_router(api.router)
    app.include_router(census.router)
    app.include_router(admin.router)

    limiter = TokenBucketLimiter(settings.rate_limit, settings.rate_burst,
                                 clock=clock.monotonic)
    app.add_middleware(GuardMiddleware, limiter=limiter,
                       max_body_bytes=settings.max_body_bytes, error_page=error_response,
                       max_upload_bytes=settings.max_upload_bytes)

    return app


SETTINGS_ENV = "CROWDCENSUS_SERVE_SETTINGS"


def settings_to_env(settings: Settings) -> str:
    """Serialise settings for worker processes started by ``uvicorn --workers``."""
    data = {k: getattr(settings, k) for k in settings.__dataclass_fields__}
    data["secret"] = settings.secret.hex()
    data["turk_submit_origins"] = list(settings.turk_submit_origins)
    return json.dumps(data)


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes: settings come from the parent's environment."""
    data = json.loads(os.environ[SETTINGS_ENV])
    data["secret"] = bytes.fromhex(data["secret"])
    data["turk_submit_origins"] = tuple(data["turk_submit_origins"])
    return create_app(Settings(**data))
