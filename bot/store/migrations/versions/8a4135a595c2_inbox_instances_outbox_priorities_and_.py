"""inbox, instances, outbox priorities and leases

Updates are kept (the inbox) before they are confirmed to Telegram; running bot
processes register, so what a dead one leased is let go; outbox messages have a
priority (crisis first) and remember when Telegram showed them.

Revision ID: 8a4135a595c2
Revises: 9c2f4e1d7a31
Create Date: 2026-12-02 22:46:46.061598
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.base

revision: str = '8a4135a595c2'
down_revision: str | Sequence[str] | None = '9c2f4e1d7a31'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bot_instance',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('host', sa.String(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', bot.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seen_at', bot.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bot_instance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bot_instance_seen_at'), ['seen_at'], unique=False)

    op.create_table('inbox_update',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_at', bot.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', bot.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('leased_by', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.String(length=100), nullable=True),
    sa.Column('failed_at', bot.store.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('update_id')
    )
    with op.batch_alter_table('inbox_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_update_chat_id'), ['chat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbox_update_next_attempt_at'), ['next_attempt_at'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        # Messages already queued are ordinary replies to a conversation (1).
        batch_op.add_column(sa.Column('priority', sa.SmallInteger(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('shown_at', bot.store.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('leased_by', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('leased_by')
        batch_op.drop_column('shown_at')
        batch_op.drop_column('priority')

    with op.batch_alter_table('inbox_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_update_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_inbox_update_chat_id'))

    op.drop_table('inbox_update')
    with op.batch_alter_table('bot_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bot_instance_seen_at'))

    op.drop_table('bot_instance')
