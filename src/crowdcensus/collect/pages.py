"""Rendering worker pages, and the error pages a worker can meet, in the worker's language.

A worker-facing error (400, 403, 404, 405, 410, 413, 422, 429, 500, 503) is
an HTML page in the study's language -- or the language the worker chose,
or, when the wave is unknown, the browser's ``Accept-Language`` -- that says
what happened and what to do next, with the same message in the other
language further down the page (the language switch is a link to it: no
worker ID ever goes into a URL). Researcher-facing routes (``/api/``) answer
JSON, and the admin pages English.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from crowdcensus.collect import questionnaire as q
from crowdcensus.collect.security import csrf_pair, set_csrf_cookie
from crowdcensus.collect.texts import ERRORS, TEXTS

_WAVE_PATH = re.compile(r"^/w/([^/]{1,32})(?:/|$)")


class WorkerError(HTTPException):
    """An error a worker sees: a status and the key of its message in :data:`TEXTS`.

    ``lang`` is the worker's language when the handler knows it (from the
    participant token); otherwise it is worked out from the wave and the request.
    """

    def __init__(self, status: int, key: str, lang: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=key, headers=headers)
        self.key = key
        self.lang = lang


def other_language(lang: str, available: tuple[str, ...] | list[str]) -> str | None:
    """The language a worker can switch to from ``lang``, if the study offers one."""
    return next((x for x in available if x != lang and x in q.LANGUAGES), None)


def accept_language(request: Request) -> str:
    """The first of our languages in the browser's ``Accept-Language`` (English otherwise)."""
    header = request.headers.get("accept-language", "")[:200]
    best, best_q = "en", -1.0
    for order, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower()[:2]
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        weight -= order * 1e-6  # earlier wins a tie
        if lang in q.LANGUAGES and weight > best_q:
            best, best_q = lang, weight
    return best


def _cached_wave(request: Request):
    match = _WAVE_PATH.match(request.url.path)
    if match is None:
        return None
    store = getattr(request.app.state, "store", None)
    if store is None:
        return None
    _hit, wave = store.cached_wave(match.group(1))
    return wave


def worker_language(request: Request, wave=None, explicit: str | None = None) -> str:
    """The language of a worker page: explicit, else ``?lang=``, else the study's first."""
    languages = tuple(wave.languages) if wave is not None else q.LANGUAGES
    for candidate in (explicit, request.query_params.get("lang")):
        if candidate in languages and candidate in q.LANGUAGES:
            return candidate
    if wave is not None:
        return next((x for x in wave.languages if x in q.LANGUAGES), "en")
    return accept_language(request)


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    """A template with the CSRF token, the texts of ``context['lang']`` and safe headers."""
    lang = context.get("lang", "en")
    template = request.app.state.templates.get_template(name)
    return respond(request, status, lambda csrf: template.render(
        t=TEXTS[lang], csrf=csrf, q=q, labels=q.FIELD_LABELS, **context))


def respond(request: Request, status: int, build) -> HTMLResponse:
    """An HTML response built by ``build(csrf_token)``, setting the CSRF cookie if new."""
    settings = request.app.state.settings
    csrf, new_cookie = csrf_pair(settings.secret, request)
    response = HTMLResponse(build(csrf), status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "no-referrer"
    set_csrf_cookie(response, new_cookie, settings.secure_cookies)
    return response


def worker_error_page(request: Request, status: int, key: str | None = None,
                      lang: str | None = None, wave=None) -> Response:
    """The page a worker sees for an error, in their language with the other one below."""
    key = key if key in TEXTS["en"] else ERRORS.get(status, "err_server")
    wave = wave if wave is not None else _cached_wave(request)
    lang = worker_language(request, wave, lang)
    other = other_language(lang, wave.languages if wave is not None else q.LANGUAGES)
    contact = getattr(wave, "researcher_contact", None) if wave is not None else None
    template = request.app.state.templates.get_template("error.html")
    html = template.render(t=TEXTS[lang], lang=lang, status=status, key=key,
                           other=other, t_other=TEXTS[other] if other else None,
                           contact=contact)
    response = HTMLResponse(html, status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "no-referrer"
    return response


def is_worker_path(path: str) -> bool:
    """Pages a worker may see: everything but the API, the admin pages and static files."""
    return not path.startswith(("/api/", "/admin", "/static/"))


def error_response(request: Request, status: int, message: str,
                   headers: dict[str, str] | None = None) -> Response:
    """JSON under ``/api/``, the admin error page under ``/admin``, else a worker page."""
    path = request.url.path
    if path.startswith("/api/"):
        response: Response = JSONResponse({"error": message}, status_code=status)
    elif path.startswith("/admin"):
        template = request.app.state.templates.get_template("admin/error.html")
        response = HTMLResponse(template.render(status=status, message=message, lang="en",
                                                t=TEXTS["en"]), status_code=status)
    else:
        response = worker_error_page(request, status)
    if headers:
        response.headers.update(headers)
    return response
