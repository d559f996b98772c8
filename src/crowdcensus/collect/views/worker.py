"""Worker pages: landing (per platform), consent, questionnaire, completion.

Flow: ``GET /w/{wave}`` reads the platform's parameters, replaces the raw ID
by its HMAC at once and shows the consent page; ``POST /w/{wave}/consent``
shows the questionnaire; ``POST /w/{wave}/submit`` validates, stores (commit
before answering) and completes as the platform expects. Between pages the
browser carries a signed participant token holding the worker's *hash*, never
the raw ID. The Mechanical Turk preview (``ASSIGNMENT_ID_NOT_AVAILABLE``)
records nothing.
"""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from crowdcensus.collect import questionnaire as q
from crowdcensus.collect.identity import sign, unsign, worker_hash
from crowdcensus.collect.models import utcnow
from crowdcensus.collect.security import CSRF_FIELD, csrf_pair, csrf_valid, set_csrf_cookie
from crowdcensus.collect.store import WaveInfo, aware
from crowdcensus.collect.texts import TEXTS

PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete"
TOKEN_MAX_AGE = 24 * 3600
CLOSING_GRACE = 2 * 3600  # a worker who started before closing may still submit
_ID_PATTERN = re.compile(r"^[\w.@:+\-]{1,128}$")
MAX_FORM_FIELDS = 64


def _bad(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


def _lang(request: Request, wave: WaveInfo, value: str | None = None) -> str:
    lang = value or request.query_params.get("lang")
    if lang in q.LANGUAGES:
        return lang
    return next((x for x in wave.languages if x in q.LANGUAGES), "en")


def _render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    lang = context.get("lang", "en")
    template = request.app.state.templates.get_template(name)
    return _respond(request, status, lambda csrf: template.render(
        t=TEXTS[lang], csrf=csrf, q=q, labels=q.FIELD_LABELS, **context))


def _respond(request: Request, status: int, build) -> HTMLResponse:
    settings = request.app.state.settings
    csrf, new_cookie = csrf_pair(settings.secret, request)
    response = HTMLResponse(build(csrf), status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "no-referrer"
    set_csrf_cookie(response, new_cookie, settings.secure_cookies)
    return response


_BLANK_FORMS: dict[str, str] = {}
_SLOTS = ("@@TOKEN@@", "@@CSRF@@", "@@WAVE@@")


def _blank_questionnaire(request: Request, lang: str, wave: WaveInfo, token: str) -> Response:
    """The empty questionnaire, rendered once per language and filled by substitution.

    Rendering its forty options costs more than the rest of a request; the
    three values substituted are URL-safe base64 and dots, so need no escaping.
    """
    page = _BLANK_FORMS.get(lang)
    if page is None:
        page = request.app.state.templates.get_template("questionnaire.html").render(
            t=TEXTS[lang], q=q, labels=q.FIELD_LABELS, lang=lang, errors={},
            values=_blank_values(), token=_SLOTS[0], csrf=_SLOTS[1],
            wave={"public_id": _SLOTS[2]})
        _BLANK_FORMS[lang] = page
    return _respond(request, 200, lambda csrf: page.replace(_SLOTS[0], token).replace(
        _SLOTS[1], csrf).replace(_SLOTS[2], wave.public_id))


async def _wave(request: Request, public_id: str) -> WaveInfo:
    if len(public_id) > 32:
        raise _bad(404, "no such task")
    store = request.app.state.store
    hit, wave = store.cached_wave(public_id)
    if not hit:
        wave = await run_in_threadpool(store.wave_by_public_id, public_id)
    if wave is None:
        raise _bad(404, "no such task")
    return wave


def _raw_id(value: str | None, name: str) -> str:
    if value is None or not value.strip():
        raise _bad(400, f"missing parameter {name}: open the task from the platform")
    value = value.strip()
    if not _ID_PATTERN.match(value):
        raise _bad(400, f"malformed {name}")
    return value


def _turk_submit_to(request: Request, value: str | None) -> str:
    if not value:
        raise _bad(400, "missing parameter turkSubmitTo: open the task from Mechanical Turk")
    parts = urlsplit(value)
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = request.app.state.settings.turk_submit_origins
    if origin not in allowed or parts.path not in ("", "/"):
        raise _bad(400, "turkSubmitTo is not a Mechanical Turk address")
    return origin


async def landing(request: Request) -> Response:
    """The page a platform opens: read its parameters, hash the ID, ask for consent."""
    public_id = request.path_params["public_id"]
    wave = await _wave(request, public_id)
    params = request.query_params
    lang = _lang(request, wave)
    now = utcnow()
    if not wave.is_open(now):
        key = "not_open" if wave.opens_at and now < aware(wave.opens_at) else "closed"
        return _render(request, "message.html", 410 if key == "closed" else 403, lang=lang,
                       message=TEXTS[lang][key])
    extra: dict[str, str] = {}
    if wave.platform == "mturk":
        assignment = params.get("assignmentId")
        if assignment == PREVIEW_ASSIGNMENT:
            return _render(request, "message.html", lang=lang, message=TEXTS[lang]["preview"])
        raw = _raw_id(params.get("workerId"), "workerId")
        extra["a"] = _raw_id(assignment, "assignmentId")
        _raw_id(params.get("hitId"), "hitId")
        extra["s"] = _turk_submit_to(request, params.get("turkSubmitTo"))
    elif wave.platform == "prolific":
        raw = _raw_id(params.get("PROLIFIC_PID"), "PROLIFIC_PID")
    elif wave.platform == "clickworker":
        raw = _raw_id(params.get("user_id"), "user_id")
    else:
        if not params.get("id"):
            return _render(request, "identify.html", lang=lang, wave=wave)
        raw = _raw_id(params.get("id"), "id")
    hashed = worker_hash(request.app.state.settings.secret, wave.platform, raw)
    del raw
    existing = await run_in_threadpool(request.app.state.store.existing_code, wave.id, hashed)
    if existing is not None:
        return _complete(request, wave, existing, lang, extra)
    token = sign(request.app.state.settings.secret, "participant",
                 {"w": wave.public_id, "h": hashed, "l": lang, "iat": int(time.time()), **extra})
    other = "fr" if lang == "en" else "en"
    other_url = None
    if other in wave.languages:
        query = dict(params)
        query["lang"] = other
        other_url = f"/w/{wave.public_id}?{urlencode(query)}"
    return _render(request, "consent.html", lang=lang, wave=wave, token=token,
                   other_lang_url=other_url)


async def _form(request: Request) -> FormData:
    try:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    except Exception:
        raise _bad(400, "malformed form") from None
    return form


def _participant(request: Request, wave: WaveInfo, form: FormData) -> dict:
    secret = request.app.state.settings.secret
    if not csrf_valid(secret, request, _text(form.get(CSRF_FIELD))):
        raise _bad(403, "the form expired or cookies are blocked; reopen the task link "
                        "from the platform (cookies must be allowed for this site)")
    token = unsign(secret, "participant", _text(form.get("token")) or "", TOKEN_MAX_AGE)
    if token is None or token.get("w") != wave.public_id or not isinstance(token.get("h"), str):
        raise _bad(400, "invalid or expired session; reopen the task link from the platform")
    return token


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


async def consent(request: Request) -> Response:
    """Record nothing; show the questionnaire if the worker agreed."""
    public_id = request.path_params["public_id"]
    wave = await _wave(request, public_id)
    form = await _form(request)
    token = _participant(request, wave, form)
    lang = _lang(request, wave, token.get("l"))
    choice = _text(form.get("consent"))
    if choice == "no":
        return _render(request, "message.html", lang=lang, message=TEXTS[lang]["declined"])
    if choice != "yes":
        raise _bad(422, "consent: answer yes or no")
    return _blank_questionnaire(request, lang, wave, _text(form.get("token")) or "")


def _blank_values() -> dict:
    return {"frequency": None, "platforms_registered": (), "platforms_last_month": (),
            "hours_per_week": "", "earnings_band": None, "country": None, "attention": None}


async def submit(request: Request) -> Response:
    """Validate and store the answers, then complete the way the platform expects."""
    public_id = request.path_params["public_id"]
    wave = await _wave(request, public_id)
    form = await _form(request)
    token = _participant(request, wave, form)
    lang = _lang(request, wave, token.get("l"))
    if not wave.is_open(utcnow(), CLOSING_GRACE):
        return _render(request, "message.html", 410, lang=lang, message=TEXTS[lang]["closed"])
    fields = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
    try:
        answers = q.validate_answers(fields, lang)
    except q.AnswerError as exc:
        values = _blank_values()
        for key in values:
            got = fields.get(key, [])
            if key.startswith("platforms_"):
                values[key] = tuple(got)
            else:
                values[key] = got[0][:50] if got else values[key]
        return _render(request, "questionnaire.html", 422, lang=lang, wave=wave,
                       token=_text(form.get("token")), errors=exc.errors, values=values)
    pending = request.app.state.store.save_response(wave.id, token["h"], lang,
                                                    answers.as_row())
    code, _new = await asyncio.wrap_future(pending)
    return _complete(request, wave, code, lang, token)


def _complete(request: Request, wave: WaveInfo, code: str, lang: str, extra: dict) -> Response:
    if wave.platform == "prolific":
        url = f"{PROLIFIC_COMPLETE}?{urlencode({'cc': wave.platform_completion_code})}"
        return RedirectResponse(url, status_code=303)
    context: dict = {"lang": lang, "code": code}
    if wave.platform == "mturk" and extra.get("a") and extra.get("s"):
        context["mturk_action"] = f"{extra['s']}/mturk/externalSubmit"
        context["assignment_id"] = extra["a"]
    return _render(request, "done.html", **context)


# Plain Starlette routes: these pages need no dependency injection, and skipping
# it is a measurable share of the per-request cost on the submit path.
routes = [
    Route("/w/{public_id}", landing, methods=["GET"]),
    Route("/w/{public_id}/consent", consent, methods=["POST"]),
    Route("/w/{public_id}/submit", submit, methods=["POST"]),
]
