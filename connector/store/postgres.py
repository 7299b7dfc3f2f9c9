"""PostgreSQL store: shared state for several workers, several machines or AWS Lambda.

psycopg 3 with a connection pool. A feed's read-modify-write holds a transaction-scoped
advisory lock on the feed, so two workers never both see a video as new; claims use row
locks (``FOR UPDATE``, ``SKIP LOCKED`` for watches, so workers split the due handles).
The schema is created and migrated by the connector itself, under an advisory lock so that
workers starting together migrate once. ``sslmode`` and every other libpq parameter in
the URL are honoured.
"""

from __future__ import annotations

import contextlib
import hashlib
import typing as t

import psycopg
import psycopg_pool

from ..errors import (
    ConfigError,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
)
from ._sql import SCHEMA, SQLStore, Statements

MIGRATIONS = tuple(
    script.format(
        identity="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        bigint="BIGINT",
        float="DOUBLE PRECISION",
        bytes="BYTEA",
        without_rowid="",
    )
    for script in SCHEMA
)

READ_ONLY = (
    "The store is read-only (a standby, or a database set to read-only); nothing was "
    "recorded. The server's operator must point it at a writable PostgreSQL."
)


def _lock_id(name: str) -> int:
    """A signed 64-bit advisory lock id for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PostgresStore(SQLStore):
    """The store on PostgreSQL (the ``[postgres]`` extra), shared by several workers and
    machines: feeds are locked with advisory locks, claims with row locks."""

    backend = "postgresql"
    FOR_UPDATE = "FOR UPDATE"
    SKIP_LOCKED = "FOR UPDATE SKIP LOCKED"
    NO_LIMIT = "LIMIT ALL"
    MIGRATIONS = MIGRATIONS

    def __init__(self, url: str, *, busy_timeout: float = 15.0, pool_size: int = 20) -> None:
        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        try:
            psycopg.conninfo.conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"Not a PostgreSQL URL: {exc}") from None
        self.busy_timeout = busy_timeout
        # Public: the cross-worker provider limiter (PostgresSlots) shares these connections.
        self.pool = psycopg_pool.ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            timeout=busy_timeout,
            open=False,
            kwargs={"connect_timeout": max(1, int(busy_timeout))},
        )
        try:
            self.pool.open(wait=True, timeout=busy_timeout)
        except psycopg_pool.PoolTimeout as exc:
            self.pool.close()
            raise StoreUnavailable(f"Cannot reach PostgreSQL: {exc}") from exc
        self.migrate()

    @contextlib.contextmanager
    def _transaction(
        self, *, write: bool = True, lock: str | None = None
    ) -> t.Iterator[Statements]:
        with self._errors(), self.pool.connection() as conn, conn.transaction():
            if lock is not None:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_id(lock),))
            yield Statements(conn, "%s")

    @contextlib.contextmanager
    def _statement(self) -> t.Iterator[Statements]:
        # Autocommit: the statement alone, not BEGIN, it, COMMIT (three round trips).
        with self._errors(), self.pool.connection() as conn:
            conn.autocommit = True
            try:
                yield Statements(conn, "%s")
            finally:
                # A connection that broke meanwhile is dropped by the pool anyway.
                with contextlib.suppress(psycopg.Error):
                    conn.autocommit = False

    @contextlib.contextmanager
    def _errors(self) -> t.Iterator[None]:
        """The store's errors for what psycopg and the pool raise."""
        try:
            yield
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise StoreReadOnly(READ_ONLY) from exc
        except psycopg.errors.DiskFull as exc:
            raise StoreFull(
                "The store's disk is full; nothing was recorded. The server's operator must "
                "free space."
            ) from exc
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StoreUnavailable(
                "The store could not be reached or was busy; nothing was recorded."
            ) from exc
        except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected) as exc:
            raise StoreUnavailable("The store was busy; nothing was recorded.") from exc

    def ping(self) -> None:
        """Reads, and checks that the database takes writes (a standby, or a database or
        role set to read-only, does not).

        :raises StoreReadOnly: when sessions are read-only.
        """
        with self._transaction(write=False) as sql:
            sql.one("SELECT 1 FROM schema_version")
            (read_only,) = sql.one("SHOW transaction_read_only")
        if read_only == "on":
            raise StoreReadOnly(READ_ONLY)

    def close(self) -> None:
        self.pool.close()
