"""directory import warnings

What an import left out or mended, kept per import so `spbot directory check`
can list what the last import of each feed said needs fixing.

Revision ID: b7e3c1d2a4f5
Revises: 5d1e0c7a9b2f
Create Date: 2026-12-03 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e3c1d2a4f5"
down_revision: str | Sequence[str] | None = "5d1e0c7a9b2f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_import_warning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_run_id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(length=200), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("done", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_run_id"], ["directory_import_run.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("directory_import_warning", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_import_warning_feed"), ["feed"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_directory_import_warning_import_run_id"),
            ["import_run_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("directory_import_warning", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_import_warning_import_run_id"))
        batch_op.drop_index(batch_op.f("ix_directory_import_warning_feed"))
    op.drop_table("directory_import_warning")
