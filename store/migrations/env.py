"""Alembic environment.

The bot runs migrations itself (``Database.upgrade``) and hands over its own connection; a
developer generating a revision runs ``alembic -c store/alembic.ini revision --autogenerate``.
"""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from store.models import Base
import store.workflow  # noqa: F401,E402
import store.score  # noqa: F401,E402
import store.urging  # noqa: F401,E402
import store.records  # noqa: F401,E402
import store.report  # noqa: F401,E402
import store.dialog_state  # noqa: F401,E402
import store.events  # noqa: F401,E402

target_metadata = Base.metadata
config = context.config


def _run(connection) -> None:  # noqa: ANN001
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

    asyncio.run(_run_with_own_engine(async_url(config.get_main_option("sqlalchemy.url"))))
