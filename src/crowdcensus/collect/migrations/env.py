"""Alembic environment of the collection service (configured in code, see database.py)."""

from __future__ import annotations

from alembic import context

from crowdcensus.collect.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run the migrations on the engine that :func:`database.upgrade` passes in."""
    engine = config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        context.run_migrations()


run_migrations_online()
