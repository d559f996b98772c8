"""Database operations of the service (SQLAlchemy Core on a shared engine)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, select

from crowdcensus.collect.identity import new_completion_code, new_public_id
from crowdcensus.collect.models import Study, Wave, responses, studies, utcnow, waves
from crowdcensus.collect.writer import ResponseWriter


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

    def __init__(self, engine: Engine, cache_seconds: float = 5.0):
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._wave_cache: dict[str, tuple[float, WaveInfo | None]] = {}
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
        query = (select(waves, studies.c.languages, studies.c.title)
                 .join(studies, studies.c.id == waves.c.study_id)
                 .where(waves.c.public_id == public_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        info = None
        if row is not None:
            info = WaveInfo(row["id"], row["public_id"], row["study_id"], row["label"],
                            row["platform"], row["opens_at"], row["closes_at"],
                            row["platform_completion_code"],
                            tuple(row["languages"].split(",")), row["title"])
        with self._lock:
            if len(self._wave_cache) > 10_000:
                self._wave_cache.clear()
            self._wave_cache[public_id] = (now, info)
        return info

    def forget_wave(self, public_id: str) -> None:
        """Drop a wave from the cache (after an edit)."""
        with self._lock:
            self._wave_cache.pop(public_id, None)

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
        row = {"wave_id": wave_id, "worker_hash": worker_hash, "submitted_at": utcnow(),
               "language": language, **answers}
        return self.writer.submit(row)

    def close(self) -> None:
        """Stop the writer (after its queued work) and close the engine's connections."""
        self.writer.close()
        self.engine.dispose()

    # ------------------------------------------------------------- research
    def create_study(self, title: str, country: str, languages: list[str],
                     questionnaire_version: str) -> int:
        """Insert a study; return its id."""
        with self.engine.begin() as conn:
            return conn.execute(studies.insert().values(
                title=title, country=country, languages=",".join(languages),
                questionnaire_version=questionnaire_version, created_at=utcnow(),
            )).inserted_primary_key[0]

    def create_wave(self, study_id: int, values: dict) -> int:
        """Insert a wave of a study; return its id. Raises IntegrityError on a duplicate label."""
        with self.engine.begin() as conn:
            if values.get("label") is None:
                n = conn.execute(select(func.count()).select_from(waves).where(
                    waves.c.study_id == study_id)).scalar_one()
                values = {**values, "label": f"wave{n + 1:02d}"}  # sorts right as text
            return conn.execute(waves.insert().values(
                study_id=study_id, public_id=new_public_id(),
                platform_completion_code=new_completion_code(8), created_at=utcnow(),
                **values)).inserted_primary_key[0]

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
