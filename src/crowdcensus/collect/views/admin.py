"""Plain admin pages: log in with the admin token, create and list studies and waves.

The pages show the worker links, the posting kits and the export links (which
the session cookie set at login can download), and have two small forms, for
a new study and a new wave, that check their input as the JSON API does.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from crowdcensus.collect.kits import posting_kit
from crowdcensus.collect.security import CSRF_FIELD, csrf_valid
from crowdcensus.collect.views.api import (
    ADMIN_COOKIE,
    StudyIn,
    WaveIn,
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
    """A study's waves, links, kits and export links, and the new-wave form."""
    return await _study_page(request, study_id)


async def _study_page(request: Request, study_id: int, error: str | None = None,
                      status: int = 200) -> Response:
    if not _logged_in(request):
        return RedirectResponse("/admin", status_code=303)
    store = request.app.state.store
    study = await run_in_threadpool(store.study, study_id)
    if study is None:
        raise _bad(404, f"no study {study_id}")
    counts = await run_in_threadpool(store.response_counts, study_id)
    base = base_url(request)
    kits = {w.id: json.dumps(posting_kit(base, study, w), indent=2) for w in study.waves}
    return _render(request, "admin/study.html", status, lang="en",
                   study=study_json(request, study, counts), kits=kits, error=error)


async def _admin_form(request: Request) -> dict:
    if not _logged_in(request):
        raise _bad(401, "log in first")
    form = await _form(request)
    if not csrf_valid(request.app.state.settings.secret, request, _text(form.get(CSRF_FIELD))):
        raise _bad(403, "the form expired; reload the page")
    return {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}


def _problem(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}"
                     for e in exc.errors()[:4])


def _when(value: str) -> datetime | None:
    """A ``datetime-local`` field, read as UTC."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


@router.post("/admin/studies")
async def admin_new_study(request: Request) -> Response:
    """Create a study from the form on the studies page."""
    fields = await _admin_form(request)
    try:
        body = StudyIn(title=(fields.get("title") or [""])[0],
                       country=(fields.get("country") or [""])[0],
                       languages=fields.get("languages") or ["en"])
    except ValidationError as exc:
        rows = await run_in_threadpool(request.app.state.store.list_studies)
        return _render(request, "admin/studies.html", 422, lang="en", studies=rows,
                       error=_problem(exc))
    sid = await run_in_threadpool(request.app.state.store.create_study, body.title,
                                  body.country.upper(), list(dict.fromkeys(body.languages)),
                                  body.questionnaire_version)
    return RedirectResponse(f"/admin/studies/{sid}", status_code=303)


@router.post("/admin/studies/{study_id}/waves")
async def admin_new_wave(request: Request, study_id: int) -> Response:
    """Create a wave from the form on a study's page."""
    fields = await _admin_form(request)
    one = {k: v[0].strip() for k, v in fields.items() if v}
    try:
        body = WaveIn(platform=one.get("platform", ""), label=one.get("label") or None,
                      opens_at=_when(one.get("opens_at", "")),
                      closes_at=_when(one.get("closes_at", "")),
                      reward_cents=one.get("reward_cents") or 0,
                      currency=one.get("currency") or "USD",
                      target_responses=one.get("target_responses") or 100)
    except ValidationError as exc:
        return await _study_page(request, study_id, _problem(exc), 422)
    except ValueError:
        return await _study_page(request, study_id, "dates: use the date picker's format", 422)
    if await run_in_threadpool(request.app.state.store.study, study_id) is None:
        raise _bad(404, f"no study {study_id}")
    try:
        await run_in_threadpool(request.app.state.store.create_wave, study_id,
                                body.model_dump())
    except IntegrityError:
        return await _study_page(request, study_id,
                                 f"the study already has a wave labelled {body.label!r}", 409)
    return RedirectResponse(f"/admin/studies/{study_id}", status_code=303)
