"""indexes for a million patients

What the check-in dispatcher asks of a big database without reading whole tables
(tests/benchmarks/test_scale_bench.py showed sequential scans): the few check-ins
still due, by when; those being answered now; those sent in the last day; recent
case entries; the few referrals whose check-ins are paused or stopped.

Revision ID: f4a8c2e6d0b1
Revises: c3d9e2f4b6a7
Create Date: 2026-12-03 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4a8c2e6d0b1"
down_revision: str | Sequence[str] | None = "c3d9e2f4b6a7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE = sa.text("status = 'due'")
UNDER_WAY = sa.text("state IS NOT NULL AND state <> 'done'")
HELD = sa.text("checkins_stopped_at IS NOT NULL OR checkins_paused_until IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.create_index("ix_check_in_due", ["due_at"], unique=False,
                              postgresql_where=DUE, sqlite_where=DUE)  # fmt: skip
        batch_op.create_index("ix_check_in_under_way", ["patient_id"], unique=False,
                              postgresql_where=UNDER_WAY, sqlite_where=UNDER_WAY)  # fmt: skip
        batch_op.create_index("ix_check_in_sent_at", ["sent_at"], unique=False)
    with op.batch_alter_table("case_entry", schema=None) as batch_op:
        batch_op.create_index("ix_case_entry_at", ["at"], unique=False)
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index("ix_referral_checkins_held", ["id"], unique=False,
                              postgresql_where=HELD, sqlite_where=HELD)  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_checkins_held")
    with op.batch_alter_table("case_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_case_entry_at")
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.drop_index("ix_check_in_sent_at")
        batch_op.drop_index("ix_check_in_under_way")
        batch_op.drop_index("ix_check_in_due")
