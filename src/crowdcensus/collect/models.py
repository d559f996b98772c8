"""Tables of the collection service (SQLAlchemy 2 declarative models).

``studies`` 1--n ``waves`` 1--n ``responses``. A response holds the worker's
HMAC (:func:`crowdcensus.collect.identity.worker_hash`), never a raw ID; the
pair (wave, worker_hash) is unique, which makes a resubmission idempotent.
A study may hold ``wave_schedules`` (a wave every N days until a date; the
waves they create point back with ``waves.schedule_id``) and its latest
``census_snapshots`` (the live census, with its ``census_plots``).
``admin_sessions`` holds one row per admin login (the SHA-256 of the
session id, never the id itself).
Every schema change goes through an Alembic revision in ``migrations/``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

PLATFORMS = ("mturk", "prolific", "clickworker", "generic")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class Study(Base):
    """A study: one questionnaire posted in one country, in several waves."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    languages: Mapped[str] = mapped_column(String(50), default="en")
    questionnaire_version: Mapped[str] = mapped_column(String(20), default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Shown on the consent page; both are required before a wave can be created.
    researcher_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    researcher_contact: Mapped[str | None] = mapped_column(String(200), nullable=True)

    waves: Mapped[list[Wave]] = relationship(back_populates="study", order_by="Wave.id")


class Wave(Base):
    """One posting of the task on one platform for one period (an occasion)."""

    __tablename__ = "waves"
    __table_args__ = (UniqueConstraint("study_id", "label", name="uq_waves_study_label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(40))
    platform: Mapped[str] = mapped_column(String(20))
    # Waves posted at the same time on several platforms share an occasion (the exports'
    # ``wave``); None: the wave is an occasion of its own, named by its label.
    occasion: Mapped[str | None] = mapped_column(String(40), nullable=True)
    opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reward_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    target_responses: Mapped[int] = mapped_column(Integer, default=100)
    platform_completion_code: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set on waves a recurring schedule created. A plain column, not a foreign key:
    # adding a foreign key to an existing SQLite table means rebuilding the table.
    schedule_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)

    study: Mapped[Study] = relationship(back_populates="waves")


class Response(Base):
    """One completed questionnaire of one (pseudonymous) worker in one wave."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("wave_id", "worker_hash", name="uq_responses_wave_worker"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    worker_hash: Mapped[str] = mapped_column(String(64), index=True)
    completion_code: Mapped[str] = mapped_column(String(20), unique=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    language: Mapped[str] = mapped_column(String(5))
    frequency: Mapped[str] = mapped_column(String(20))
    platforms_registered: Mapped[str] = mapped_column(Text, default="")
    platforms_last_month: Mapped[str] = mapped_column(Text, default="")
    hours_per_week: Mapped[float] = mapped_column(Float)
    earnings_band: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    attention_answer: Mapped[str] = mapped_column(String(20))
    attention_passed: Mapped[bool] = mapped_column(Boolean)
    #: The month of the person's first paid micro-task (``YYYY-MM``), when answered.
    started_month: Mapped[str | None] = mapped_column(String(7), nullable=True)


class WaveSchedule(Base):
    """Recurring waves: one wave on ``platform`` every ``every_days`` days until ``until``."""

    __tablename__ = "wave_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"),
                                          index=True)
    platform: Mapped[str] = mapped_column(String(20))
    label_prefix: Mapped[str] = mapped_column(String(30))
    # the waves' occasions (prefix01, prefix02…), shared with another platform's schedule;
    # None: each wave is an occasion of its own
    occasion_prefix: Mapped[str | None] = mapped_column(String(30), nullable=True)
    every_days: Mapped[int] = mapped_column(Integer)
    duration_days: Mapped[float] = mapped_column(Float)
    first_opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reward_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    target_responses: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdminSession(Base):
    """One admin login: random id (stored hashed), expiry, and the token it was opened with."""

    __tablename__ = "admin_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CensusSnapshot(Base):
    """The latest live census of a study: its JSON and when and why it was computed."""

    __tablename__ = "census_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"),
                                          index=True)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)


class CensusPlot(Base):
    """A PNG figure of a census snapshot."""

    __tablename__ = "census_plots"
    __table_args__ = (UniqueConstraint("snapshot_id", "name", name="uq_census_plots_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("census_snapshots.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    png: Mapped[bytes] = mapped_column(LargeBinary)


studies = Study.__table__
waves = Wave.__table__
responses = Response.__table__
wave_schedules = WaveSchedule.__table__
admin_sessions = AdminSession.__table__
census_snapshots = CensusSnapshot.__table__
census_plots = CensusPlot.__table__
#: A wave's occasion in queries: its own, or its label when it has none.
wave_occasion = func.coalesce(waves.c.occasion, waves.c.label)
#: One wave per platform per occasion, kept by the database (an index on an expression,
#: which SQLite and PostgreSQL both take, added without rebuilding the table): the store
#: checks first, to name the wave that holds the occasion, but two requests at once could
#: both pass that check.
WAVE_OCCASION_INDEX = "uq_waves_study_platform_occasion"
Index(WAVE_OCCASION_INDEX, waves.c.study_id, waves.c.platform, wave_occasion, unique=True)
