"""SQLite store: the embedded default, for one process on one machine (WAL mode).

Each operation opens its own connection: connections are cheap here, and it keeps the
store safe to share between the WSGI server's threads. Writes take the database lock up
front (``BEGIN IMMEDIATE``), which serializes read-modify-write transactions.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import typing as t

from ..errors import ConfigError, StoreUnavailable
from .base import FeedKey, FeedState, FeedTransaction, Observed, Store

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
)


def path_from_url(url: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``sqlite:///:memory:`` -> path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ConfigError(f"Not a SQLite URL: {url!r}; expected sqlite:///path/to/file.db")
    path = url[len(prefix) :]
    if not path:
        raise ConfigError("The SQLite URL names no file: use sqlite:///connector.db")
    return path


class SQLiteStore(Store):
    backend = "sqlite"

    def __init__(self, url: str, *, busy_timeout: float = 15.0) -> None:
        self.path = path_from_url(url)
        if self.path == ":memory:":
            raise ConfigError("An in-memory SQLite store would forget every feed; name a file.")
        self.busy_timeout = busy_timeout
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        self.migrate()

    # -- connections -------------------------------------------------------------------------

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
    def _transaction(self, mode: str = "IMMEDIATE") -> t.Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            try:
                conn.execute(f"BEGIN {mode}")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(
                    "The store is busy; nothing was recorded. Try again shortly."
                ) from exc
            try:
                yield conn
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

    def migrate(self) -> int:
        """Apply pending migrations; idempotent. Returns the schema version."""
        with self._transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, script in enumerate(MIGRATIONS, start=1):
                if version > current:
                    for statement in filter(str.strip, script.split(";")):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            return len(MIGRATIONS)

    # -- Store -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def feed(self, key: FeedKey) -> t.Iterator[FeedTransaction]:
        with self._transaction() as conn:
            yield _SQLiteFeedTransaction(conn, key)

    def peek(self, key: FeedKey, video_ids: t.Iterable[str]) -> tuple[FeedState | None, set[str]]:
        with self._transaction("DEFERRED") as conn:
            tx = _SQLiteFeedTransaction(conn, key)
            return tx.state, tx.seen(video_ids)

    def ping(self) -> None:
        with self._connect() as conn:
            try:
                conn.execute("SELECT 1 FROM schema_version").fetchone()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"The SQLite store does not answer: {exc}") from exc


class _SQLiteFeedTransaction(FeedTransaction):
    def __init__(self, conn: sqlite3.Connection, key: FeedKey) -> None:
        self.conn = conn
        self.key = key
        row = conn.execute(
            "SELECT id, floor FROM feeds"
            " WHERE tenant = ? AND platform = ? AND consumer = ? AND handle = ?",
            (key.tenant, key.platform, key.consumer, key.handle),
        ).fetchone()
        self.feed_id: int | None = row[0] if row else None
        self.state = FeedState(floor=row[1]) if row else None

    def create(self, floor: int) -> None:
        cursor = self.conn.execute(
            "INSERT INTO feeds (tenant, platform, consumer, handle, floor, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                self.key.tenant,
                self.key.platform,
                self.key.consumer,
                self.key.handle,
                floor,
                time.time(),
            ),
        )
        self.feed_id = cursor.lastrowid
        self.state = FeedState(floor=floor)

    def seen(self, video_ids: t.Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(video_ids))
        if self.feed_id is None or not ids:
            return set()
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT video_id FROM seen_videos WHERE feed_id = ? AND video_id IN ({marks})",
                (self.feed_id, *chunk),
            )
            found.update(row[0] for row in rows)
        return found

    def remember(self, videos: t.Sequence[Observed], now: float) -> None:
        if self.feed_id is None:
            raise RuntimeError("remember() before create()")
        self.conn.executemany(
            "INSERT INTO seen_videos (feed_id, video_id, created_at, first_seen_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (feed_id, video_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
            [(self.feed_id, v.video_id, v.created_at, now, now) for v in videos],
        )

    def prune(self, keep: int) -> int:
        if self.feed_id is None:
            return 0
        doomed = self.conn.execute(
            "SELECT video_id, created_at FROM seen_videos WHERE feed_id = ?"
            " ORDER BY last_seen_at DESC, created_at DESC LIMIT -1 OFFSET ?",
            (self.feed_id, keep),
        ).fetchall()
        if not doomed:
            return 0
        self.conn.executemany(
            "DELETE FROM seen_videos WHERE feed_id = ? AND video_id = ?",
            [(self.feed_id, video_id) for video_id, _ in doomed],
        )
        floor = max(created for _, created in doomed)
        self.conn.execute(
            "UPDATE feeds SET floor = max(floor, ?) WHERE id = ?", (floor, self.feed_id)
        )
        self.state = FeedState(floor=max(floor, self.state.floor if self.state else 0))
        return len(doomed)
