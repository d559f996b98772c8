"""Studies, waves and responses.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("languages", sa.String(50), nullable=False),
        sa.Column("questionnaire_version", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "waves",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("study_id", sa.Integer(),
                  sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reward_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("target_responses", sa.Integer(), nullable=False),
        sa.Column("platform_completion_code", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("study_id", "label", name="uq_waves_study_label"),
    )
    op.create_index("ix_waves_public_id", "waves", ["public_id"], unique=True)
    op.create_table(
        "responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("wave_id", sa.Integer(),
                  sa.ForeignKey("waves.id", ondelete="CASCADE"), nullable=False),
        sa.Column("worker_hash", sa.String(64), nullable=False),
        sa.Column("completion_code", sa.String(20), nullable=False, unique=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("frequency", sa.String(20), nullable=False),
        sa.Column("platforms_registered", sa.Text(), nullable=False),
        sa.Column("platforms_last_month", sa.Text(), nullable=False),
        sa.Column("hours_per_week", sa.Float(), nullable=False),
        sa.Column("earnings_band", sa.String(20), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("attention_answer", sa.String(20), nullable=False),
        sa.Column("attention_passed", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("wave_id", "worker_hash", name="uq_responses_wave_worker"),
    )
    op.create_index("ix_responses_wave_id", "responses", ["wave_id"])
    op.create_index("ix_responses_worker_hash", "responses", ["worker_hash"])


def downgrade() -> None:
    op.drop_table("responses")
    op.drop_table("waves")
    op.drop_table("studies")
