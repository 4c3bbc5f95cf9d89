"""cases carry the date the patient was promised, and when overdue was flagged

A claimed case remembers the day the patient was told to expect contact by; the
morning check flags one with no contact by then (or a message unanswered for a
working day) to its holder, and a day later to the team. Added in place (nullable
columns): SQLite does not rebuild the case table.

Revision ID: 5d1e0c7a9b2f
Revises: 5b7e2c9d4a10
Create Date: 2026-12-03 09:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.base

revision: str = '5d1e0c7a9b2f'
down_revision: str | Sequence[str] | None = "5b7e2c9d4a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('promised_by', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('overdue_told_at', bot.store.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('overdue_team_told_at', bot.store.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('overdue_team_told_at')
        batch_op.drop_column('overdue_told_at')
        batch_op.drop_column('promised_by')
