"""report figures kept ahead

The outcomes report's figures for the default period, worked out each night by
one running instance, so that `spbot report` is ready at once (bot/report/reading.py).

Revision ID: a1ce274730e5
Revises: a7c4e9b2d1f3
Create Date: 2026-12-04 03:23:37.620085
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.base

revision: str = "a1ce274730e5"
down_revision: str | Sequence[str] | None = "a7c4e9b2d1f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kept_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("starts", bot.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends", bot.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("as_of", bot.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("kept_figures")
