"""link workers away

A worker's last day away (`/away until 14 Dec`) and the colleague who covers
their cases meanwhile.

Revision ID: a7c4e9b2d1f3
Revises: f4a8c2e6d0b1
Create Date: 2026-12-03 12:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c4e9b2d1f3"
down_revision: str | Sequence[str] | None = "f4a8c2e6d0b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("link_worker", schema=None) as batch_op:
        batch_op.add_column(sa.Column("away_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("cover_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_link_worker_cover_id_link_worker", "link_worker", ["cover_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("link_worker", schema=None) as batch_op:
        batch_op.drop_constraint("fk_link_worker_cover_id_link_worker", type_="foreignkey")
        batch_op.drop_column("cover_id")
        batch_op.drop_column("away_until")
