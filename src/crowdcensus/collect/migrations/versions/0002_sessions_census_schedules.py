"""Researcher contact on studies, admin sessions, recurring waves, the live census.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Only new tables and new nullable columns: SQLite adds a column in place, so no
existing table is rebuilt (rebuilding ``waves`` would, with foreign keys on,
delete its responses through ``ON DELETE CASCADE``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("studies", sa.Column("researcher_name", sa.String(200), nullable=True))
    op.add_column("studies", sa.Column("researcher_contact", sa.String(200), nullable=True))
    op.add_column("waves", sa.Column("schedule_id", sa.Integer(), nullable=True))
    op.create_index("ix_waves_schedule_id", "waves", ["schedule_id"])
    op.create_table(
        "wave_schedules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(),
                  sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("label_prefix", sa.String(30), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=False),
        sa.Column("duration_days", sa.Float(), nullable=False),
        sa.Column("first_opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reward_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("target_responses", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_wave_schedules_study_id", "wave_schedules", ["study_id"])
    op.create_table(
        "admin_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("token_fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_admin_sessions_expires_at", "admin_sessions", ["expires_at"])
    op.create_table(
        "census_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(),
                  sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_census_snapshots_study_id", "census_snapshots", ["study_id"])
    op.create_table(
        "census_plots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("snapshot_id", sa.Integer(),
                  sa.ForeignKey("census_snapshots.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("snapshot_id", "name", name="uq_census_plots_name"),
    )
    op.create_index("ix_census_plots_snapshot_id", "census_plots", ["snapshot_id"])


def downgrade() -> None:
    op.drop_table("census_plots")
    op.drop_table("census_snapshots")
    op.drop_table("admin_sessions")
    op.drop_table("wave_schedules")
    op.drop_index("ix_waves_schedule_id", table_name="waves")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), never a table rebuild.
    op.drop_column("waves", "schedule_id")
    op.drop_column("studies", "researcher_contact")
    op.drop_column("studies", "researcher_name")
