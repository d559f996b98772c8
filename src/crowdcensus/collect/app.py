"""The ASGI application of the collection service.

:func:`create_app` wires the settings, the database (after checking that its
schema is current), the guard middleware (rate limit, body size, access log),
the error pages (never a stack trace in a response) and the three groups of
routes: worker pages (``views/worker.py``), the researcher JSON API
(``views/api.py``) and the plain admin pages (``views/admin.py``).
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

from crowdcensus.collect.database import check_schema, make_engine
from crowdcensus.collect.security import GuardMiddleware, TokenBucketLimiter
from crowdcensus.collect.settings import Settings
from crowdcensus.collect.store import Store
from crowdcensus.collect.texts import TEXTS

PACKAGE_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
log = logging.getLogger("crowdcensus.collect")


def _wants_json(path: str) -> bool:
    return path.startswith("/api/")


def error_response(path: str, status: int, message: str) -> Response:
    """A JSON error under /api/, a small HTML page elsewhere."""
    if _wants_json(path):
        return JSONResponse({"error": message}, status_code=status)
    html = templates.get_template("error.html").render(
        status=status, message=message, t=TEXTS["en"], lang="en")
    from starlette.responses import HTMLResponse

    return HTMLResponse(html, status_code=status)


def _guard_error(scope, status: int, message: str) -> Response:
    return error_response(scope["path"], status, message)


def create_app(settings: Settings, check: bool = True) -> FastAPI:
    """Build the application for ``settings``.

    Parameters
    ----------
    settings : Settings
        Database URL, identity secret, admin token, limits.
    check : bool
        Refuse to build when the database schema is not current (default).

    Raises
    ------
    crowdcensus.collect.database.SchemaError
        When ``check`` and the schema is missing or behind.
    """
    engine = make_engine(settings.db_url)
    if check:
        try:
            check_schema(engine)
        except Exception:
            engine.dispose()
            raise
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        app.state.store.close()

    app = FastAPI(title="crowdcensus collection service", docs_url="/api/docs",
                  redoc_url=None, openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.store = Store(engine)
    app.state.templates = templates

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = error_response(request.url.path, exc.status_code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return error_response(request.url.path, 422, "; ".join(parts) or "invalid input")

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        return error_response(request.url.path, 500, "internal error; please try again")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return FileResponse(PACKAGE_DIR / "static" / "favicon.ico",
                            media_type="image/x-icon")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    app.mount("/static", StaticFiles(directory=str(PACKAGE_DIR / "static")), name="static")

    from crowdcensus.collect.views import admin, api, worker

    app.router.routes.extend(worker.routes)
    app.include_router(api.router)
    app.include_router(admin.router)

    limiter = TokenBucketLimiter(settings.rate_limit, settings.rate_burst)
    app.add_middleware(GuardMiddleware, limiter=limiter,
                       max_body_bytes=settings.max_body_bytes, error_page=_guard_error)

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
