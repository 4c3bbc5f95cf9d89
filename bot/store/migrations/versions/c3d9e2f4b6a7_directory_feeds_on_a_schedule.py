"""directory feeds on a schedule

A feed re-imported every so often by the running bot (`spbot directory import
URL --every 1d`), the database saying when each is next due.

Revision ID: c3d9e2f4b6a7
Revises: b7e3c1d2a4f5
Create Date: 2026-12-03 09:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.base

revision: str = "c3d9e2f4b6a7"
down_revision: str | Sequence[str] | None = "b7e3c1d2a4f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_feed_schedule",
        sa.Column("feed", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=False),
        sa.Column("deactivate_missing", sa.Boolean(), nullable=False),
        sa.Column("next_due_at", bot.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", bot.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("feed"),
    )
    with op.batch_alter_table("directory_feed_schedule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_feed_schedule_next_due_at"), ["next_due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("directory_feed_schedule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_feed_schedule_next_due_at"))
    op.drop_table("directory_feed_schedule")
