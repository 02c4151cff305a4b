"""Engine and sessions for SQLite (default, WAL, foreign keys on) and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from store import (
    audit,  # noqa: F401  (registers the audit flush hook)
    fast_read,
    fast_write,
    sqlite_onehop,
)
from store.audit import Actor

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """Accept the plain URLs people write and pick the async driver for them."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def _on_sqlite_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
    cur = dbapi_conn.cursor()
    dbapi_conn.driver_connection.inline_reads = sqlite_onehop.configure(cur)
    cur.close()


def _on_autocommit_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
    """After ``_on_sqlite_connect``: in WAL mode, the bookkeeping's self-committing writes may run
    on the event loop's thread (``store.sqlite_onehop``); nothing waits for a lock there."""
    driver = dbapi_conn.driver_connection
    if driver.inline_reads:
        driver.allow_inline_writes()


def _on_sqlite_reset(dbapi_conn, _record, reset_state) -> None:  # noqa: ANN001
    """The pool's rollback when a connection is returned, only if a transaction is still open.

    Every session has committed or rolled back by then; aiosqlite's rollback is a round trip to
    its thread all the same (one of five or six per short transaction, run for every update).
    """
    if reset_state.asyncio_safe and dbapi_conn.driver_connection.in_transaction:
        dbapi_conn.rollback()


# A statement that may change who someone is to the bot: their binding, roles, activity or unit.
_DIRECTORY_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(?:people|person_roles|units)"?\b', re.I)


def _one_hop_creator(url: str) -> Callable[[], sqlite_onehop.OneHopConnection]:
    """aiosqlite connections with one thread hand-over per statement (store.sqlite_onehop), opened
    with the arguments SQLAlchemy would derive from the URL itself."""
    cargs, cparams = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    return lambda: sqlite_onehop.connect(*cargs, **cparams)


class Database:
    """The one handle on the store: an engine, a session factory and the clock for timestamps."""

    def __init__(self, url: str, now: Callable[[], datetime] | None = None, echo: bool = False) -> None:
        self.url = async_url(url)
        self.now = now or (lambda: datetime.now(UTC))
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            db_path = make_url(self.url).database
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        # pre_ping: a pooled PostgreSQL connection the server closed (restart, idle timeout,
        # pg_terminate_backend) is replaced before use instead of failing the request.
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            echo=echo,
            pool_pre_ping=not self.is_sqlite,
            pool_reset_on_return=None if self.is_sqlite else "rollback",
            **({"async_creator": _one_hop_creator(self.url)} if self.is_sqlite else {}),
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _on_sqlite_connect)
            event.listen(self.engine.sync_engine, "reset", _on_sqlite_reset)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.autocommit = self._autocommit_engine()
        # List pages read on a SQLite file skip SQLAlchemy's execution (store.fast_read).
        self.fast_reader = (
            fast_read.FastReader(self.engine, _one_hop_creator(self.url)) if self._autocommit_apart else None
        )
        # The durable inbox's marks skip it too (store.fast_write); its listeners are the autocommit engine's.
        self.fast_writer = (
            fast_write.FastWriter(self.autocommit, _one_hop_creator(self.url)) if self._autocommit_apart else None
        )
        # Counts writes to the directory through this engine (ORM or Core), once as the statement
        # runs and once as its transaction commits: a copy read before either is known stale
        # (``bot.runtime.senders``), also one read between them, which still saw the old rows.
        self.directory_writes = 0
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._directory_write_runs)
        event.listen(self.engine.sync_engine, "commit", self._directory_write_commits)

    def _autocommit_engine(self) -> AsyncEngine:
        """For bookkeeping writes of one statement each, run for every update (the durable inbox):
        the statement commits itself, with no COMMIT after it. SQLite: connections of their own,
        put in autocommit mode once, when opened (switching a pooled connection would cost a
        hand-over to aiosqlite's thread each way), whose writes may run on the event loop's
        thread (``_on_autocommit_connect``); an in-memory database has only the one
        connection, so its writes keep their transaction. PostgreSQL: the same pool, where
        asyncpg then sends neither BEGIN nor COMMIT."""
        if not self.is_sqlite:
            return self.engine.execution_options(isolation_level="AUTOCOMMIT")
        if make_url(self.url).database in (None, "", ":memory:"):
            return self.engine
        engine = create_async_engine(
            self.url,
            echo=self.engine.echo,
            isolation_level="AUTOCOMMIT",
            pool_reset_on_return=None,
            async_creator=_one_hop_creator(self.url),
        )
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "connect", _on_autocommit_connect)
        return engine

    @property
    def _autocommit_apart(self) -> bool:
        """The autocommit engine has connections of its own (SQLite on a file); on PostgreSQL it
        shares the main engine's pool and events, and an in-memory SQLite database is one engine."""
        return self.is_sqlite and self.autocommit is not self.engine

    @property
    def sync_engines(self) -> list:
        """The engines whose events see every statement run (statement counters in tests and benches)."""
        if self._autocommit_apart:
            return [self.engine.sync_engine, self.autocommit.sync_engine]
        return [self.engine.sync_engine]

    def _directory_write_runs(self, conn, _cursor, statement: str, *_args: object) -> None:  # noqa: ANN001
        if _DIRECTORY_WRITE.match(statement):
            conn.info["wrote_directory"] = True
            self.directory_writes += 1

    def _directory_write_commits(self, conn) -> None:  # noqa: ANN001
        if conn.info.pop("wrote_directory", False):
            self.directory_writes += 1

    @asynccontextmanager
    async def session(self, actor: Actor | None = None, action: str | None = None) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on error; audited as ``actor``/``action``."""
        async with self._new_session(actor, action) as session:
            async with session.begin():
                yield session

    def _new_session(self, actor: Actor | None, action: str | None) -> AsyncSession:
        """A session audited as ``actor``/``action``, with this database's clock for timestamps."""
        session = self._sessions()
        session.info.update(actor=actor or Actor.system(), action=action, now_fn=self.now)
        return session

    @asynccontextmanager
    async def reading(self, actor: Actor | None = None, action: str | None = None) -> AsyncIterator[AsyncSession]:
        """A unit of work that only reads (a list page, a detail view): nothing is begun up front or
        committed at the end; closing the session ends what its reads began. About half the cost of
        ``session()``, which every page turned pays. A change made in it is refused, not lost."""
        session = self._new_session(actor, action)
        if self.fast_reader is not None:
            session.info[fast_read.READER] = self.fast_reader
        try:
            yield session
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("a read-only unit of work changed objects; use Database.session()")
        finally:
            if session.in_transaction():
                # Shielded, as AsyncSession's own exit is: a cancelled handler must not leak its
                # connection.
                await asyncio.shield(session.close())
            elif session.identity_map or session.new:
                await session.close()  # no connection to give back: only objects to let go of
            # else nothing was read through it (a list page read by the fast reader): closing
            # would find nothing to end or let go of, and cost a tenth of the page.

    async def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations (at start-up and by ``python -m bot db upgrade``)."""
        from alembic import command

        cfg = alembic_config(self.url)

        def run(sync_conn) -> None:  # noqa: ANN001
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, revision)

        async with self.engine.begin() as conn:
            await conn.run_sync(run)

    async def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        async with self.engine.connect() as conn:
            return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())

    async def dispose(self) -> None:
        if self.fast_reader is not None:
            await self.fast_reader.close()
        if self.fast_writer is not None:
            await self.fast_writer.close()
        if self._autocommit_apart:
            await self.autocommit.dispose()
        await self.engine.dispose()


def alembic_config(url: str):  # noqa: ANN201
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
