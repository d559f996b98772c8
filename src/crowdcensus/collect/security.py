"""Request hygiene: CSRF tokens, per-IP rate limiting, body size limit, headers, access log.

CSRF uses a *signed double submit*: a random nonce lives in a cookie and the
form carries ``sign(nonce)``; a POST is accepted only when both are present,
the signature is the service's and the nonces match. A forged cross-site form
cannot read the cookie, and cannot make a valid signature for a nonce it sets.

The rate limiter is an in-process token bucket per client IP: each IP gets
``burst`` tokens, refilled at ``rate`` per second; a request with no token left
gets 429 with ``Retry-After`` (the seconds until the bucket holds a token
again). Behind a proxy, run uvicorn with ``--forwarded-allow-ips`` so the
client address is the real one. With several instances each keeps its own
buckets (the limit is per instance). The buckets read an injectable clock.

Headers: every response carries ``X-Content-Type-Options: nosniff``; the
admin pages and the API (exports included) also ``X-Frame-Options: DENY``,
``Content-Security-Policy: frame-ancestors 'none'`` and ``Cache-Control:
no-store``. Worker pages stay framable: Mechanical Turk shows them in an
iframe on its own site.

The access log records method, path (never the query string, which carries the
platforms' worker IDs), status and duration.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crowdcensus.collect.identity import sign, unsign

CSRF_COOKIE = "crowdcensus_csrf"
CSRF_FIELD = "csrf_token"
access_log = logging.getLogger("crowdcensus.collect.access")


def csrf_pair(secret: bytes, request: Request) -> tuple[str, str | None]:
    """The form token for this request and, if the browser has no nonce yet, a new one.

    Returns
    -------
    (form_token, new_cookie_value_or_None)
    """
    nonce = request.cookies.get(CSRF_COOKIE)
    new = None
    if not nonce or len(nonce) > 64:
        nonce = new = secrets.token_urlsafe(16)
    return sign(secret, "csrf", {"n": nonce}), new


def set_csrf_cookie(response: Response, value: str | None, secure: bool) -> None:
    """Attach the CSRF nonce cookie when a new one was made."""
    if value is None:
        return
    if secure:
        # Works inside the MTurk iframe (a third-party context) over HTTPS.
        response.headers.append(
            "set-cookie",
            f"{CSRF_COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned",
        )
    else:
        response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="lax", path="/")


def csrf_valid(secret: bytes, request: Request, form_token: str | None) -> bool:
    """Whether the form's token matches the cookie's nonce and carries our signature."""
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or not form_token:
        return False
    payload = unsign(secret, "csrf", form_token)
    return payload is not None and secrets.compare_digest(str(payload.get("n", "")), nonce)


class TokenBucketLimiter:
    """Per-key token buckets: ``burst`` capacity, refilled at ``rate`` tokens/second.

    ``clock`` is a zero-argument function giving seconds (``time.monotonic``
    by default; tests pass a fake one).
    """

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000, clock=None):
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock or time.monotonic
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``: 0 when allowed, else the seconds until one is back."""
        if self.rate <= 0:
            return 0.0
        now = self.clock() if now is None else now
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._prune(now)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one token for ``key``; False when its bucket is empty."""
        return self.wait(key, now) == 0.0

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


_NOSNIFF = (b"x-content-type-options", b"nosniff")
_RESEARCHER_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)
#: Routes that take a file upload (a Prolific export) and get the larger body limit.
UPLOAD_PATHS = re.compile(r"^/(api|admin)/studies/[0-9]{1,12}/prolific$")


def _with_headers(message: Message, researcher: bool) -> Message:
    headers = list(message.get("headers", []))
    names = {name.lower() for name, _ in headers}
    headers.append(_NOSNIFF)
    if researcher:
        headers.extend(_RESEARCHER_HEADERS)
        if b"cache-control" not in names:
            headers.append((b"cache-control", b"no-store"))
    return {**message, "headers": headers}


class GuardMiddleware:
    """ASGI middleware: rate limit, body size limit, security headers, a query-free access log.

    ``error_page(request, status, message, headers)`` builds the error
    responses (in the worker's language on worker pages).
    """

    def __init__(self, app: ASGIApp, limiter: TokenBucketLimiter, max_body_bytes: int,
                 error_page, max_upload_bytes: int | None = None):
        self.app = app
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max(max_upload_bytes or 0, max_body_bytes)
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_seen = [0]
        researcher = scope["path"].startswith(("/api/", "/admin"))

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen[0] = message["status"]
                message = _with_headers(message, researcher)
            await send(message)

        try:
            await self._guarded(scope, receive, send_logged)
        finally:
            access_log.info("%s %s %d %.1fms", scope["method"], scope["path"], status_seen[0],
                            1000 * (time.perf_counter() - start))

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path.startswith("/static/") or path in ("/favicon.ico", "/healthz"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        wait = self.limiter.wait(ip)
        if wait > 0:
            await self._error(scope, receive, send, 429,
                              "too many requests; wait a moment and retry",
                              {"retry-after": str(max(1, math.ceil(wait)))})
            return
        if scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if UPLOAD_PATHS.match(path) else self.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await self._error(scope, receive, send, 400, "bad Content-Length header")
                return
            if too_big:
                await self._too_big(scope, receive, send, limit)
                return
        # Buffer the body (it is small) so a lying or absent Content-Length is caught too.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_big(scope, receive, send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _error(self, scope: Scope, receive: Receive, send: Send, status: int,
                     message: str, headers: dict[str, str] | None = None) -> None:
        response = self.error_page(Request(scope), status, message, headers)
        await response(scope, receive, send)

    async def _too_big(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await self._error(scope, receive, send, 413,
                          f"request body too large (limit {limit} bytes)")
