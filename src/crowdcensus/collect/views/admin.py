"""Plain admin pages: log in with the admin token, list studies, see waves and links.

Creating studies and waves goes through the JSON API (see docs/collect.md);
these pages show what exists, the worker links, the posting kits and the
export links, which the session cookie set at login can download.
"""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from crowdcensus.collect.kits import posting_kit
from crowdcensus.collect.security import CSRF_FIELD, csrf_valid
from crowdcensus.collect.views.api import (
    ADMIN_COOKIE,
    _check_token,
    admin_cookie_value,
    base_url,
    study_json,
)
from crowdcensus.collect.views.worker import _bad, _form, _render, _text

router = APIRouter(include_in_schema=False)


def _logged_in(request: Request) -> bool:
    try:
        _check_token(request, allow_cookie=True)
    except Exception:
        return False
    return True


@router.get("/admin")
async def admin_home(request: Request) -> Response:
    """The list of studies, or the login form."""
    if not _logged_in(request):
        return _render(request, "admin/login.html", lang="en", error=None)
    rows = await run_in_threadpool(request.app.state.store.list_studies)
    return _render(request, "admin/studies.html", lang="en", studies=rows)


@router.post("/admin/login")
async def admin_login(request: Request) -> Response:
    """Check the token typed in the form and set the session cookie."""
    settings = request.app.state.settings
    form = await _form(request)
    if not csrf_valid(settings.secret, request, _text(form.get(CSRF_FIELD))):
        raise _bad(403, "the form expired; reload the page")
    given = _text(form.get("token")) or ""
    if not settings.admin_token or not hmac.compare_digest(
            given.encode(), settings.admin_token.encode()):
        return _render(request, "admin/login.html", 401, lang="en", error="wrong token")
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(ADMIN_COOKIE, admin_cookie_value(settings.secret, given),
                        httponly=True, samesite="strict", secure=settings.secure_cookies,
                        max_age=12 * 3600, path="/")
    return response


@router.post("/admin/logout")
async def admin_logout(request: Request) -> Response:
    """Forget the session cookie."""
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/")
    return response


@router.get("/admin/studies/{study_id}")
async def admin_study(request: Request, study_id: int) -> Response:
    """A study's waves, links, kits and export links."""
    if not _logged_in(request):
        return RedirectResponse("/admin", status_code=303)
    store = request.app.state.store
    study = await run_in_threadpool(store.study, study_id)
    if study is None:
        raise _bad(404, f"no study {study_id}")
    counts = await run_in_threadpool(store.response_counts, study_id)
    base = base_url(request)
    kits = {w.id: json.dumps(posting_kit(base, study, w), indent=2) for w in study.waves}
    return _render(request, "admin/study.html", lang="en",
                   study=study_json(request, study, counts), kits=kits)
