"""When respondents began micro-work: an optional answer of the questionnaire.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

A new nullable column, added in place (no table is rebuilt; see 0002): the month and
year of the respondent's first paid micro-task (``YYYY-MM``), blank when not answered
(and for every response stored before this revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("responses", sa.Column("started_month", sa.String(7), nullable=True))


def downgrade() -> None:
    op.drop_column("responses", "started_month")
