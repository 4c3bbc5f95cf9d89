"""check-ins, milestones and what referrals found

Check-ins after a referral (and the check-in conversation's state), the
anonymous milestones the outcomes report counts, whether the person went, and
a random journey token for every patient (existing ones get their own).

Revision ID: 9404c955312d
Revises: 9ee851e9b3b3
Create Date: 2026-12-03 06:36:18.992681
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.base

revision: str = '9404c955312d'
down_revision: str | Sequence[str] | None = '9ee851e9b3b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('milestone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', bot.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('journey', sa.String(length=24), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('milestone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_milestone_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_milestone_journey'), ['journey'], unique=False)
        batch_op.create_index(batch_op.f('ix_milestone_step'), ['step'], unique=False)

    op.create_table('check_in',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due_at', bot.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('asked_by', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sent_at', bot.store.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', bot.store.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', bot.store.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('control', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['asked_by'], ['link_worker.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('check_in', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_in_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_in_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_in_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_in_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_in_status'), ['status'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('asked_for_contact_at', bot.store.base.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nudged_at', bot.store.base.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('patient', schema=None) as batch_op:
        # NOT NULL with a default, so SQLite adds it in place: recreating the patient
        # table would cascade-delete everything that hangs off it.
        batch_op.add_column(sa.Column('journey', sa.String(length=24), nullable=False, server_default=''))
    # Each patient already here gets a token of their own (16 random hex digits).
    patients = sa.table('patient', sa.column('id', sa.Integer), sa.column('journey', sa.String))
    connection = op.get_bind()
    for (patient_id,) in connection.execute(sa.select(patients.c.id)).all():
        connection.execute(sa.update(patients).where(patients.c.id == patient_id)
                           .values(journey=secrets.token_hex(8)))

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attendance', sa.String(length=16), nullable=False, server_default='unknown'))
        batch_op.add_column(sa.Column('checkins_paused_until', bot.store.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('checkins_stopped_at', bot.store.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('checkins_stop_reason', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('checkins_stop_reason')
        batch_op.drop_column('checkins_stopped_at')
        batch_op.drop_column('checkins_paused_until')
        batch_op.drop_column('attendance')

    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_column('journey')

    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_column('nudged_at')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('asked_for_contact_at')

    with op.batch_alter_table('check_in', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_in_status'))
        batch_op.drop_index(batch_op.f('ix_check_in_referral_id'))
        batch_op.drop_index(batch_op.f('ix_check_in_patient_id'))
        batch_op.drop_index(batch_op.f('ix_check_in_due_at'))
        batch_op.drop_index(batch_op.f('ix_check_in_case_id'))

    op.drop_table('check_in')
    with op.batch_alter_table('milestone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_milestone_step'))
        batch_op.drop_index(batch_op.f('ix_milestone_journey'))
        batch_op.drop_index(batch_op.f('ix_milestone_at'))

    op.drop_table('milestone')
