"""Plain admin pages: log in with the admin token; studies, waves, schedules, the live census,
Prolific verification.

A login opens a server-side session (:mod:`crowdcensus.collect.sessions`);
logging out needs the page's CSRF token and ends the session on the server.
The study page shows the worker links, the posting kits (with their
warnings), the exports (per platform first), the live census with its plots
and a button to recompute it, and forms for a new wave, recurring waves, the
researcher's contact and a Prolific submissions export to check. Every form
checks its input as the JSON API does; numbers may be typed with a decimal
comma.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from crowdcensus.collect.inputs import parse_decimal, parse_whole
from crowdcensus.collect.kits import kit_warnings, posting_kit
from crowdcensus.collect.pages import render
from crowdcensus.collect.security import CSRF_FIELD, csrf_valid
from crowdcensus.collect.sessions import (
    ADMIN_COOKIE,
    close_session,
    logged_in,
    open_session,
    set_session_cookie,
)
from crowdcensus.collect.store import OccasionTakenError
from crowdcensus.collect.views.api import (
    ScheduleIn,
    StudyId,
    StudyIn,
    StudyPatch,
    WaveIn,
    base_url,
    make_schedule,
    researcher_missing,
    study_json,
    study_values,
)
from crowdcensus.collect.views.census import load_census, queue_census
from crowdcensus.errors import InputError

router = APIRouter(include_in_schema=False)
MAX_ADMIN_FIELDS = 40


class FormFieldError(ValueError):
    """A form field that cannot be read (shown above the form)."""


async def _read_form(request: Request, max_files: int = 0):
    try:
        return await request.form(max_files=max_files, max_fields=MAX_ADMIN_FIELDS)
    except Exception:
        raise HTTPException(400, "the form could not be read; reload the page") from None


def _check_csrf(request: Request, form) -> None:
    token = form.get(CSRF_FIELD)
    if not csrf_valid(request.app.state.settings.secret, request,
                      token if isinstance(token, str) else None):
        raise HTTPException(403, "the form expired; reload the page")


async def _admin_form(request: Request, max_files: int = 0):
    if not await logged_in(request):
        raise HTTPException(401, "log in first")
    form = await _read_form(request, max_files)
    _check_csrf(request, form)
    return form


def _fields(form) -> dict[str, str]:
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and v.strip()}


def _problem(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}"
                     for e in exc.errors()[:4])


def _when(value: str | None, name: str) -> datetime | None:
    """A ``datetime-local`` field, read as UTC; a time typed with its offset keeps it
    (it was overwritten: 08:00+05:00 stored as 08:00 UTC)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when
    except ValueError:
        raise FormFieldError(f"{name}: use the date picker's format, e.g. 2027-01-10T08:00") \
            from None


def _whole(value: str | None, name: str, default: int) -> int:
    if not value:
        return default
    number = parse_whole(value)
    if number is None:
        raise FormFieldError(f"{name}: type a whole number, e.g. 50")
    return number


def _decimal(value: str | None, name: str) -> float | None:
    if not value:
        return None
    number = parse_decimal(value, 3)
    if number is None:
        raise FormFieldError(f"{name}: type a number, e.g. 7 or 3,5")
    return number


@router.get("/admin")
async def admin_home(request: Request) -> Response:
    """The list of studies, or the login form."""
    if not await logged_in(request):
        return render(request, "admin/login.html", lang="en", error=None)
    rows = await run_in_threadpool(request.app.state.store.list_studies)
    return render(request, "admin/studies.html", lang="en", studies=rows)


@router.post("/admin/login")
async def admin_login(request: Request) -> Response:
    """Check the token typed in the form and open a new session."""
    settings = request.app.state.settings
    form = await _read_form(request)
    _check_csrf(request, form)
    given = form.get("token")
    given = given if isinstance(given, str) else ""
    if not settings.admin_token or not hmac.compare_digest(
            given.encode(), settings.admin_token.encode()):
        return render(request, "admin/login.html", 401, lang="en", error="wrong token")
    session_id = await run_in_threadpool(open_session, request)
    response = RedirectResponse("/admin", status_code=303)
    set_session_cookie(request, response, session_id)
    return response


@router.post("/admin/logout")
async def admin_logout(request: Request) -> Response:
    """End the session on the server (needs the page's CSRF token)."""
    form = await _read_form(request)
    _check_csrf(request, form)
    await run_in_threadpool(close_session, request)
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/")
    return response


@router.get("/admin/studies/{study_id}")
async def admin_study(request: Request, study_id: StudyId) -> Response:
    """A study: census, exports, waves with links and kits, and its forms."""
    return await _study_page(request, study_id)


async def _study_page(request: Request, study_id: int, error: str | None = None,
                      status: int = 200, **extra) -> Response:
    if not await logged_in(request):
        return RedirectResponse("/admin", status_code=303)
    store = request.app.state.store
    study = await run_in_threadpool(store.study, study_id)
    if study is None:
        raise HTTPException(404, f"no study {study_id}")
    counts = await run_in_threadpool(store.response_counts, study_id)
    schedules = await run_in_threadpool(store.schedules, study_id)
    base = base_url(request)
    kits = {w.id: json.dumps(posting_kit(base, study, w), indent=2) for w in study.waves}
    census = await load_census(request, study_id)
    platforms = list(dict.fromkeys(w.platform for w in study.waves))
    return render(request, "admin/study.html", status, lang="en",
                  study=study_json(request, study, counts, schedules), kits=kits,
                  error=error, census=census, platforms=platforms,
                  missing=researcher_missing(study),
                  link_warnings=[w for w in kit_warnings(base, study.waves[0])[:1]
                                 if "https" in w] if study.waves else [],
                  **extra)


@router.post("/admin/studies")
async def admin_new_study(request: Request) -> Response:
    """Create a study from the form on the studies page."""
    form = await _admin_form(request)
    one = _fields(form)
    try:
        body = StudyIn(title=one.get("title", ""), country=one.get("country", ""),
                       languages=form.getlist("languages") or ["en"],
                       researcher_name=one.get("researcher_name"),
                       researcher_contact=one.get("researcher_contact"))
    except ValidationError as exc:
        rows = await run_in_threadpool(request.app.state.store.list_studies)
        return render(request, "admin/studies.html", 422, lang="en", studies=rows,
                      error=_problem(exc))
    sid = await run_in_threadpool(request.app.state.store.create_study, study_values(body))
    return RedirectResponse(f"/admin/studies/{sid}", status_code=303)


@router.post("/admin/studies/{study_id}/edit")
async def admin_edit_study(request: Request, study_id: StudyId) -> Response:
    """Change the study's title and the researcher's name and contact."""
    form = await _admin_form(request)
    one = _fields(form)
    try:
        body = StudyPatch(**{k: one[k] for k in ("title", "researcher_name",
                                                 "researcher_contact") if k in one})
    except ValidationError as exc:
        return await _study_page(request, study_id, _problem(exc), 422)
    store = request.app.state.store
    values = body.model_dump(exclude_none=True)
    if not await run_in_threadpool(store.update_study, study_id, values):
        raise HTTPException(404, f"no study {study_id}")
    return RedirectResponse(f"/admin/studies/{study_id}", status_code=303)


async def _refuse_waves(request: Request, study_id: int) -> Response | None:
    """The study page with a 409 when the study cannot open waves yet (no researcher's
    name and contact); 404 for an unknown study; None when waves may be created."""
    study = await run_in_threadpool(request.app.state.store.study, study_id)
    if study is None:
        raise HTTPException(404, f"no study {study_id}")
    if researcher_missing(study):
        return await _study_page(request, study_id, "before its first wave, give the "
                                 "researcher's name and contact (form below)", 409)
    return None


@router.post("/admin/studies/{study_id}/waves")
async def admin_new_wave(request: Request, study_id: StudyId) -> Response:
    """Create a wave from the form on a study's page."""
    one = _fields(await _admin_form(request))
    try:
        body = WaveIn(platform=one.get("platform", ""), label=one.get("label"),
                      occasion=one.get("occasion"),
                      opens_at=_when(one.get("opens_at"), "opens_at"),
                      closes_at=_when(one.get("closes_at"), "closes_at"),
                      reward_cents=_whole(one.get("reward_cents"), "reward_cents", 0),
                      currency=one.get("currency") or "USD",
                      target_responses=_whole(one.get("target_responses"),
                                              "target_responses", 100))
    except ValidationError as exc:
        return await _study_page(request, study_id, _problem(exc), 422)
    except FormFieldError as exc:
        return await _study_page(request, study_id, str(exc), 422)
    if (refused := await _refuse_waves(request, study_id)) is not None:
        return refused
    store = request.app.state.store
    try:
        await run_in_threadpool(store.create_wave, study_id, body.model_dump())
    except IntegrityError:
        return await _study_page(request, study_id,
                                 f"the study already has a wave labelled {body.label!r}", 409)
    except OccasionTakenError as exc:
        return await _study_page(request, study_id, str(exc), 409)
    return RedirectResponse(f"/admin/studies/{study_id}", status_code=303)


@router.post("/admin/studies/{study_id}/schedules")
async def admin_new_schedule(request: Request, study_id: StudyId) -> Response:
    """Create recurring waves from the form on a study's page."""
    one = _fields(await _admin_form(request))
    try:
        body = ScheduleIn(platform=one.get("platform", ""),
                          label_prefix=one.get("label_prefix", ""),
                          occasion_prefix=one.get("occasion_prefix"),
                          every_days=_whole(one.get("every_days"), "every_days", 0),
                          first_opens_at=_when(one.get("first_opens_at"), "first_opens_at"),
                          until=_when(one.get("until"), "until"),
                          duration_days=_decimal(one.get("duration_days"), "duration_days"),
                          reward_cents=_whole(one.get("reward_cents"), "reward_cents", 0),
                          currency=one.get("currency") or "USD",
                          target_responses=_whole(one.get("target_responses"),
                                                  "target_responses", 100))
        schedule, rows = make_schedule(body)
    except ValidationError as exc:
        return await _study_page(request, study_id, _problem(exc), 422)
    except (FormFieldError, InputError) as exc:
        return await _study_page(request, study_id, str(exc), 422)
    if (refused := await _refuse_waves(request, study_id)) is not None:
        return refused
    store = request.app.state.store
    try:
        await run_in_threadpool(store.create_schedule, study_id, schedule, rows)
    except IntegrityError:
        return await _study_page(request, study_id, f"a wave label {body.label_prefix}NN is "
                                 "already taken; choose another prefix", 409)
    except OccasionTakenError as exc:
        return await _study_page(request, study_id, f"{exc}; choose another prefix", 409)
    return RedirectResponse(f"/admin/studies/{study_id}", status_code=303)


@router.post("/admin/studies/{study_id}/census")
async def admin_census(request: Request, study_id: StudyId) -> Response:
    """Recompute the census in the background and come back to the study page."""
    await _admin_form(request)
    if await run_in_threadpool(request.app.state.store.study, study_id) is None:
        raise HTTPException(404, f"no study {study_id}")
    await run_in_threadpool(queue_census, request, study_id)  # starts a process
    return RedirectResponse(f"/admin/studies/{study_id}#census", status_code=303)


@router.post("/admin/studies/{study_id}/prolific")
async def admin_prolific(request: Request, study_id: StudyId) -> Response:
    """Check an uploaded Prolific submissions export and show the result."""
    from crowdcensus.collect.views.api import check_prolific

    form = await _admin_form(request, max_files=1)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return await _study_page(request, study_id, "choose the CSV file Prolific gives", 422)
    wave = form.get("wave")
    try:
        result = await check_prolific(request, study_id, await upload.read(),
                                      wave if isinstance(wave, str) and wave else None)
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        return await _study_page(request, study_id, str(exc.detail), exc.status_code)
    return await _study_page(request, study_id, verification=result)
