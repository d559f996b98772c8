"""Researcher authentication: the bearer token of the API and server-side admin sessions.

The API takes ``Authorization: Bearer <token>``. The admin pages log in once
with the same token and then carry a session cookie:

* each login draws a new random session id (256 bits) and stores only its
  SHA-256 in ``admin_sessions``, with an expiry (:data:`SESSION_HOURS`) and a
  fingerprint of the admin token it was opened with -- a copy of the
  database gives no usable cookie, and changing the token ends every session;
* a login replaces the session the browser already had (rotation), a logout
  deletes it server-side (and needs the form's CSRF token), an expired or
  deleted session opens nothing even if the browser kept the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, insert, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from crowdcensus.collect.models import admin_sessions

ADMIN_COOKIE = "crowdcensus_admin"
SESSION_HOURS = 12


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def token_fingerprint(secret: bytes, token: str) -> str:
    """A keyed hash of the admin token, stored with each session (never the token)."""
    return hmac.new(secret, b"admin-token:" + token.encode(), hashlib.sha256).hexdigest()


def bearer_ok(request: Request) -> bool:
    """Whether the request carries the admin token as a bearer token."""
    expected = request.app.state.settings.admin_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return bool(expected and scheme.lower() == "bearer" and given and hmac.compare_digest(
        given.strip().encode(), expected.encode()))


def session_ok(request: Request) -> bool:
    """Whether the request's admin cookie names a live session (reads the database)."""
    settings = request.app.state.settings
    cookie = request.cookies.get(ADMIN_COOKIE)
    if not settings.admin_token or not cookie or len(cookie) > 100:
        return False
    now = request.app.state.clock.now()
    with request.app.state.engine.connect() as conn:
        row = conn.execute(select(admin_sessions.c.token_fingerprint,
                                  admin_sessions.c.expires_at)
                           .where(admin_sessions.c.id_hash == _hash(cookie))).first()
    if row is None:
        return False
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(
        tzinfo=now.tzinfo)
    return expires > now and hmac.compare_digest(
        row.token_fingerprint, token_fingerprint(settings.secret, settings.admin_token))


def open_session(request: Request) -> str:
    """Store a new session (replacing the browser's current one); return its id."""
    settings = request.app.state.settings
    now = request.app.state.clock.now()
    session_id = secrets.token_urlsafe(32)
    old = request.cookies.get(ADMIN_COOKIE)
    with request.app.state.engine.begin() as conn:
        conn.execute(delete(admin_sessions).where(admin_sessions.c.expires_at <= now))
        if old and len(old) <= 100:
            conn.execute(delete(admin_sessions).where(admin_sessions.c.id_hash == _hash(old)))
        conn.execute(insert(admin_sessions).values(
            id_hash=_hash(session_id),
            token_fingerprint=token_fingerprint(settings.secret, settings.admin_token or ""),
            created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
    return session_id


def close_session(request: Request) -> None:
    """Delete the browser's session server-side (its cookie then opens nothing)."""
    cookie = request.cookies.get(ADMIN_COOKIE)
    if not cookie or len(cookie) > 100:
        return
    with request.app.state.engine.begin() as conn:
        conn.execute(delete(admin_sessions).where(admin_sessions.c.id_hash == _hash(cookie)))


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure with ``--secure-cookies``."""
    response.set_cookie(ADMIN_COOKIE, session_id, httponly=True, samesite="strict",
                        secure=request.app.state.settings.secure_cookies,
                        max_age=SESSION_HOURS * 3600, path="/")


def _disabled() -> HTTPException:
    return HTTPException(503, "the researcher API is disabled: start the service with "
                              "CROWDCENSUS_ADMIN_TOKEN or --admin-token")


async def require_admin(request: Request) -> None:
    """Dependency: a valid bearer token (routes that change something)."""
    if not request.app.state.settings.admin_token:
        raise _disabled()
    if not bearer_ok(request):
        raise HTTPException(401, "missing or wrong admin token",
                            headers={"www-authenticate": "Bearer"})


async def require_reader(request: Request) -> None:
    """Dependency: a valid bearer token or a live admin session (read-only routes)."""
    if not request.app.state.settings.admin_token:
        raise _disabled()
    if bearer_ok(request) or await run_in_threadpool(session_ok, request):
        return
    raise HTTPException(401, "missing or wrong admin token",
                        headers={"www-authenticate": "Bearer"})


async def logged_in(request: Request) -> bool:
    """Whether the admin pages may be shown to this request."""
    if not request.app.state.settings.admin_token:
        return False
    return bearer_ok(request) or await run_in_threadpool(session_ok, request)
