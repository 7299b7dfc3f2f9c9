"""SQLite store: the embedded default, for one process on one machine (WAL mode).

Each transaction opens its own connection: connections are cheap here, and it keeps the
store safe to share between the WSGI server's threads. Writes take the database lock up
front (``BEGIN IMMEDIATE``), which serializes read-modify-write transactions, so feed locks
need nothing more.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import typing as t

from ..errors import ConfigError, StoreUnavailable
from ._sql import SQLStore, Statements

MIGRATIONS: tuple[str, ...] = (
    # 1: feeds and their seen ids.
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        platform TEXT NOT NULL,
        consumer TEXT NOT NULL,
        handle TEXT NOT NULL,
        floor INTEGER NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (tenant, platform, consumer, handle)
    );
    CREATE TABLE seen_videos (
        feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
        video_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        first_seen_at REAL NOT NULL,
        last_seen_at REAL NOT NULL,
        PRIMARY KEY (feed_id, video_id)
    ) WITHOUT ROWID;
    CREATE INDEX seen_videos_by_recency ON seen_videos (feed_id, last_seen_at, created_at);
    """,
    # 2: instant triggers: sealed tenant keys, subscriptions and the delivery outbox.
    """
    CREATE TABLE tenant_keys (
        tenant TEXT PRIMARY KEY,
        sealed BLOB NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE subscriptions (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        platform TEXT NOT NULL,
        provider TEXT,
        consumer TEXT NOT NULL,
        handle TEXT NOT NULL,
        event TEXT NOT NULL,
        target_url TEXT NOT NULL,
        sealed_secret BLOB NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
        video_id TEXT NOT NULL,
        webhook_id TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        claimed_by TEXT,
        claimed_until REAL,
        last_status INTEGER,
        last_error TEXT,
        UNIQUE (subscription_id, video_id)
    );
    CREATE INDEX outbox_by_status ON outbox (status, subscription_id, id);
    """,
    # 3: watches, so that workers split the handles to poll (filled from subscriptions).
    """
    CREATE TABLE watches (
        tenant TEXT NOT NULL,
        provider TEXT NOT NULL,
        handle TEXT NOT NULL,
        last_polled_at REAL,
        claimed_by TEXT,
        claimed_until REAL,
        PRIMARY KEY (tenant, provider, handle)
    );
    INSERT INTO watches (tenant, provider, handle)
        SELECT DISTINCT tenant, coalesce(provider, ''), handle FROM subscriptions;
    """,
)


def path_from_url(url: str) -> str:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` -> path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ConfigError(f"Not a SQLite URL: {url!r}; expected sqlite:///path/to/file.db")
    path = url[len(prefix) :]
    if not path:
        raise ConfigError("The SQLite URL names no file: use sqlite:///connector.db")
    return path


class SQLiteStore(SQLStore):
    backend = "sqlite"
    MIGRATIONS = MIGRATIONS

    def __init__(self, url: str, *, busy_timeout: float = 15.0) -> None:
        self.path = path_from_url(url)
        if self.path == ":memory:":
            raise ConfigError("An in-memory SQLite store would forget every feed; name a file.")
        self.busy_timeout = busy_timeout
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        self.migrate()

    def _connect(self) -> contextlib.closing[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"Cannot open the SQLite store: {exc}") from exc
        conn.execute("PRAGMA foreign_keys=ON")
        # FULL: a delivered id survives a power cut, so it is never delivered again.
        conn.execute("PRAGMA synchronous=FULL")
        return contextlib.closing(conn)

    @contextlib.contextmanager
    def _transaction(
        self, *, write: bool = True, lock: str | None = None
    ) -> t.Iterator[Statements]:
        with self._connect() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(
                    "The store is busy; nothing was recorded. Try again shortly."
                ) from exc
            try:
                yield Statements(conn, "?")
            except sqlite3.OperationalError as exc:
                conn.execute("ROLLBACK")
                raise StoreUnavailable("The store is busy; nothing was recorded.") from exc
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                conn.execute("ROLLBACK")
                raise StoreUnavailable("The store could not commit; nothing was recorded.") from exc
