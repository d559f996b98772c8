"""Configuration of the collection service.

The identity secret is the key of the HMAC that replaces raw platform worker
IDs. It lives outside the database -- in the ``CROWDCENSUS_SECRET`` environment
variable or in a file given with ``--secret-file`` -- so that a copy of the
database alone cannot be used to test guesses of worker IDs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from crowdcensus.errors import InputError

SECRET_ENV = "CROWDCENSUS_SECRET"
ADMIN_TOKEN_ENV = "CROWDCENSUS_ADMIN_TOKEN"
DB_ENV = "CROWDCENSUS_DB"
DEFAULT_DB = "sqlite:///crowdcensus.db"
MIN_SECRET_BYTES = 16
MTURK_ORIGINS = ("https://www.mturk.com", "https://workersandbox.mturk.com")


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to run.

    Parameters
    ----------
    db_url : str
        SQLAlchemy URL: ``sqlite:///path.db`` (WAL mode) or
        ``postgresql+psycopg://user@host:port/dbname``.
    secret : bytes
        HMAC key for worker identities and signed tokens (at least 16 bytes).
    admin_token : str or None
        Bearer token of the researcher API; without one the API refuses everything.
    public_url : str or None
        Base URL that workers reach (used in posting kits); by default the URL
        of the request.
    rate_limit : float
        Sustained requests per second allowed per client IP on worker forms
        and the API (0 disables the limit).
    rate_burst : int
        Size of each IP's token bucket.
    max_body_bytes : int
        Largest request body accepted (413 above).
    secure_cookies : bool
        Mark cookies ``Secure; SameSite=None; Partitioned`` so they work inside
        the MTurk iframe over HTTPS. Off for plain-HTTP local runs.
    turk_submit_origins : tuple of str
        Origins accepted in MTurk's ``turkSubmitTo`` (where the completion form
        posts): production and sandbox by default.
    api_docs : bool
        Serve the interactive API schema at ``/api/docs`` and
        ``/api/openapi.json`` (behind the admin token). Off by default.
    max_upload_bytes : int
        Largest upload (a Prolific submissions export) accepted by the
        verification routes.
    census : bool
        Compute the live census (estimates and plots) in a helper process
        when a wave closes or on demand. Off, the census pages show counts only.
    """

    db_url: str
    secret: bytes = field(repr=False)
    admin_token: str | None = field(default=None, repr=False)
    public_url: str | None = None
    rate_limit: float = 20.0
    rate_burst: int = 60
    max_body_bytes: int = 64 * 1024
    secure_cookies: bool = False
    turk_submit_origins: tuple[str, ...] = MTURK_ORIGINS
    api_docs: bool = False
    max_upload_bytes: int = 5 * 1024 * 1024
    census: bool = True

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_BYTES:
            raise InputError(
                f"the identity secret is too short ({len(self.secret)} bytes); "
                f"use at least {MIN_SECRET_BYTES} random bytes"
            )
        if self.admin_token is not None and len(self.admin_token) < 8:
            raise InputError("the admin token is too short; use at least 8 characters")
        if self.rate_limit < 0 or self.rate_burst < 1:
            raise InputError("--rate-limit must be >= 0 and --rate-burst >= 1")
        if self.max_body_bytes < 1024:
            raise InputError("--max-body must be at least 1024 bytes")
        if self.max_upload_bytes < 1024:
            raise InputError("--max-upload must be at least 1024 bytes")


def load_secret(secret_file: str | Path | None = None) -> bytes:
    """Read the identity secret from ``secret_file`` or ``$CROWDCENSUS_SECRET``.

    Raises
    ------
    InputError
        When neither is set, the file is missing or the secret is too short.
    """
    if secret_file is not None:
        path = Path(secret_file)
        try:
            value = path.read_bytes().strip()
        except OSError as exc:
            raise InputError(f"cannot read the secret file {path}: {exc.strerror}") from None
        if not value:
            raise InputError(f"the secret file {path} is empty")
        return value
    env = os.environ.get(SECRET_ENV, "").strip()
    if not env:
        raise InputError(
            f"no identity secret: set {SECRET_ENV} or pass --secret-file PATH "
            "(a file outside the database holding at least 16 random bytes; "
            "e.g. `python -c 'import secrets; print(secrets.token_hex(32))' > secret`)"
        )
    return env.encode()


def load_admin_token(option: str | None = None) -> str | None:
    """The researcher API token: the option if given, else ``$CROWDCENSUS_ADMIN_TOKEN``."""
    token = option if option is not None else os.environ.get(ADMIN_TOKEN_ENV)
    token = token.strip() if token else None
    return token or None
