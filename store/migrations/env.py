"""Alembic environment.

The bot runs migrations itself (``Database.upgrade``) and hands over its own connection; a
developer generating a revision runs ``alembic -c store/alembic.ini revision --autogenerate``.
"""

import asyncio
import importlib
import pkgutil

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

import store
from store.models import Base

# Each store module registers its tables on Base: import them all, so that a new module's tables
# are never missing from autogenerate (tests/unit/test_migrations_match_models.py does the same).
for _module in pkgutil.iter_modules(store.__path__):
    if _module.name != "migrations":
        importlib.import_module(f"store.{_module.name}")

target_metadata = Base.metadata
config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTER
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from store.db import async_url

    asyncio.run(_run_with_own_engine(async_url(config.get_main_option("sqlalchemy.url") or "")))
