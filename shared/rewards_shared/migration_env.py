"""The body of every service's Alembic env.py: online migrations against the service's database."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from .db import create_engine, infrastructure


def run(service: str, metadata: sa.MetaData | None = None) -> None:
    from .config import Settings

    url = context.config.attributes.get("url") or Settings.from_env(service).database_url
    targets = [infrastructure] + ([metadata] if metadata is not None else [])
    engine = create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=targets, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
