"""indexes for a patient's cases, consent and wellbeing scores

Each check-in reads the baseline of its case, and /mydata, erasure and the
report read a patient's cases, consent records and scores: without these
indexes each of those is a scan of the whole table, slower with every patient.

Revision ID: 5b7e2c9d4a10
Revises: 391ded4feb2c
Create Date: 2026-12-03 09:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5b7e2c9d4a10"
down_revision: str | Sequence[str] | None = "391ded4feb2c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("case", "patient_id"),
    ("consent", "patient_id"),
    ("wellbeing_score", "patient_id"),
    ("wellbeing_score", "case_id"),
]


def upgrade() -> None:
    for table, column in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
