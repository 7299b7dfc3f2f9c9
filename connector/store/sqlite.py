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
from .base import (
    Delivery,
    FeedKey,
    FeedState,
    FeedTransaction,
    Observed,
    Store,
    Subscription,
)

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
)

_SUBSCRIPTION_COLUMNS = (
    "id, tenant, platform, provider, consumer, handle, event, target_url, sealed_secret, created_at"
)
_DELIVERY_COLUMNS = (
    "o.id, o.subscription_id, o.video_id, o.webhook_id, o.payload, o.status, o.attempts,"
    " o.created_at, o.next_attempt_at, o.last_status, o.last_error"
)


def _subscription(row: t.Sequence[t.Any]) -> Subscription:
    return Subscription(*row[:8], secret_ciphertext=bytes(row[8]), created_at=row[9])


def _delivery(row: t.Sequence[t.Any]) -> Delivery:
    return Delivery(*row)


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

    # -- subscriptions ------------------------------------------------------------------------

    def add_subscription(
        self,
        subscription: Subscription,
        *,
        tenant_key: bytes,
        baseline: t.Sequence[Observed],
        floor: int,
        now: float,
    ) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO tenant_keys (tenant, sealed, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (tenant) DO UPDATE SET sealed = excluded.sealed,"
                " updated_at = excluded.updated_at",
                (subscription.tenant, tenant_key, now),
            )
            conn.execute(
                f"INSERT INTO subscriptions ({_SUBSCRIPTION_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    subscription.id,
                    subscription.tenant,
                    subscription.platform,
                    subscription.provider,
                    subscription.consumer,
                    subscription.handle,
                    subscription.event,
                    subscription.target_url,
                    subscription.secret_ciphertext,
                    subscription.created_at,
                ),
            )
            feed = _SQLiteFeedTransaction(conn, subscription.feed)
            feed.create(floor)
            feed.remember(baseline, now)

    def subscriptions(self, tenant: str | None = None) -> list[Subscription]:
        with self._connect() as conn:
            if tenant is None:
                rows = conn.execute(
                    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions ORDER BY created_at, id"
                )
            else:
                rows = conn.execute(
                    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE tenant = ?"
                    " ORDER BY created_at, id",
                    (tenant,),
                )
            return [_subscription(row) for row in rows]

    def subscription(self, subscription_id: str) -> Subscription | None:
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?",
                (subscription_id,),
            ).fetchone()
            return _subscription(row) if row else None

    def remove_subscription(self, subscription_id: str) -> bool:
        with self._transaction() as conn:
            row = conn.execute(
                f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?",
                (subscription_id,),
            ).fetchone()
            if row is None:
                return False
            subscription = _subscription(row)
            feed = subscription.feed
            conn.execute(
                "DELETE FROM feeds WHERE tenant = ? AND platform = ? AND consumer = ?"
                " AND handle = ?",
                (feed.tenant, feed.platform, feed.consumer, feed.handle),
            )
            conn.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))
            conn.execute(
                "DELETE FROM tenant_keys WHERE tenant = ? AND NOT EXISTS"
                " (SELECT 1 FROM subscriptions WHERE tenant = ?)",
                (subscription.tenant, subscription.tenant),
            )
            return True

    def tenant_key(self, tenant: str) -> bytes | None:
        with self._connect() as conn:
            row = conn.execute("SELECT sealed FROM tenant_keys WHERE tenant = ?", (tenant,))
            found = row.fetchone()
            return bytes(found[0]) if found else None

    # -- outbox -------------------------------------------------------------------------------

    def next_deliveries(self, now: float) -> list[Delivery]:
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM outbox o JOIN ("
                " SELECT subscription_id, min(id) AS head FROM outbox WHERE status = 'pending'"
                " GROUP BY subscription_id) h ON o.id = h.head"
                " WHERE o.next_attempt_at <= ? ORDER BY o.id",
                (now,),
            )
            return [_delivery(row) for row in rows]

    def claim(
        self,
        delivery_id: int,
        owner: str,
        *,
        now: float,
        lease: float,
        is_stale: t.Callable[[str], bool],
    ) -> Delivery | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT claimed_by, claimed_until FROM outbox WHERE id = ? AND status = 'pending'",
                (delivery_id,),
            ).fetchone()
            if row is None:
                return None
            holder, until = row
            if holder and holder != owner and until > now and not is_stale(holder):
                return None
            conn.execute(
                "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                (owner, now + lease, delivery_id),
            )
            found = conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM outbox o WHERE o.id = ?", (delivery_id,)
            ).fetchone()
            return _delivery(found)

    def delivered(self, delivery_id: int) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (delivery_id,))

    def retry_later(self, delivery_id: int, *, at: float, status: int | None, error: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?,"
                " last_status = ?, last_error = ?, claimed_by = NULL, claimed_until = NULL"
                " WHERE id = ?",
                (at, status, error[:500], delivery_id),
            )

    def dead_letter(self, delivery_id: int, *, status: int | None, error: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_status = ?,"
                " last_error = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                (status, error[:500], delivery_id),
            )

    def dead_letters(self, tenant: str | None = None) -> list[Delivery]:
        with self._connect() as conn:
            return self._dead(conn, tenant)

    def replay(
        self, delivery_ids: t.Sequence[int] | None, *, tenant: str | None, now: float
    ) -> int:
        with self._transaction() as conn:
            chosen = [d.id for d in self._dead(conn, tenant)]
            if delivery_ids is not None:
                wanted = set(delivery_ids)
                chosen = [i for i in chosen if i in wanted]
            conn.executemany(
                "UPDATE outbox SET status = 'pending', attempts = 0, created_at = ?,"
                " next_attempt_at = ?, last_status = NULL, last_error = NULL WHERE id = ?",
                [(now, now, i) for i in chosen],
            )
            return len(chosen)

    @staticmethod
    def _dead(conn: sqlite3.Connection, tenant: str | None) -> list[Delivery]:
        rows = conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM outbox o"
            " JOIN subscriptions s ON s.id = o.subscription_id"
            " WHERE o.status = 'dead' AND (? IS NULL OR s.tenant = ?) ORDER BY o.id",
            (tenant, tenant),
        )
        return [_delivery(row) for row in rows]

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

    def enqueue(self, subscription_id: str, items: t.Sequence[tuple[str, str]], now: float) -> None:
        self.conn.executemany(
            "INSERT INTO outbox (subscription_id, video_id, webhook_id, payload, created_at,"
            " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (subscription_id, video_id) DO NOTHING",
            [
                (subscription_id, video_id, f"msg_{subscription_id}_{video_id}", payload, now, now)
                for video_id, payload in items
            ],
        )
