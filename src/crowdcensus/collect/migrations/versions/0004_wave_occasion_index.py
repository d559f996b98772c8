"""One wave per platform per occasion, kept by the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

A unique index on (study, platform, the wave's occasion or else its label): an
index, not a constraint, so no table is rebuilt (see 0002). The store has refused
a second wave of an occasion on a platform since 0003, by a read before the
insert; two requests at once could both pass it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "uq_waves_study_platform_occasion"


def upgrade() -> None:
    op.create_index(INDEX, "waves",
                    ["study_id", "platform", sa.text("coalesce(occasion, label)")], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="waves")
