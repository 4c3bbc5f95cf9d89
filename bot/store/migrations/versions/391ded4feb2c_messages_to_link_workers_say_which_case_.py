"""messages to link workers say which case they are about

A message to a link worker may quote the patient: it carries the case reference,
so erasing the patient erases it too.

Revision ID: 391ded4feb2c
Revises: dd9755d44578
Create Date: 2026-12-03 07:25:04.930539
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.base

revision: str = '391ded4feb2c'
down_revision: str | Sequence[str] | None = 'dd9755d44578'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_reference', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_case_reference'), ['case_reference'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_case_reference'))
        batch_op.drop_column('case_reference')

