"""Database operations of the service (SQLAlchemy Core on a shared engine)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError

from crowdcensus.collect.clock import SystemClock
from crowdcensus.collect.identity import new_completion_code, new_public_id
from crowdcensus.collect.models import (
    WAVE_OCCASION_INDEX,
    Study,
    Wave,
    responses,
    studies,
    wave_occasion,
    wave_schedules,
    waves,
)
from crowdcensus.collect.writer import ResponseWriter
from crowdcensus.errors import InputError


class OccasionTakenError(InputError):
    """A wave would be the second of its occasion on one platform (a worker could answer
    both, and the export would hold two answers of theirs in one wave)."""


def occasion_of(label: str, occasion: str | None) -> str:
    """The occasion a wave belongs to: its own, or its label when it has none."""
    return occasion or label


@dataclass(frozen=True)
class WaveInfo:
    """What a worker page needs to know about a wave (cached briefly)."""

    id: int
    public_id: str
    study_id: int
    label: str
    platform: str
    opens_at: datetime | None
    closes_at: datetime | None
    platform_completion_code: str
    languages: tuple[str, ...]
    study_title: str
    target_responses: int = 0
    researcher_name: str | None = None
    researcher_contact: str | None = None

    def is_open(self, now: datetime, grace_seconds: float = 0.0) -> bool:
        """Whether ``now`` lies in the wave's window (closing extended by a grace)."""
        if self.opens_at is not None and now < aware(self.opens_at):
            return False
        return not (self.closes_at is not None
                    and (now - aware(self.closes_at)).total_seconds() > grace_seconds)


def aware(value: datetime) -> datetime:
    """``value`` with its timezone (SQLite returns naive datetimes; all are stored in UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text in UTC, or None."""
    return aware(value).astimezone(UTC).isoformat() if value is not None else None


class Store:
    """Reads and writes of studies, waves and responses."""

    def __init__(self, engine: Engine, cache_seconds: float = 5.0, clock=None):
        self.engine = engine
        self.cache_seconds = cache_seconds
        self.clock = clock or SystemClock()
        self._wave_cache: dict[str, tuple[float, WaveInfo | None]] = {}
        self._counts: dict[int, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self.writer = ResponseWriter(engine)

    # ---------------------------------------------------------------- waves
    def cached_wave(self, public_id: str) -> tuple[bool, WaveInfo | None]:
        """``(found_in_cache, wave)`` without touching the database."""
        cached = self._wave_cache.get(public_id)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return True, cached[1]
        return False, None

    def wave_by_public_id(self, public_id: str) -> WaveInfo | None:
        """The wave behind a worker link, or None."""
        hit, info = self.cached_wave(public_id)
        if hit:
            return info
        now = time.monotonic()
        query = (select(waves, studies.c.languages, studies.c.title,
                        studies.c.researcher_name, studies.c.researcher_contact)
                 .join(studies, studies.c.id == waves.c.study_id)
                 .where(waves.c.public_id == public_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        info = None
        if row is not None:
            info = WaveInfo(row["id"], row["public_id"], row["study_id"], row["label"],
                            row["platform"], row["opens_at"], row["closes_at"],
                            row["platform_completion_code"],
                            tuple(row["languages"].split(",")), row["title"],
                            row["target_responses"], row["researcher_name"],
                            row["researcher_contact"])
        with self._lock:
            if len(self._wave_cache) > 10_000:
                self._wave_cache.clear()
            self._wave_cache[public_id] = (now, info)
        return info

    def forget_wave(self, public_id: str | None = None) -> None:
        """Drop a wave (or, without ``public_id``, every wave) from the cache after an edit."""
        with self._lock:
            if public_id is None:
                self._wave_cache.clear()
            else:
                self._wave_cache.pop(public_id, None)

    def is_full(self, wave: WaveInfo) -> bool:
        """Whether the wave has reached its target number of responses.

        The count is read from the database at most once a second per wave
        (so several server processes agree within a second) and kept up to
        date in between by this process's own new responses.
        """
        if wave.target_responses <= 0:
            return False
        now = time.monotonic()
        cached = self._counts.get(wave.id)
        if cached is None or now - cached[0] > 1.0:
            with self.engine.connect() as conn:
                n = conn.execute(select(func.count()).select_from(responses).where(
                    responses.c.wave_id == wave.id)).scalar_one()
            with self._lock:
                self._counts[wave.id] = (now, n)
            cached = (now, n)
        return cached[1] >= wave.target_responses

    def counted(self, wave_id: int) -> None:
        """Note one more stored response of ``wave_id`` (keeps :meth:`is_full` current)."""
        with self._lock:
            cached = self._counts.get(wave_id)
            if cached is not None:
                self._counts[wave_id] = (cached[0], cached[1] + 1)

    # ------------------------------------------------------------ responses
    def existing_code(self, wave_id: int, worker_hash: str) -> str | None:
        """The completion code of this worker's response in this wave, if any."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(responses.c.completion_code).where(
                    responses.c.wave_id == wave_id, responses.c.worker_hash == worker_hash)
            ).scalar()

    def save_response(self, wave_id: int, worker_hash: str, language: str,
                      answers: dict) -> Future:
        """Queue a response for the group-commit writer.

        The returned future resolves to ``(completion code, newly stored)`` only
        after the transaction holding the row has committed, so an acknowledged
        response is durable. A second submission of the same worker in the same
        wave stores nothing and resolves to the first code.
        """
        row = {"wave_id": wave_id, "worker_hash": worker_hash,
               "submitted_at": self.clock.now(),
               "language": language, **answers}
        return self.writer.submit(row)

    def close(self) -> None:
        """Stop the writer (after its queued work) and close the engine's connections."""
        self.writer.close()
        self.engine.dispose()

    # ------------------------------------------------------------- research
    def create_study(self, values: dict) -> int:
        """Insert a study (title, country, languages list, questionnaire_version,
        researcher_name, researcher_contact); return its id."""
        row = {**values, "languages": ",".join(values["languages"]),
               "created_at": self.clock.now()}
        with self.engine.begin() as conn:
            return conn.execute(studies.insert().values(**row)).inserted_primary_key[0]

    def update_study(self, study_id: int, values: dict) -> bool:
        """Change some fields of a study; False when there is no such study."""
        if "languages" in values:
            values = {**values, "languages": ",".join(values["languages"])}
        with self.engine.begin() as conn:
            done = conn.execute(studies.update().where(studies.c.id == study_id)
                                .values(**values)).rowcount
        self.forget_wave()  # worker pages show the study's languages and contact
        return done == 1

    def create_wave(self, study_id: int, values: dict) -> int:
        """Insert a wave of a study; return its id. Raises IntegrityError on a duplicate
        label, :class:`OccasionTakenError` when its occasion has a wave on its platform already."""
        with self.engine.begin() as conn:
            return self._insert_wave(conn, study_id, values)

    def _insert_wave(self, conn, study_id: int, values: dict) -> int:
        if values.get("label") is None:
            labels = set(conn.execute(select(waves.c.label).where(
                waves.c.study_id == study_id)).scalars())
            # the next number not already taken as a label ("wave03" given by hand made
            # every later wave without a label a 409, for good)
            n = len(labels)
            while f"wave{n + 1:02d}" in labels:
                n += 1
            values = {**values, "label": f"wave{n + 1:02d}"}  # sorts right as text
        occasion = occasion_of(values["label"], values.get("occasion"))
        taken = conn.execute(select(waves.c.label).where(
            waves.c.study_id == study_id, waves.c.platform == values["platform"],
            wave_occasion == occasion)).first()
        if taken is not None and taken[0] != values["label"]:  # else: a label taken twice
            raise OccasionTakenError(
                f"occasion {occasion!r} already has a wave on {values['platform']} (wave "
                f"{taken[0]!r}): an occasion takes one wave per platform")
        try:
            return conn.execute(waves.insert().values(
                study_id=study_id, public_id=new_public_id(),
                platform_completion_code=new_completion_code(8), created_at=self.clock.now(),
                **values)).inserted_primary_key[0]
        except IntegrityError as exc:
            # another request took the occasion between the check above and this insert
            if taken is None and WAVE_OCCASION_INDEX in str(exc.orig):
                raise OccasionTakenError(
                    f"occasion {occasion!r} already has a wave on {values['platform']} "
                    "(created at the same moment): an occasion takes one wave per "
                    "platform") from None
            raise

    def create_schedule(self, study_id: int, schedule: dict, wave_rows: list[dict]) -> int:
        """Store a recurring schedule and create all its waves in one transaction.

        Raises IntegrityError (nothing created) when a label is already taken.
        """
        with self.engine.begin() as conn:
            sid = conn.execute(wave_schedules.insert().values(
                study_id=study_id, created_at=self.clock.now(), **schedule)
            ).inserted_primary_key[0]
            for row in wave_rows:
                self._insert_wave(conn, study_id, {**row, "schedule_id": sid})
        return sid

    def schedules(self, study_id: int) -> list[dict]:
        """The recurring schedules of a study."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                select(wave_schedules).where(wave_schedules.c.study_id == study_id)
                .order_by(wave_schedules.c.id)).mappings()]

    def study(self, study_id: int) -> Study | None:
        """A study with its waves loaded, detached from the session."""
        from sqlalchemy.orm import Session, selectinload

        with Session(self.engine, expire_on_commit=False) as session:
            return session.scalars(select(Study).options(selectinload(Study.waves))
                                   .where(Study.id == study_id)).first()

    def wave(self, wave_id: int) -> Wave | None:
        """A wave with its study loaded, detached from the session."""
        from sqlalchemy.orm import Session, joinedload

        with Session(self.engine, expire_on_commit=False) as session:
            return session.scalars(select(Wave).options(joinedload(Wave.study))
                                   .where(Wave.id == wave_id)).first()

    def list_studies(self) -> list[dict]:
        """Every study with its number of waves and responses."""
        query = (
            select(studies, func.count(func.distinct(waves.c.id)).label("n_waves"),
                   func.count(responses.c.id).label("n_responses"))
            .select_from(studies.outerjoin(waves).outerjoin(responses))
            .group_by(studies.c.id).order_by(studies.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def response_counts(self, study_id: int) -> dict[int, int]:
        """Number of responses per wave id of a study."""
        query = (select(waves.c.id, func.count(responses.c.id))
                 .select_from(waves.outerjoin(responses))
                 .where(waves.c.study_id == study_id).group_by(waves.c.id))
        with self.engine.connect() as conn:
            return {wid: n for wid, n in conn.execute(query).all()}

    def worker_responses(self, worker_hash: str) -> list[dict]:
        """Every response of one (hashed) worker, for a data-access request."""
        query = (select(responses, waves.c.label.label("wave"), waves.c.study_id,
                        waves.c.platform)
                 .join(waves, waves.c.id == responses.c.wave_id)
                 .where(responses.c.worker_hash == worker_hash).order_by(responses.c.id))
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row.pop("worker_hash")
            row.pop("id")
        return rows

    def delete_worker(self, worker_hash: str) -> int:
        """Delete every response of one (hashed) worker; return how many."""
        with self.engine.begin() as conn:
            return conn.execute(delete(responses).where(
                responses.c.worker_hash == worker_hash)).rowcount
