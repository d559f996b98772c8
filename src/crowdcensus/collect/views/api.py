"""Researcher JSON API (bearer token): studies, waves, kits, exports, data requests.

Every route needs ``Authorization: Bearer <token>`` with the service's admin
token (``CROWDCENSUS_ADMIN_TOKEN`` or ``--admin-token``); read-only routes
also accept the admin pages' session cookie. Without a configured token the
API answers 503 to everything.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from crowdcensus.collect.identity import worker_hash
from crowdcensus.collect.kits import platform_link, posting_kit, worker_link
from crowdcensus.collect.models import PLATFORMS, Study, Wave
from crowdcensus.collect.questionnaire import QUESTIONNAIRE_VERSION
from crowdcensus.collect.store import iso
from crowdcensus.errors import InputError

ADMIN_COOKIE = "crowdcensus_admin"


def admin_cookie_value(secret: bytes, token: str) -> str:
    """The admin session cookie: an HMAC of the token (the token itself never sits in it)."""
    return hmac.new(secret, b"admin-session:" + token.encode(), "sha256").hexdigest()


def _check_token(request: Request, allow_cookie: bool) -> None:
    settings = request.app.state.settings
    expected = settings.admin_token
    if not expected:
        raise HTTPException(503, "the researcher API is disabled: start the service with "
                                 "CROWDCENSUS_ADMIN_TOKEN or --admin-token")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and given and hmac.compare_digest(
            given.strip().encode(), expected.encode()):
        return
    cookie = request.cookies.get(ADMIN_COOKIE)
    if allow_cookie and cookie and hmac.compare_digest(
            cookie, admin_cookie_value(settings.secret, expected)):
        return
    raise HTTPException(401, "missing or wrong admin token",
                        headers={"www-authenticate": "Bearer"})


def require_admin(request: Request) -> None:
    """Dependency: a valid bearer token."""
    _check_token(request, allow_cookie=False)


def require_reader(request: Request) -> None:
    """Dependency: a valid bearer token or admin session cookie (GET routes)."""
    _check_token(request, allow_cookie=True)


router = APIRouter(prefix="/api")
Platform = Literal["mturk", "prolific", "clickworker", "generic"]
Format = Literal["csv", "parquet", "json"]


class StudyIn(BaseModel):
    """A new study."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")
    languages: list[Literal["en", "fr"]] = Field(default=["en"], min_length=1, max_length=2)
    questionnaire_version: Literal["1"] = QUESTIONNAIRE_VERSION


class WaveIn(BaseModel):
    """A new wave of a study."""

    model_config = ConfigDict(extra="forbid")
    platform: Platform
    label: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    reward_cents: int = Field(default=0, ge=0, le=100_000)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    target_responses: int = Field(default=100, ge=1, le=1_000_000)

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("give a timezone, e.g. 2026-12-01T09:00:00Z")
        return value.astimezone(UTC)  # SQLite keeps no offset: store UTC everywhere

    @model_validator(mode="after")
    def _window(self) -> WaveIn:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        return self


class WorkerRequest(BaseModel):
    """A worker's data request, by platform ID (hashed on the fly, never stored)."""

    model_config = ConfigDict(extra="forbid")
    platform: Platform
    worker_id: str = Field(min_length=1, max_length=128)


def base_url(request: Request) -> str:
    """Public base URL for links: the configured one, else this request's."""
    configured = request.app.state.settings.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def wave_json(request: Request, wave: Wave, n_responses: int | None = None) -> dict:
    """A wave as the API shows it."""
    base = base_url(request)
    out = {
        "id": wave.id, "study_id": wave.study_id, "label": wave.label,
        "platform": wave.platform,
        "opens_at": iso(wave.opens_at),
        "closes_at": iso(wave.closes_at),
        "reward_cents": wave.reward_cents, "currency": wave.currency,
        "target_responses": wave.target_responses,
        "platform_completion_code": wave.platform_completion_code,
        "worker_link": worker_link(base, wave),
        "platform_link": platform_link(base, wave),
        "kit_url": f"{base}/api/waves/{wave.id}/kit",
    }
    if n_responses is not None:
        out["n_responses"] = n_responses
    return out


def study_json(request: Request, study: Study, counts: dict[int, int]) -> dict:
    """A study with its waves."""
    return {
        "id": study.id, "title": study.title, "country": study.country,
        "languages": study.languages.split(","),
        "questionnaire_version": study.questionnaire_version,
        "created_at": iso(study.created_at),
        "waves": [wave_json(request, w, counts.get(w.id, 0)) for w in study.waves],
    }


async def _study_or_404(request: Request, study_id: int) -> Study:
    study = await run_in_threadpool(request.app.state.store.study, study_id)
    if study is None:
        raise HTTPException(404, f"no study {study_id}")
    return study


@router.post("/studies", status_code=201, dependencies=[Depends(require_admin)])
async def create_study(request: Request, body: StudyIn) -> dict:
    """Create a study."""
    langs = list(dict.fromkeys(body.languages))  # the first is the default
    sid = await run_in_threadpool(request.app.state.store.create_study, body.title,
                                  body.country.upper(), langs, body.questionnaire_version)
    return study_json(request, await _study_or_404(request, sid), {})


@router.get("/studies", dependencies=[Depends(require_reader)])
async def list_studies(request: Request) -> list[dict]:
    """Every study with its numbers of waves and responses."""
    rows = await run_in_threadpool(request.app.state.store.list_studies)
    return [{"id": r["id"], "title": r["title"], "country": r["country"],
             "n_waves": r["n_waves"], "n_responses": r["n_responses"]} for r in rows]


@router.get("/studies/{study_id}", dependencies=[Depends(require_reader)])
async def get_study(request: Request, study_id: int) -> dict:
    """A study, its waves and their links."""
    study = await _study_or_404(request, study_id)
    counts = await run_in_threadpool(request.app.state.store.response_counts, study_id)
    return study_json(request, study, counts)


@router.post("/studies/{study_id}/waves", status_code=201, dependencies=[Depends(require_admin)])
async def create_wave(request: Request, study_id: int, body: WaveIn) -> dict:
    """Create a wave (one posting on one platform) of a study."""
    await _study_or_404(request, study_id)
    store = request.app.state.store
    try:
        wid = await run_in_threadpool(store.create_wave, study_id, body.model_dump())
    except IntegrityError:
        raise HTTPException(409, f"the study already has a wave labelled {body.label!r}") \
            from None
    return wave_json(request, await run_in_threadpool(store.wave, wid), 0)


async def _wave_or_404(request: Request, wave_id: int) -> Wave:
    wave = await run_in_threadpool(request.app.state.store.wave, wave_id)
    if wave is None:
        raise HTTPException(404, f"no wave {wave_id}")
    return wave


@router.get("/waves/{wave_id}", dependencies=[Depends(require_reader)])
async def get_wave(request: Request, wave_id: int) -> dict:
    """One wave with its links."""
    wave = await _wave_or_404(request, wave_id)
    counts = await run_in_threadpool(request.app.state.store.response_counts, wave.study_id)
    return wave_json(request, wave, counts.get(wave.id, 0))


@router.get("/waves/{wave_id}/kit", dependencies=[Depends(require_reader)])
async def get_kit(request: Request, wave_id: int) -> dict:
    """The posting kit of a wave for its platform."""
    wave = await _wave_or_404(request, wave_id)
    return posting_kit(base_url(request), wave.study, wave)


def _download(data: bytes, fmt: str, name: str) -> Response:
    from crowdcensus.collect import exports

    return Response(data, media_type=exports.FORMATS[fmt],
                    headers={"content-disposition": f'attachment; filename="{name}.{fmt}"'})


@router.get("/studies/{study_id}/responses", dependencies=[Depends(require_reader)])
async def export_responses(request: Request, study_id: int, format: Format = "csv",
                           wave: str | None = Query(None, max_length=40),
                           platform: Platform | None = None) -> Response:
    """Responses of a study (pseudonymised), as CSV, Parquet or JSON."""
    settings = request.app.state.settings

    def build() -> bytes:
        from crowdcensus.collect import exports

        with request.app.state.engine.connect() as conn:
            frame = exports.responses_frame(conn, settings.secret, study_id, wave, platform)
        return exports.serialise(frame, format)

    try:
        data = await run_in_threadpool(build)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    return _download(data, format, f"study{study_id}-responses")


@router.get("/studies/{study_id}/histories", dependencies=[Depends(require_reader)])
async def export_histories(request: Request, study_id: int, format: Format = "csv",
                           platform: Platform | None = None) -> Response:
    """Capture histories (one 0/1 column per wave + ``freq``) for ``crowdcensus estimate``."""

    def build() -> bytes:
        from crowdcensus.collect import exports

        with request.app.state.engine.connect() as conn:
            frame = exports.histories_frame(conn, study_id, platform)
        return exports.serialise(frame, format)

    try:
        data = await run_in_threadpool(build)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except InputError as exc:
        raise HTTPException(409, str(exc)) from None
    suffix = f"-{platform}" if platform else ""
    return _download(data, format, f"study{study_id}-histories{suffix}")


@router.post("/workers/export", dependencies=[Depends(require_admin)])
async def worker_export(request: Request, body: WorkerRequest) -> dict:
    """Everything stored about one worker (a data-access request)."""
    hashed = worker_hash(request.app.state.settings.secret, body.platform, body.worker_id)
    rows = await run_in_threadpool(request.app.state.store.worker_responses, hashed)
    for row in rows:
        row["submitted_at"] = iso(row["submitted_at"])
    return {"platform": body.platform, "responses": rows}


@router.post("/workers/delete", dependencies=[Depends(require_admin)])
async def worker_delete(request: Request, body: WorkerRequest) -> dict:
    """Delete everything stored about one worker (an erasure request)."""
    hashed = worker_hash(request.app.state.settings.secret, body.platform, body.worker_id)
    n = await run_in_threadpool(request.app.state.store.delete_worker, hashed)
    return {"platform": body.platform, "deleted": n}


__all__ = ["router", "PLATFORMS"]
