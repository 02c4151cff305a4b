"""The migrations build exactly the schema the models describe: Alembic's autogenerate, compared
against a database migrated to head, finds nothing to do (on SQLite, and on PostgreSQL when
DUBAN_TEST_PG_URL is set). A model change without its migration, or a migration that drifts
from its model, fails here."""

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import store
from store.models import Base


def all_models():
    """Every module of the store package but the migrations: each registers its tables on Base."""
    for info in pkgutil.iter_modules(store.__path__):
        if info.name != "migrations":
            importlib.import_module(f"store.{info.name}")
    return Base.metadata


def differences(connection, metadata=None) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return compare_metadata(context, metadata if metadata is not None else all_models())


async def test_autogenerate_finds_nothing_to_migrate(db):
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []


async def test_the_check_sees_a_missing_migration(db):
    """A column in the models that no migration made is reported (the check is not blind)."""
    from sqlalchemy import Column, Integer, MetaData

    copy = MetaData()
    for table in all_models().tables.values():
        table.to_metadata(copy)
    copy.tables["calendar_years"].append_column(Column("drift_probe", Integer, nullable=True))
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(differences, copy)
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "calendar_years", "drift_probe")]
