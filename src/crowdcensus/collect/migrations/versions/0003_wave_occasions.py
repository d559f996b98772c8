"""Occasions: waves posted at the same time on several platforms, exported as one wave.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

New nullable columns, added in place (no table is rebuilt; see 0002): a wave's
occasion, and the occasions' prefix of a recurring schedule.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("waves", sa.Column("occasion", sa.String(40), nullable=True))
    op.add_column("wave_schedules",
                  sa.Column("occasion_prefix", sa.String(30), nullable=True))


def downgrade() -> None:
    op.drop_column("wave_schedules", "occasion_prefix")
    op.drop_column("waves", "occasion")
