"""Worker pages: landing (per platform), consent, questionnaire, completion, language switch.

Flow: ``GET /w/{wave}`` reads the platform's parameters, replaces the raw ID
by its HMAC at once and shows the consent page; ``POST /w/{wave}/consent``
shows the questionnaire; ``POST /w/{wave}/submit`` validates, stores (commit
before answering) and completes as the platform expects. Between pages the
browser carries a signed participant token holding the worker's *hash*, never
the raw ID. The Mechanical Turk preview (``ASSIGNMENT_ID_NOT_AVAILABLE``)
records nothing. ``POST /w/{wave}/language`` shows the current page in the
study's other language (the questionnaire keeps what was already ticked); the
switch is a form button, so the raw ID never goes into a URL.

Once a wave has its target number of responses, newcomers get a polite "this
task is full" page; a worker who already answered still gets their code, and
one who had started before the wave filled up may still submit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from urllib.parse import urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from crowdcensus.collect import questionnaire as q
from crowdcensus.collect.identity import sign, unsign, worker_hash
from crowdcensus.collect.pages import (
    WorkerError,
    other_language,
    render,
    respond,
    worker_language,
)
from crowdcensus.collect.security import CSRF_FIELD, csrf_valid
from crowdcensus.collect.store import WaveInfo, aware
from crowdcensus.collect.texts import TEXTS

PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete"
TOKEN_MAX_AGE = 24 * 3600
CLOSING_GRACE = 2 * 3600  # a worker who started before closing may still submit
_ID_PATTERN = re.compile(r"^[\w.@:+\-]{1,128}$")
MAX_FORM_FIELDS = 64
#: The URL parameter that carries the worker's ID on each platform.
ID_PARAMETER = {"mturk": "workerId", "prolific": "PROLIFIC_PID", "clickworker": "user_id",
                "generic": "id"}
log = logging.getLogger("crowdcensus.collect")


def _now(request: Request):
    return request.app.state.clock.now()


_BLANK_FORMS: dict[tuple[str, str | None], str] = {}
_SLOTS = ("@@TOKEN@@", "@@CSRF@@", "@@WAVE@@")


def _blank_questionnaire(request: Request, lang: str, wave: WaveInfo, token: str) -> Response:
    """The empty questionnaire, rendered once per language and filled by substitution.

    Rendering its forty options costs more than the rest of a request; the
    three values substituted are URL-safe base64 and dots, so need no escaping.
    """
    other = other_language(lang, wave.languages)
    page = _BLANK_FORMS.get((lang, other))
    if page is None:
        page = request.app.state.templates.get_template("questionnaire.html").render(
            t=TEXTS[lang], q=q, labels=q.FIELD_LABELS, lang=lang, errors={},
            values=_blank_values(), token=_SLOTS[0], csrf=_SLOTS[1],
            wave={"public_id": _SLOTS[2]}, other=other)
        _BLANK_FORMS[(lang, other)] = page
    return respond(request, 200, lambda csrf: page.replace(_SLOTS[0], token).replace(
        _SLOTS[1], csrf).replace(_SLOTS[2], wave.public_id))


def _questionnaire(request: Request, wave: WaveInfo, lang: str, token: str, values: dict,
                   errors: dict, status: int, notice: str | None = None) -> Response:
    return render(request, "questionnaire.html", status, lang=lang, wave=wave, token=token,
                  errors=errors, values=values, notice=notice,
                  other=other_language(lang, wave.languages))


async def _wave(request: Request, public_id: str) -> WaveInfo:
    if len(public_id) > 32:
        raise WorkerError(404, "err_not_found")
    store = request.app.state.store
    hit, wave = store.cached_wave(public_id)
    if not hit:
        wave = await run_in_threadpool(store.wave_by_public_id, public_id)
    if wave is None:
        raise WorkerError(404, "err_not_found")
    return wave


def _raw_id(value: str | None, lang: str) -> str:
    if value is None or not value.strip():
        raise WorkerError(400, "err_missing_id", lang)
    value = value.strip()
    if not _ID_PATTERN.match(value):
        raise WorkerError(400, "err_bad_id", lang)
    return value


def _turk_submit_to(request: Request, value: str | None, lang: str) -> str:
    if not value:
        raise WorkerError(400, "err_turk", lang)
    parts = urlsplit(value)
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = request.app.state.settings.turk_submit_origins
    if origin not in allowed or parts.path not in ("", "/"):
        raise WorkerError(400, "err_turk", lang)
    return origin


def _message(request: Request, wave: WaveInfo, lang: str, key: str, status: int = 200,
             keep: dict | None = None, token: str | None = None,
             page: str | None = None) -> Response:
    """A short page with one message and the language switch.

    Without a participant token the switch is a plain link carrying only
    ``keep`` (parameters that identify nobody); with one it is a form button.
    """
    other = other_language(lang, wave.languages)
    switch_url = None
    if other and token is None:
        switch_url = f"/w/{wave.public_id}?{urlencode({**(keep or {}), 'lang': other})}"
    return render(request, "message.html", status, lang=lang, wave=wave, message=TEXTS[lang][key],
                  other=other, switch_url=switch_url, token=token, page=page)


async def landing(request: Request) -> Response:
    """The page a platform opens: read its parameters, hash the ID, ask for consent."""
    public_id = request.path_params["public_id"]
    wave = await _wave(request, public_id)
    params = request.query_params
    lang = worker_language(request, wave)
    now = _now(request)
    if not wave.is_open(now):
        key = "not_open" if wave.opens_at and now < aware(wave.opens_at) else "closed"
        return _message(request, wave, lang, key, 410 if key == "closed" else 403)
    store = request.app.state.store
    extra: dict[str, str] = {}
    id_param = ID_PARAMETER.get(wave.platform, "id")
    if wave.platform == "mturk" and params.get("assignmentId") == PREVIEW_ASSIGNMENT:
        keep = {k: params[k] for k in ("assignmentId", "hitId", "turkSubmitTo")
                if k in params and len(params[k]) <= 200}
        full = await run_in_threadpool(store.is_full, wave)
        return _message(request, wave, lang, "full" if full else "preview", keep=keep)
    if not params.get(id_param):
        if await run_in_threadpool(store.is_full, wave):
            return _message(request, wave, lang, "full", 410)
        if wave.platform == "generic":
            return render(request, "identify.html", lang=lang, wave=wave,
                          other=other_language(lang, wave.languages), error=None)
    if wave.platform == "generic" and "typed" in params:
        value = params.get("id", "").strip()
        if not _ID_PATTERN.match(value):
            return render(request, "identify.html", 422, lang=lang, wave=wave,
                          other=other_language(lang, wave.languages), error="err_typed_id")
    raw = _raw_id(params.get(id_param), lang)
    if wave.platform == "mturk":
        extra["a"] = _raw_id(params.get("assignmentId"), lang)
        _raw_id(params.get("hitId"), lang)
        extra["s"] = _turk_submit_to(request, params.get("turkSubmitTo"), lang)
    hashed = worker_hash(request.app.state.settings.secret, wave.platform, raw)
    del raw
    token = sign(request.app.state.settings.secret, "participant",
                 {"w": wave.public_id, "h": hashed, "l": lang, "iat": int(time.time()), **extra})
    existing = await run_in_threadpool(store.existing_code, wave.id, hashed)
    if existing is not None:
        return _complete(request, wave, existing, lang, extra, token)
    if await run_in_threadpool(store.is_full, wave):
        return _message(request, wave, lang, "full", 410)
    return _consent_page(request, wave, lang, token)


def _consent_page(request: Request, wave: WaveInfo, lang: str, token: str) -> Response:
    return render(request, "consent.html", lang=lang, wave=wave, token=token,
                  other=other_language(lang, wave.languages))


async def _form(request: Request) -> FormData:
    try:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    except Exception:
        raise WorkerError(400, "err_form") from None
    return form


def _participant(request: Request, wave: WaveInfo, form: FormData) -> dict:
    secret = request.app.state.settings.secret
    token = unsign(secret, "participant", _text(form.get("token")) or "", TOKEN_MAX_AGE)
    if token is not None and (token.get("w") != wave.public_id
                              or not isinstance(token.get("h"), str)):
        token = None
    lang = worker_language(request, wave, token.get("l") if token else None)
    if not csrf_valid(secret, request, _text(form.get(CSRF_FIELD))):
        raise WorkerError(403, "err_csrf", lang)
    if token is None:
        raise WorkerError(400, "err_session", lang)
    return token


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


async def consent(request: Request) -> Response:
    """Record nothing; show the questionnaire if the worker agreed."""
    public_id = request.path_params["public_id"]
    wave = await _wave(request, public_id)
    form = await _form(request)
    token = _participant(request, wave, form)
    lang = worker_language(request, wave, token.get("l"))
    choice = _text(form.get("consent"))
    if choice == "no":
        return _message(request, wave, lang, "declined", token=_text(form.get("token")),
                        page="declined")
    if choice != "yes":
        raise WorkerError(400, "err_form", lang)
    return _blank_questionnaire(request, lang, wave, _text(form.get("token")) or "")


def _blank_values() -> dict:
    return {"frequency": None, "platforms_registered": (), "platforms_last_month": (),
            "hours_per_week": "", "earnings_band": None, "country": None, "attention": None,
            "started_month": ""}


def _typed_values(fields: dict[str, list[str]]) -> dict:
    """What the worker had entered, to show it again (only known codes, short text)."""
    values = _blank_values()
    for key in values:
        got = fields.get(key, [])
        if key.startswith("platforms_"):
            values[key] = tuple(v for v in got if v in q.PLATFORM_CHOICES)
        else:
            values[key] = got[0][:20] if got else values[key]
    return values


async def submit(request: Request) -> Response:
    """Validate and store the answers, then complete the way the platform expects."""
    public_id = request.path_params["public_id"]
    wave = await _wave(request, public_id)
    form = await _form(request)
    token = _participant(request, wave, form)
    lang = worker_language(request, wave, token.get("l"))
    if not wave.is_open(_now(request), CLOSING_GRACE):
        return _message(request, wave, lang, "closed", 410)
    fields = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
    raw_token = _text(form.get("token")) or ""
    try:
        answers = q.validate_answers(fields, lang, _now(request).date())
    except q.AnswerError as exc:
        return _questionnaire(request, wave, lang, raw_token, _typed_values(fields),
                              exc.errors, 422)
    store = request.app.state.store
    try:
        code, new = await asyncio.wrap_future(
            store.save_response(wave.id, token["h"], lang, answers.as_row()))
    except Exception as exc:  # the database refused: keep the answers on the page
        log.error("response not stored (%s); the worker can send again", type(exc).__name__)
        return _questionnaire(request, wave, lang, raw_token, _typed_values(fields), {}, 503,
                              notice="err_unavailable")
    if new:
        store.counted(wave.id)
    return _complete(request, wave, code, lang, token, raw_token)


async def language(request: Request) -> Response:
    """Show the page the worker was on in the other language (answers kept)."""
    public_id = request.path_params["public_id"]
    wave = await _wave(request, public_id)
    form = await _form(request)
    token = _participant(request, wave, form)
    wanted = _text(form.get("to"))
    lang = wanted if wanted in wave.languages and wanted in q.LANGUAGES else \
        worker_language(request, wave, token.get("l"))
    new_token = sign(request.app.state.settings.secret, "participant",
                     {**token, "l": lang, "iat": int(time.time())})
    page = _text(form.get("page"))
    if page == "questionnaire":
        fields = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
        return _questionnaire(request, wave, lang, new_token, _typed_values(fields), {}, 200)
    if page == "declined":
        return _message(request, wave, lang, "declined", token=new_token, page="declined")
    if page == "done":
        code = await run_in_threadpool(request.app.state.store.existing_code, wave.id,
                                       token["h"])
        if code is not None:
            return _complete(request, wave, code, lang, token, new_token)
    return _consent_page(request, wave, lang, new_token)


def _complete(request: Request, wave: WaveInfo, code: str, lang: str, extra: dict,
              token: str) -> Response:
    if wave.platform == "prolific":
        url = f"{PROLIFIC_COMPLETE}?{urlencode({'cc': wave.platform_completion_code})}"
        return RedirectResponse(url, status_code=303)
    context: dict = {"lang": lang, "code": code, "wave": wave, "token": token,
                     "other": other_language(lang, wave.languages)}
    if wave.platform == "mturk" and extra.get("a") and extra.get("s"):
        context["mturk_action"] = f"{extra['s']}/mturk/externalSubmit"
        context["assignment_id"] = extra["a"]
    return render(request, "done.html", **context)


# Plain Starlette routes: these pages need no dependency injection, and skipping
# it is a measurable share of the per-request cost on the submit path.
routes = [
    Route("/w/{public_id}", landing, methods=["GET"]),
    Route("/w/{public_id}/consent", consent, methods=["POST"]),
    Route("/w/{public_id}/submit", submit, methods=["POST"]),
    Route("/w/{public_id}/language", language, methods=["POST"]),
]
