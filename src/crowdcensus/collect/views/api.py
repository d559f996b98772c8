"""Researcher JSON API (bearer token): studies, waves, schedules, kits, exports,
Prolific verification, data requests.

Every route needs ``Authorization: Bearer <token>`` with the service's admin
token (``CROWDCENSUS_ADMIN_TOKEN`` or ``--admin-token``); read-only routes
also accept the admin pages' session cookie. Without a configured token the
API answers 503 to everything. An id in a URL that cannot exist (not a
number, or out of the database's range) is a 404, like an unknown one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from crowdcensus.collect.identity import worker_hash
from crowdcensus.collect.inputs import MAX_ID, no_control
from crowdcensus.collect.kits import kit_warnings, platform_link, posting_kit, worker_link
from crowdcensus.collect.models import PLATFORMS, Study, Wave
from crowdcensus.collect.questionnaire import QUESTIONNAIRE_VERSION
from crowdcensus.collect.sessions import require_admin, require_reader
from crowdcensus.collect.store import OccasionTakenError, iso, occasion_of
from crowdcensus.errors import InputError

router = APIRouter(prefix="/api")
Platform = Literal["mturk", "prolific", "clickworker", "generic"]
Format = Literal["csv", "parquet", "json"]
StudyId = Annotated[int, Path(ge=1, le=MAX_ID)]
WaveId = Annotated[int, Path(ge=1, le=MAX_ID)]
Text = Annotated[str, AfterValidator(no_control)]
ResearcherName = Annotated[Text, Field(min_length=2, max_length=200)]
Contact = Annotated[Text, Field(min_length=3, max_length=200,
                                description="an e-mail address or a web page for questions")]


#: Years a wave's dates may fall in (year 1 with an offset, or 9999 plus a schedule's
#: waves, overflowed Python's dates into a 500).
FIRST_YEAR, LAST_YEAR = 2000, 2999


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("give a timezone, e.g. 2026-12-01T09:00:00Z")
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"give a date between the years {FIRST_YEAR} and {LAST_YEAR}")
    return value.astimezone(UTC)  # SQLite keeps no offset: store UTC everywhere


class StudyIn(BaseModel):
    """A new study."""

    model_config = ConfigDict(extra="forbid")
    title: Text = Field(min_length=1, max_length=200)
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")
    languages: list[Literal["en", "fr"]] = Field(default=["en"], min_length=1, max_length=2)
    questionnaire_version: Literal["1"] = QUESTIONNAIRE_VERSION
    researcher_name: ResearcherName | None = None
    researcher_contact: Contact | None = None


class StudyPatch(BaseModel):
    """Changes to a study (title, languages, researcher's name and contact)."""

    model_config = ConfigDict(extra="forbid")
    title: Text | None = Field(default=None, min_length=1, max_length=200)
    languages: list[Literal["en", "fr"]] | None = Field(default=None, min_length=1,
                                                        max_length=2)
    researcher_name: ResearcherName | None = None
    researcher_contact: Contact | None = None


class WaveIn(BaseModel):
    """A new wave of a study."""

    model_config = ConfigDict(extra="forbid")
    platform: Platform
    label: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
    occasion: str | None = Field(
        default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$",
        description="waves posted at the same time on several platforms share an occasion, "
                    "which the exports give as their wave (default: the wave's label)")
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    reward_cents: int = Field(default=0, ge=0, le=100_000)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    target_responses: int = Field(default=100, ge=1, le=1_000_000)

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @model_validator(mode="after")
    def _window(self) -> WaveIn:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        return self


class ScheduleIn(BaseModel):
    """Recurring waves: one on ``platform`` every ``every_days`` days until ``until``."""

    model_config = ConfigDict(extra="forbid")
    platform: Platform
    label_prefix: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,29}$")
    occasion_prefix: str | None = Field(
        default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,29}$",
        description="the waves' occasions are prefix01, prefix02…: give another platform's "
                    "schedule of the same days the same prefix (default: the labels)")
    every_days: int = Field(ge=1, le=366)
    first_opens_at: datetime
    until: datetime
    duration_days: float | None = Field(default=None, gt=0, le=366,
                                        description="default: every_days, at most 7")
    reward_cents: int = Field(default=0, ge=0, le=100_000)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    target_responses: int = Field(default=100, ge=1, le=1_000_000)

    @field_validator("first_opens_at", "until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _duration(self) -> ScheduleIn:
        if self.duration_days is None:
            self.duration_days = float(min(self.every_days, 7))
        return self


class WorkerRequest(BaseModel):
    """A worker's data request, by platform ID (hashed on the fly, never stored)."""

    model_config = ConfigDict(extra="forbid")
    platform: Platform
    worker_id: Text = Field(min_length=1, max_length=128)


def base_url(request: Request) -> str:
    """Public base URL for links: the configured one, else this request's."""
    configured = request.app.state.settings.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def wave_json(request: Request, wave: Wave, n_responses: int | None = None) -> dict:
    """A wave as the API shows it."""
    base = base_url(request)
    out = {
        "id": wave.id, "study_id": wave.study_id, "label": wave.label,
        "occasion": occasion_of(wave.label, wave.occasion), "platform": wave.platform,
        "opens_at": iso(wave.opens_at),
        "closes_at": iso(wave.closes_at),
        "reward_cents": wave.reward_cents, "currency": wave.currency,
        "target_responses": wave.target_responses,
        "platform_completion_code": wave.platform_completion_code,
        "worker_link": worker_link(base, wave),
        "platform_link": platform_link(base, wave),
        "kit_url": f"{base}/api/waves/{wave.id}/kit",
        "schedule_id": wave.schedule_id,
        "warnings": kit_warnings(base, wave),
    }
    if n_responses is not None:
        out["n_responses"] = n_responses
    return out


def study_json(request: Request, study: Study, counts: dict[int, int],
               schedules: list[dict] | None = None) -> dict:
    """A study with its waves (and its recurring schedules, when given)."""
    out = {
        "id": study.id, "title": study.title, "country": study.country,
        "languages": study.languages.split(","),
        "questionnaire_version": study.questionnaire_version,
        "researcher_name": study.researcher_name,
        "researcher_contact": study.researcher_contact,
        "created_at": iso(study.created_at),
        "waves": [wave_json(request, w, counts.get(w.id, 0)) for w in study.waves],
    }
    if schedules is not None:
        out["schedules"] = [schedule_json(s) for s in schedules]
    return out


def schedule_json(row: dict) -> dict:
    """A recurring schedule as the API shows it."""
    return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in row.items()}


def researcher_missing(study: Study) -> str | None:
    """Why the study cannot open a wave yet (no researcher name or contact), or None."""
    if study.researcher_name and study.researcher_contact:
        return None
    return (f"before its first wave, study {study.id} needs researcher_name and "
            "researcher_contact (workers see them on the consent page); set them with "
            f"PATCH /api/studies/{study.id}")


async def study_or_404(request: Request, study_id: int) -> Study:
    study = await run_in_threadpool(request.app.state.store.study, study_id)
    if study is None:
        raise HTTPException(404, f"no study {study_id}")
    return study


def study_values(body: StudyIn) -> dict:
    """The columns of a new study."""
    values = body.model_dump()
    values["languages"] = list(dict.fromkeys(body.languages))  # the first is the default
    values["country"] = body.country.upper()
    return values


@router.post("/studies", status_code=201, dependencies=[Depends(require_admin)])
async def create_study(request: Request, body: StudyIn) -> dict:
    """Create a study."""
    sid = await run_in_threadpool(request.app.state.store.create_study, study_values(body))
    return study_json(request, await study_or_404(request, sid), {}, [])


@router.patch("/studies/{study_id}", dependencies=[Depends(require_admin)])
async def update_study(request: Request, study_id: StudyId, body: StudyPatch) -> dict:
    """Change a study's title, languages, researcher name or contact."""
    values = body.model_dump(exclude_unset=True, exclude_none=True)
    if "languages" in values:
        values["languages"] = list(dict.fromkeys(values["languages"]))
    await study_or_404(request, study_id)
    if values:
        await run_in_threadpool(request.app.state.store.update_study, study_id, values)
    return await get_study(request, study_id)


@router.get("/studies", dependencies=[Depends(require_reader)])
async def list_studies(request: Request) -> list[dict]:
    """Every study with its numbers of waves and responses."""
    rows = await run_in_threadpool(request.app.state.store.list_studies)
    return [{"id": r["id"], "title": r["title"], "country": r["country"],
             "n_waves": r["n_waves"], "n_responses": r["n_responses"]} for r in rows]


@router.get("/studies/{study_id}", dependencies=[Depends(require_reader)])
async def get_study(request: Request, study_id: StudyId) -> dict:
    """A study, its waves and their links, and its recurring schedules."""
    study = await study_or_404(request, study_id)
    store = request.app.state.store
    counts = await run_in_threadpool(store.response_counts, study_id)
    schedules = await run_in_threadpool(store.schedules, study_id)
    return study_json(request, study, counts, schedules)


async def _study_ready(request: Request, study_id: int) -> Study:
    study = await study_or_404(request, study_id)
    missing = researcher_missing(study)
    if missing:
        raise HTTPException(409, missing)
    return study


@router.post("/studies/{study_id}/waves", status_code=201, dependencies=[Depends(require_admin)])
async def create_wave(request: Request, study_id: StudyId, body: WaveIn) -> dict:
    """Create a wave (one posting on one platform) of a study."""
    await _study_ready(request, study_id)
    store = request.app.state.store
    try:
        wid = await run_in_threadpool(store.create_wave, study_id, body.model_dump())
    except IntegrityError:
        raise HTTPException(409, f"the study already has a wave labelled {body.label!r}") \
            from None
    except OccasionTakenError as exc:
        raise HTTPException(409, str(exc)) from None
    return wave_json(request, await run_in_threadpool(store.wave, wid), 0)


def make_schedule(body: ScheduleIn) -> tuple[dict, list[dict]]:
    """The schedule's row and its waves' rows (raises InputError on a bad schedule)."""
    from crowdcensus.collect.schedules import schedule_waves

    plan = schedule_waves(body.label_prefix, body.first_opens_at, body.until,
                          body.every_days, float(body.duration_days or 0))
    common = {"platform": body.platform, "reward_cents": body.reward_cents,
              "currency": body.currency, "target_responses": body.target_responses}
    schedule = {**common, "label_prefix": body.label_prefix,
                "occasion_prefix": body.occasion_prefix, "every_days": body.every_days,
                "duration_days": float(body.duration_days or 0),
                "first_opens_at": body.first_opens_at, "until": body.until}
    if body.occasion_prefix:  # the labels' numbers, after the occasions' prefix
        for wave in plan:
            wave["occasion"] = body.occasion_prefix + wave["label"][len(body.label_prefix):]
    return schedule, [{**common, **wave} for wave in plan]


@router.post("/studies/{study_id}/schedules", status_code=201,
             dependencies=[Depends(require_admin)])
async def create_schedule(request: Request, study_id: StudyId, body: ScheduleIn) -> dict:
    """Schedule recurring waves: one every ``every_days`` days until ``until``."""
    await _study_ready(request, study_id)
    try:
        schedule, rows = make_schedule(body)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    store = request.app.state.store
    try:
        sid = await run_in_threadpool(store.create_schedule, study_id, schedule, rows)
    except IntegrityError:
        raise HTTPException(409, f"a wave label {body.label_prefix}NN is already taken in "
                                 "this study; choose another label_prefix") from None
    except OccasionTakenError as exc:
        raise HTTPException(409, f"{exc}; choose another label_prefix") from None
    study = await study_or_404(request, study_id)
    mine = [w for w in study.waves if w.schedule_id == sid]
    row = next(s for s in await run_in_threadpool(store.schedules, study_id) if s["id"] == sid)
    return {**schedule_json(row), "waves": [wave_json(request, w, 0) for w in mine]}


async def _wave_or_404(request: Request, wave_id: int) -> Wave:
    wave = await run_in_threadpool(request.app.state.store.wave, wave_id)
    if wave is None:
        raise HTTPException(404, f"no wave {wave_id}")
    return wave


@router.get("/waves/{wave_id}", dependencies=[Depends(require_reader)])
async def get_wave(request: Request, wave_id: WaveId) -> dict:
    """One wave with its links."""
    wave = await _wave_or_404(request, wave_id)
    counts = await run_in_threadpool(request.app.state.store.response_counts, wave.study_id)
    return wave_json(request, wave, counts.get(wave.id, 0))


@router.get("/waves/{wave_id}/kit", dependencies=[Depends(require_reader)])
async def get_kit(request: Request, wave_id: WaveId) -> dict:
    """The posting kit of a wave for its platform."""
    wave = await _wave_or_404(request, wave_id)
    return posting_kit(base_url(request), wave.study, wave)


def _download(data: bytes, fmt: str, name: str, media_type: str | None = None) -> Response:
    from crowdcensus.collect import exports

    return Response(data, media_type=media_type or exports.FORMATS[fmt],
                    headers={"content-disposition": f'attachment; filename="{name}.{fmt}"',
                             "cache-control": "no-store"})


async def _off_loop(build, refused: int = 409):
    """Run ``build`` off the event loop: an unknown study is a 404, an :class:`InputError`
    ``refused`` (409: an export the study's data cannot make yet; 422: a bad upload)."""
    try:
        return await run_in_threadpool(build)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except InputError as exc:
        raise HTTPException(refused, str(exc)) from None


@router.get("/studies/{study_id}/responses", dependencies=[Depends(require_reader)])
async def export_responses(request: Request, study_id: StudyId, format: Format = "csv",
                           wave: Text | None = Query(None, max_length=40),
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
async def export_histories(request: Request, study_id: StudyId, format: Format = "csv",
                           platform: Platform | None = None) -> Response:
    """Capture histories (one 0/1 column per opened wave + ``freq``) for ``estimate``."""
    now = request.app.state.clock.now()

    def build() -> bytes:
        from crowdcensus.collect import exports

        with request.app.state.engine.connect() as conn:
            frame = exports.histories_frame(conn, study_id, platform, opened_by=now)
        return exports.serialise(frame, format)

    data = await _off_loop(build)
    suffix = f"-{platform}" if platform else ""
    return _download(data, format, f"study{study_id}-histories{suffix}")


@router.get("/studies/{study_id}/schedule", dependencies=[Depends(require_reader)])
async def export_schedule(request: Request, study_id: StudyId,
                          platform: Platform | None = None,
                          reference_start: date | None = None,
                          reference_days: float = Query(364, ge=1, le=100_000)) -> Response:
    """The study file's ``[experiment.schedule]`` (TOML) from the waves' times and platforms
    (``crowdcensus export --kind schedule``)."""

    def build() -> str:
        from crowdcensus.collect import exports

        with request.app.state.engine.connect() as conn:
            start = (None if reference_start is None else
                     datetime.combine(reference_start, datetime.min.time(), UTC))
            return exports.schedule_toml(conn, study_id, start, reference_days, platform)

    text = await _off_loop(build)
    suffix = f"-{platform}" if platform else ""
    return _download(text.encode(), "toml", f"study{study_id}-schedule{suffix}",
                     "application/toml; charset=utf-8")


async def _upload(request: Request) -> bytes:
    """The uploaded file: a multipart field ``file``, or the raw body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=8)
        except Exception:
            raise HTTPException(400, "malformed upload: send the CSV as the field 'file'") \
                from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "no file: send the CSV as the field 'file'")
        return await upload.read()
    return await request.body()


async def check_prolific(request: Request, study_id: int, data: bytes,
                         wave: str | None) -> dict:
    """Run the Prolific verification; HTTP errors for a bad file or a wrong wave."""
    from crowdcensus.collect import verify

    await study_or_404(request, study_id)
    engine = request.app.state.engine
    secret = request.app.state.settings.secret

    def work() -> dict:
        rows = verify.read_submissions(data)
        chosen = verify.prolific_waves(engine, study_id, wave)
        checked = verify.verify_submissions(engine, secret, [w[0] for w in chosen], rows)
        return {"study_id": study_id, "waves": [w[1] for w in chosen],
                "counts": verify.summary(checked), "submissions": checked}

    return await _off_loop(work, refused=422)


@router.post("/studies/{study_id}/prolific", dependencies=[Depends(require_admin)])
async def verify_prolific(request: Request, study_id: StudyId,
                          wave: Text | None = Query(None, max_length=40),
                          format: Literal["json", "csv"] = "json") -> Response:
    """Check Prolific's submissions export: completed / duplicate / not found per submission."""
    result = await check_prolific(request, study_id, await _upload(request), wave)
    if format == "csv":
        import pandas as pd

        frame = pd.DataFrame(result["submissions"],
                             columns=["submission_id", "participant_id", "status"])
        return _download(frame.to_csv(index=False).encode(), "csv",
                         f"study{study_id}-prolific-check")
    return JSONResponse(result, headers={"cache-control": "no-store"})


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
