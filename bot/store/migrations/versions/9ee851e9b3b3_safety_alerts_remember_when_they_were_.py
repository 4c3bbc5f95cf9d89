"""safety alerts remember when they were announced

An alert nobody has taken is posted again after ALERT_RESEND_MINUTES of working
time, counted from when its card last went out.

Revision ID: 9ee851e9b3b3
Revises: 8a4135a595c2
Create Date: 2026-12-03 00:06:49.091576
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.base

revision: str = '9ee851e9b3b3'
down_revision: str | Sequence[str] | None = '8a4135a595c2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('safety_alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('announced_at', bot.store.base.UTCDateTime(timezone=True), nullable=True))
    # Alerts already raised were announced when they last changed.
    op.execute("UPDATE safety_alert SET announced_at = last_at")


def downgrade() -> None:
    with op.batch_alter_table('safety_alert', schema=None) as batch_op:
        batch_op.drop_column('announced_at')

