"""merge safety alerts and the directory

Revision ID: ecb8b033d261
Revises: c0b9e79bf046, e146d7474773
Create Date: 2026-11-22 07:07:57.094939
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.base

revision: str = 'ecb8b033d261'
down_revision: str | Sequence[str] | None = ('c0b9e79bf046', 'e146d7474773')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
