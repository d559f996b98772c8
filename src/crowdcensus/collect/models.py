"""Tables of the collection service (SQLAlchemy 2 declarative models).

``studies`` 1--n ``waves`` 1--n ``responses``. A response holds the worker's
HMAC (:func:`crowdcensus.collect.identity.worker_hash`), never a raw ID; the
pair (wave, worker_hash) is unique, which makes a resubmission idempotent.
Every schema change goes through an Alembic revision in ``migrations/``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
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
    opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reward_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    target_responses: Mapped[int] = mapped_column(Integer, default=100)
    platform_completion_code: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

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


studies = Study.__table__
waves = Wave.__table__
responses = Response.__table__
