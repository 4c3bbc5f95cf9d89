"""patients can ask to be erased

A deletion asked for while a safety alert of theirs is unseen waits until a link
worker has seen it. Added in place (a nullable column): SQLite does not rebuild
the patient table, which would cascade-delete what hangs off it.

Revision ID: dd9755d44578
Revises: 9404c955312d
Create Date: 2026-12-03 07:17:55.629492
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.base

revision: str = 'dd9755d44578'
down_revision: str | Sequence[str] | None = '9404c955312d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erase_requested_at', bot.store.base.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_column('erase_requested_at')

