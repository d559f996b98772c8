"""Pseudonymous worker identities, completion codes and signed tokens.

A raw platform ID never reaches the database, a log or an export. It is
replaced, as soon as it arrives, by

    worker_hash = HMAC-SHA256(secret, len(platform) ":" platform ":" raw_id)

(hex, 64 characters). The same worker on the same platform always gets the
same hash -- which is what recognises a recapture across waves -- while
nobody without the secret can link a hash to an ID.

IDs are compared the way the platform compares them: Mechanical Turk worker
IDs (upper-case letters and digits) and Prolific participant IDs (24
hexadecimal digits) do not depend on case, so a typed ``a1b2c3`` and the
platform's ``A1B2C3`` are one worker (:func:`normalise_id`). Other platforms'
IDs are kept as given (only surrounding spaces are dropped).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

# Unambiguous alphabet for codes people copy by hand (no 0/O, 1/I/L).
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


#: Platforms whose worker IDs do not depend on case, and the case they are stored in.
CASE_INSENSITIVE = {"mturk": str.upper, "prolific": str.lower}


def normalise_id(platform: str, raw_id: str) -> str:
    """The platform's canonical spelling of a worker ID (see the module docstring)."""
    raw_id = raw_id.strip()
    fold = CASE_INSENSITIVE.get(platform)
    return fold(raw_id) if fold else raw_id


def worker_hash(secret: bytes, platform: str, raw_id: str) -> str:
    """HMAC-SHA256 of ``(platform, normalised raw_id)`` keyed with ``secret``, as hex."""
    message = f"{len(platform)}:{platform}:{normalise_id(platform, raw_id)}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def new_completion_code(length: int = 10) -> str:
    """A random completion code (about 5 bits per character)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def new_public_id() -> str:
    """An unguessable identifier for URLs (waves)."""
    return secrets.token_urlsafe(9)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, purpose: str, payload: dict[str, Any]) -> str:
    """Serialise ``payload`` with an HMAC so the browser can carry it unchanged.

    The token is signed, not encrypted: put in it only what the browser already
    knows or what is not secret (never a raw worker ID).
    """
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest()[:18]
    return f"{body}.{_b64(mac)}"


def unsign(secret: bytes, purpose: str, token: str, max_age: float | None = None) -> dict | None:
    """The payload of a token made by :func:`sign`, or None if forged or expired."""
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 4096:
        return None
    body, mac = token.split(".")
    expected = hmac.new(secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest()[:18]
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    if max_age is not None and time.time() - float(payload.get("iat", 0)) > max_age:
        return None
    return payload
