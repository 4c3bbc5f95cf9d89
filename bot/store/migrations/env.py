"""Alembic environment. Migrations run on a connection handed in by
`bot.store.db` (which owns the async engine), so the same code serves
`spbot db upgrade`, start-up and tests."""

from alembic import context

from bot.store import Base  # with every table on Base.metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by calling alembic directly
    raise SystemExit("Run migrations with: spbot db upgrade")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
