"""The store: the schema, one module per area, with every query the application
makes as a named, typed function (docs/architecture.md rule 8). Nothing outside
`bot/store` builds SQL.

    base        Base, UTC timestamps, JSON columns that hold typed models
    db          engine, transactions (`Database.transaction`, `.reading`), migrations
    patients    patients, their conversations, consent, wellbeing scores
    cases       cases, what happened on them, safety alerts, referrals, references
    case_file   a whole case as the case view shows it
    outbox      messages owed, and the queries delivery drains them with
    inbox       updates kept before they are confirmed to Telegram, until handled
    updates     Telegram updates already handled (dedupe)
    instances   running bot processes, so a dead one's leases are let go
    staff       link workers, invitations, what a worker's next message is for
    audit       who did what to which case
    directory   the activity directory and postcode centroids
    checkins    check-ins after a referral, and the dispatcher's queries
    milestones  the anonymous record of how far each journey went (the report)
    subject     a person's data as a whole: a copy of it, erasing it, retention
    sealing     encryption at rest for the columns that hold what people wrote
    rotation    re-sealing every sealed column with a new key (`spbot rotate-key`)
"""

# Every area's tables on Base.metadata (for migrations and tests). Add new areas here.
from bot.store import (  # noqa: F401
    audit,
    case_file,
    cases,
    checkins,
    directory,
    inbox,
    instances,
    milestones,
    outbox,
    patients,
    staff,
    updates,
)
from bot.store.base import Base
from bot.store.db import Database, upgrade

__all__ = ["Base", "Database", "upgrade"]
