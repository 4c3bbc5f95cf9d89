"""conversation control apart from answers

The referral flow used to keep its control fields (where "No, carry on" goes
back to, paging through suggestions, the case reference, where a link worker took
over) inside the answers, some under names starting with "_". They now have a
typed column of their own, so an answer is only ever an answer.

Revision ID: 9c2f4e1d7a31
Revises: 701ba9917973
Create Date: 2026-12-02 22:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "9c2f4e1d7a31"
down_revision: str | Sequence[str] | None = "701ba9917973"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: answers key -> control field
MOVED = {
    "_back_to": "back_to",
    "suggestion_offset": "suggestion_offset",
    "shown": "shown",
    "case_reference": "case_reference",
    "paused_at": "paused_at",
}

conversation = sa.table(
    "conversation",
    sa.column("patient_id", sa.Integer),
    sa.column("answers", sa.JSON),
    sa.column("control", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("control", sa.JSON(), nullable=True))
    bind = op.get_bind()
    for patient_id, answers in bind.execute(
        sa.select(conversation.c.patient_id, conversation.c.answers)
    ).all():
        answers = dict(answers or {})
        control: dict[str, Any] = {}
        for old, new in MOVED.items():
            if old in answers:
                control[new] = answers.pop(old)
        # Per-message flags ("_note", "_restart"...) were never meant to be kept.
        answers = {k: v for k, v in answers.items() if not k.startswith("_")}
        bind.execute(
            conversation.update()
            .where(conversation.c.patient_id == patient_id)
            .values(answers=answers, control=control)
        )
    bind.execute(conversation.update().where(conversation.c.control.is_(None)).values(control={}))
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.alter_column("control", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    bind = op.get_bind()
    for patient_id, answers, control in bind.execute(
        sa.select(conversation.c.patient_id, conversation.c.answers, conversation.c.control)
    ).all():
        answers = dict(answers or {})
        for old, new in MOVED.items():
            if (control or {}).get(new) is not None:
                answers[old] = control[new]
        bind.execute(
            conversation.update()
            .where(conversation.c.patient_id == patient_id)
            .values(answers=answers)
        )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("control")
