"""The store logic both SQL backends share; each backend supplies connections, locks and DDL.

Queries are written with ``?`` placeholders and run through :class:`Statements`, which
adapts them to the driver's paramstyle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import typing as t

from .base import (
    Delivery,
    FeedKey,
    FeedState,
    FeedTransaction,
    Gap,
    LimitReached,
    Observed,
    Sealed,
    Store,
    Subscription,
    WatchKey,
)

# The schema, one script per version, for every backend: each fills in its own types
# ({identity} key, {bigint}, {float}, {bytes}) and table options ({without_rowid}).
SCHEMA: tuple[str, ...] = (
    # 1: feeds and their seen ids.
    """
    CREATE TABLE feeds (
        id {identity},
        tenant TEXT NOT NULL,
        platform TEXT NOT NULL,
        consumer TEXT NOT NULL,
        handle TEXT NOT NULL,
        floor {bigint} NOT NULL,
        created_at {float} NOT NULL,
        UNIQUE (tenant, platform, consumer, handle)
    );
    CREATE TABLE seen_videos (
        feed_id {bigint} NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
        video_id TEXT NOT NULL,
        created_at {bigint} NOT NULL,
        first_seen_at {float} NOT NULL,
        last_seen_at {float} NOT NULL,
        PRIMARY KEY (feed_id, video_id)
    ) {without_rowid};
    CREATE INDEX seen_videos_by_recency ON seen_videos (feed_id, last_seen_at, created_at);
    """,
    # 2: instant triggers: sealed tenant keys, subscriptions and the delivery outbox.
    """
    CREATE TABLE tenant_keys (
        tenant TEXT PRIMARY KEY,
        sealed {bytes} NOT NULL,
        updated_at {float} NOT NULL
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
        sealed_secret {bytes} NOT NULL,
        created_at {float} NOT NULL
    );
    CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant);
    CREATE TABLE outbox (
        id {identity},
        subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
        video_id TEXT NOT NULL,
        webhook_id TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at {float} NOT NULL,
        next_attempt_at {float} NOT NULL,
        claimed_by TEXT,
        claimed_until {float},
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
        last_polled_at {float},
        claimed_by TEXT,
        claimed_until {float},
        PRIMARY KEY (tenant, provider, handle)
    );
    INSERT INTO watches (tenant, provider, handle)
        SELECT DISTINCT tenant, coalesce(provider, ''), handle FROM subscriptions;
    """,
    # 4: catch-ups a poll's time budget cut short, and what each feed delivered lately
    # (for callers that ask for recent videos again, see triggers/new_video.py).
    """
    ALTER TABLE feeds ADD COLUMN gaps TEXT;
    CREATE TABLE recent_deliveries (
        feed_id {bigint} NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
        video_id TEXT NOT NULL,
        created_at {bigint} NOT NULL,
        delivered_at {float} NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (feed_id, video_id)
    ) {without_rowid};
    """,
    # 5: what the operator console shows (see store/activity.py): each delivery attempt
    # (a bounded log per subscription), the last poll cycles, upstream calls counted in
    # five-minute buckets, and each watch's last failed poll.
    """
    CREATE TABLE delivery_attempts (
        id {identity},
        subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
        video_id TEXT NOT NULL,
        webhook_id TEXT NOT NULL,
        attempted_at {float} NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER,
        duration {float} NOT NULL,
        error TEXT
    );
    CREATE INDEX delivery_attempts_by_subscription ON delivery_attempts (subscription_id, id);
    CREATE TABLE poll_cycles (
        id {identity},
        started_at {float} NOT NULL,
        duration {float} NOT NULL,
        worker TEXT NOT NULL,
        counts TEXT NOT NULL
    );
    CREATE TABLE upstream_usage (
        bucket {bigint} NOT NULL,
        tenant TEXT NOT NULL,
        provider TEXT NOT NULL,
        request_source TEXT NOT NULL,
        outcome TEXT NOT NULL,
        calls {bigint} NOT NULL,
        seconds {float} NOT NULL,
        PRIMARY KEY (bucket, tenant, provider, request_source, outcome)
    ) {without_rowid};
    ALTER TABLE watches ADD COLUMN last_error TEXT;
    ALTER TABLE watches ADD COLUMN last_error_at {float};
    """,
    # 6: what the subscription limits count per target (see hooks/targets.py target_key;
    # older rows count by their URL as given), and a value sealed with the secret key, so
    # that start-up tells a wrong CONNECTOR_SECRET_KEY (see crypto.py check_secret_key).
    """
    ALTER TABLE subscriptions ADD COLUMN target_key TEXT;
    UPDATE subscriptions SET target_key = target_url;
    CREATE INDEX subscriptions_by_target ON subscriptions (tenant, target_key);
    CREATE TABLE key_check (
        id INTEGER PRIMARY KEY,
        sealed {bytes} NOT NULL,
        updated_at {float} NOT NULL
    );
    """,
    # 7: quiet handles are polled less often (see hooks/cadence.py). A watch is due once
    # gap_from (its last poll, later for a quiet handle; 0 for "now") is CONNECTOR_POLL_MIN_GAP
    # old, so claiming stays one indexed range; active_at is when a poll last found new videos
    # or the watch last gained a subscription. Existing watches stay due exactly as before.
    """
    ALTER TABLE watches ADD COLUMN gap_from {float} NOT NULL DEFAULT 0;
    ALTER TABLE watches ADD COLUMN active_at {float};
    UPDATE watches SET gap_from = last_polled_at WHERE last_polled_at IS NOT NULL;
    CREATE INDEX watches_by_due ON watches (gap_from, tenant, provider, handle);
    """,
    # 8: a handle whose polls keep failing for a lasting reason (gone, key refused, no
    # credits) backs off (see hooks/cadence.py): since when its polls have failed so.
    """
    ALTER TABLE watches ADD COLUMN failing_since {float};
    """,
)


SUBSCRIPTION_COLUMNS = (
    "id, tenant, platform, provider, consumer, handle, event, target_url, sealed_secret, created_at"
)
DELIVERY_COLUMNS = (
    "o.id, o.subscription_id, o.video_id, o.webhook_id, o.payload, o.status, o.attempts,"
    " o.created_at, o.next_attempt_at, o.last_status, o.last_error"
)


class Statements:
    """A connection inside a transaction, taking ``?`` placeholders."""

    def __init__(self, conn: t.Any, placeholder: str) -> None:
        self.conn = conn
        self.placeholder = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def run(self, sql: str, params: t.Sequence[t.Any] = ()) -> t.Any:
        return self.conn.execute(self._sql(sql), tuple(params))

    def one(self, sql: str, params: t.Sequence[t.Any] = ()) -> t.Any:
        return self.run(sql, params).fetchone()

    def all(self, sql: str, params: t.Sequence[t.Any] = ()) -> list[t.Any]:
        return list(self.run(sql, params).fetchall())

    def many(self, sql: str, rows: t.Sequence[t.Sequence[t.Any]]) -> None:
        if rows:
            cursor = self.conn.cursor()
            cursor.executemany(self._sql(sql), [tuple(r) for r in rows])


def subscription_from(row: t.Sequence[t.Any]) -> Subscription:
    sub_id, tenant, platform, provider, consumer, handle, event, target_url, secret, created = row
    return Subscription(
        id=sub_id,
        tenant=tenant,
        platform=platform,
        provider=provider,
        consumer=consumer,
        handle=handle,
        event=event,
        target_url=target_url,
        secret_ciphertext=bytes(secret),
        created_at=created,
    )


def delivery_from(row: t.Sequence[t.Any]) -> Delivery:
    return Delivery(*row)


def _marks(count: int) -> str:
    return ",".join("?" * count)


#: Ids one peek looks up: a feed page holds far fewer; the rest count as unseen (see peek).
PEEK_IDS = 500


class SQLStore(Store):
    """Every store operation, over :meth:`_transaction` of the backend."""

    #: Row lock for a read-modify-write of one row ("" where the transaction locks all).
    FOR_UPDATE: t.ClassVar[str] = ""
    #: Row lock that passes over rows another transaction holds.
    SKIP_LOCKED: t.ClassVar[str] = ""
    #: How "no limit" is written before OFFSET.
    NO_LIMIT: t.ClassVar[str] = "LIMIT -1"
    #: The backend's DDL, one script per schema version.
    MIGRATIONS: t.ClassVar[tuple[str, ...]] = ()

    def _transaction(
        self, *, write: bool = True, lock: str | None = None
    ) -> contextlib.AbstractContextManager[Statements]:
        """A transaction, committed at the end of the ``with`` block.

        ``lock`` names something to hold exclusively until then (a feed); backends whose
        write transactions lock everything may ignore it.

        :raises StoreUnavailable: when the store is busy or unreachable.
        """
        raise NotImplementedError

    def _statement(self) -> contextlib.AbstractContextManager[Statements]:
        """For one read statement, which is its own snapshot: backends whose transaction
        costs round trips (BEGIN, COMMIT) run it outside one.

        :raises StoreUnavailable: when the store is busy or unreachable.
        """
        return self._transaction(write=False)

    def migrate(self) -> int:
        """Apply pending migrations, once however many workers start together; idempotent.
        Returns the schema version."""
        with self._transaction(lock="schema migration") as sql:
            sql.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = sql.one("SELECT max(version) FROM schema_version")[0] or 0
            for version, script in enumerate(self.MIGRATIONS, start=1):
                if version > current:
                    for statement in filter(str.strip, script.split(";")):
                        sql.run(statement)
                    sql.run("INSERT INTO schema_version (version) VALUES (?)", (version,))
            return len(self.MIGRATIONS)

    # -- feeds ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def feed(self, key: FeedKey) -> t.Iterator[FeedTransaction]:
        with self._transaction(lock=_feed_lock(key)) as sql:
            yield SQLFeedTransaction(sql, key, self.NO_LIMIT)

    def peek(self, key: FeedKey, video_ids: t.Iterable[str]) -> tuple[FeedState | None, set[str]]:
        # Every idle trigger poll comes here: one statement (one round trip on PostgreSQL).
        ids = list(dict.fromkeys(video_ids))[:PEEK_IDS] or [""]
        with self._statement() as sql:
            rows = sql.all(
                "SELECT f.floor, f.gaps, s.video_id FROM feeds f LEFT JOIN seen_videos s"
                f" ON s.feed_id = f.id AND s.video_id IN ({_marks(len(ids))})"
                " WHERE f.tenant = ? AND f.platform = ? AND f.consumer = ? AND f.handle = ?",
                (*ids, key.tenant, key.platform, key.consumer, key.handle),
            )
        if not rows:
            return None, set()
        floor, gaps = rows[0][0], rows[0][1]
        seen = {row[2] for row in rows if row[2] is not None}
        return FeedState(floor=floor, gaps=gaps_from_text(gaps)), seen

    # -- subscriptions ----------------------------------------------------------------------

    def add_subscription(
        self,
        subscription: Subscription,
        *,
        tenant_key: bytes,
        baseline: t.Sequence[Observed],
        floor: int,
        now: float,
        target_key: str | None = None,
        max_per_tenant: int | None = None,
        max_per_target: int | None = None,
    ) -> None:
        tenant = subscription.tenant
        target = subscription.target_url if target_key is None else target_key
        # The tenant's lock makes counting and adding one step. (The new feed needs no lock
        # of its own: nothing can reach it before this transaction commits.)
        with self._transaction(lock=_tenant_lock(tenant)) as sql:
            if max_per_tenant is not None:
                (count,) = sql.one("SELECT count(*) FROM subscriptions WHERE tenant = ?", (tenant,))
                if count >= max_per_tenant:
                    raise LimitReached("tenant", max_per_tenant)
            if max_per_target is not None:
                (count,) = sql.one(
                    "SELECT count(*) FROM subscriptions WHERE tenant = ? AND target_key = ?",
                    (tenant, target),
                )
                if count >= max_per_target:
                    raise LimitReached("target", max_per_target)
            sql.run(
                "INSERT INTO tenant_keys (tenant, sealed, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (tenant) DO UPDATE SET sealed = excluded.sealed,"
                " updated_at = excluded.updated_at",
                (subscription.tenant, tenant_key, now),
            )
            sql.run(
                f"INSERT INTO subscriptions ({SUBSCRIPTION_COLUMNS}, target_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    target,
                ),
            )
            watch = subscription.watch
            # A new subscriber counts as activity: a watch slowed down for quiet, or backing
            # off from failures (the subscriber may bring a new key), goes back to the base
            # gap, counted from its last poll.
            sql.run(
                "INSERT INTO watches (tenant, provider, handle, active_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant, provider, handle) DO UPDATE"
                " SET active_at = excluded.active_at, failing_since = NULL, gap_from = CASE"
                " WHEN watches.last_polled_at < watches.gap_from THEN watches.last_polled_at"
                " ELSE watches.gap_from END",
                (watch.tenant, watch.provider, watch.handle, now),
            )
            feed = SQLFeedTransaction(sql, subscription.feed, self.NO_LIMIT)
            feed.create(floor)
            feed.remember(baseline, now)

    def subscriptions(self, tenant: str | None = None) -> list[Subscription]:
        with self._transaction(write=False) as sql:
            where, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
            rows = sql.all(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions {where} ORDER BY created_at, id",
                params,
            )
            return [subscription_from(row) for row in rows]

    def subscription(self, subscription_id: str) -> Subscription | None:
        with self._transaction(write=False) as sql:
            row = sql.one(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?", (subscription_id,)
            )
            return subscription_from(row) if row else None

    def count_subscriptions(self, tenant: str, target_key: str | None = None) -> int:
        with self._transaction(write=False) as sql:
            if target_key is None:
                row = sql.one("SELECT count(*) FROM subscriptions WHERE tenant = ?", (tenant,))
            else:
                row = sql.one(
                    "SELECT count(*) FROM subscriptions WHERE tenant = ? AND target_key = ?",
                    (tenant, target_key),
                )
            return int(row[0])

    def has_subscriptions(self) -> bool:
        with self._transaction(write=False) as sql:
            return sql.one("SELECT 1 FROM subscriptions LIMIT 1") is not None

    def remove_subscription(self, subscription_id: str) -> bool:
        with self._transaction() as sql:
            row = sql.one(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ? {self.FOR_UPDATE}",
                (subscription_id,),
            )
            if row is None:
                return False
            subscription = subscription_from(row)
            feed, watch = subscription.feed, subscription.watch
            sql.run("DELETE FROM outbox WHERE subscription_id = ?", (subscription_id,))
            sql.run(
                "DELETE FROM feeds WHERE tenant = ? AND platform = ? AND consumer = ?"
                " AND handle = ?",
                (feed.tenant, feed.platform, feed.consumer, feed.handle),
            )
            sql.run("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))
            sql.run(
                "DELETE FROM watches WHERE tenant = ? AND provider = ? AND handle = ?"
                " AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE tenant = ?"
                " AND coalesce(provider, '') = ? AND handle = ?)",
                (*(watch.tenant, watch.provider, watch.handle) * 2,),
            )
            sql.run(
                "DELETE FROM tenant_keys WHERE tenant = ? AND NOT EXISTS"
                " (SELECT 1 FROM subscriptions WHERE tenant = ?)",
                (subscription.tenant, subscription.tenant),
            )
            return True

    def tenant_key(self, tenant: str) -> bytes | None:
        with self._transaction(write=False) as sql:
            row = sql.one("SELECT sealed FROM tenant_keys WHERE tenant = ?", (tenant,))
            return bytes(row[0]) if row else None

    # -- the secret key ---------------------------------------------------------------------

    def key_check(self) -> bytes | None:
        with self._transaction(write=False) as sql:
            row = sql.one("SELECT sealed FROM key_check WHERE id = 1")
            return bytes(row[0]) if row else None

    def put_key_check(self, blob: bytes, *, replacing: bytes | None) -> bool:
        with self._transaction(lock="key check") as sql:
            row = sql.one(f"SELECT sealed FROM key_check WHERE id = 1 {self.FOR_UPDATE}")
            current = bytes(row[0]) if row else None
            if current != replacing:
                return False
            _put_key_check(sql, blob)
            return True

    def sealed_values(self) -> list[Sealed]:
        with self._transaction(write=False) as sql:
            tenants = sql.all("SELECT tenant, sealed FROM tenant_keys ORDER BY tenant")
            secrets = sql.all("SELECT id, sealed_secret FROM subscriptions ORDER BY id")
        return [Sealed("tenant", owner, bytes(blob)) for owner, blob in tenants] + [
            Sealed("subscription", owner, bytes(blob)) for owner, blob in secrets
        ]

    def reseal(self, changes: t.Sequence[tuple[Sealed, bytes]], key_check: bytes) -> int:
        replaced = 0
        with self._transaction(lock="key check") as sql:
            for old, blob in changes:
                if old.kind == "tenant":
                    cursor = sql.run(
                        "UPDATE tenant_keys SET sealed = ? WHERE tenant = ? AND sealed = ?",
                        (blob, old.owner, old.blob),
                    )
                else:
                    cursor = sql.run(
                        "UPDATE subscriptions SET sealed_secret = ? WHERE id = ?"
                        " AND sealed_secret = ?",
                        (blob, old.owner, old.blob),
                    )
                replaced += max(cursor.rowcount, 0)
            _put_key_check(sql, key_check)
        return replaced

    # -- watches ----------------------------------------------------------------------------

    def claim_watches(
        self,
        owner: str,
        *,
        now: float,
        lease: float,
        min_gap: float,
        limit: int = 1000,
        is_stale: t.Callable[[str], bool] = lambda owner: False,
    ) -> list[WatchKey]:
        due = now - min_gap
        with self._transaction() as sql:
            # Leases still running whose owner is known to be gone free their handles too.
            holders = sql.all(
                "SELECT DISTINCT claimed_by FROM watches"
                " WHERE claimed_by IS NOT NULL AND claimed_until >= ? AND gap_from <= ?",
                (now, due),
            )
            gone = [holder for (holder,) in holders if is_stale(holder)]
            or_gone = f" OR claimed_by IN ({', '.join('?' * len(gone))})" if gone else ""
            # The LIMIT is in SQL so that only the rows taken are locked: a worker claiming
            # at the same moment skips these and finds the next ones. watches_by_due serves
            # both the range and the order.
            rows = sql.all(
                "SELECT tenant, provider, handle FROM watches WHERE gap_from <= ?"
                f" AND (claimed_by IS NULL OR claimed_until < ?{or_gone})"
                " ORDER BY gap_from, tenant, provider, handle"
                f" LIMIT ? {self.SKIP_LOCKED}",
                (due, now, *gone, limit),
            )
            sql.many(
                "UPDATE watches SET claimed_by = ?, claimed_until = ?"
                " WHERE tenant = ? AND provider = ? AND handle = ?",
                [(owner, now + lease, *row) for row in rows],
            )
            return [WatchKey(*row) for row in rows]

    def release_watches(
        self,
        owner: str,
        polls: t.Sequence[tuple[WatchKey, float]],
        *,
        found_new: t.Collection[WatchKey] = (),
        failed: t.Collection[WatchKey] = (),
        lasting: t.Collection[WatchKey] = (),
        defer: t.Callable[[float], float] | None = None,
        backoff: t.Callable[[float], float] | None = None,
    ) -> None:
        if not polls:
            return
        with self._transaction() as sql:
            # When each handle of ours last found something: one statement for the batch
            # (one per handle cost a cycle's main thread a round trip per handle read).
            keys = [(key.tenant, key.provider, key.handle) for key, _ in polls]
            claimed = {
                (tenant, provider, handle): (active_at, failing_since)
                for tenant, provider, handle, active_at, failing_since in sql.all(
                    "SELECT tenant, provider, handle, active_at, failing_since FROM watches"
                    " WHERE claimed_by = ? AND (tenant, provider, handle) IN"
                    f" (VALUES {', '.join(['(?, ?, ?)'] * len(keys))})",
                    (owner, *(part for key in keys for part in key)),
                )
            }
            changes = []
            for key, at in polls:
                where = (key.tenant, key.provider, key.handle, owner)
                if where[:3] not in claimed:
                    continue  # another owner's claim now
                last_active, failing_since = claimed[where[:3]]
                if key in failed:
                    # A failed poll saw nothing: the activity stays as it was (NULL here).
                    active: float | None = None
                    if key in lasting:
                        since = at if failing_since is None else failing_since
                        wait = backoff(at - since) if backoff else 0.0
                    else:  # retried after the base gap; a back-off under way goes on after
                        since, wait = failing_since, 0.0
                elif key in found_new:
                    active, wait, since = at, defer(0.0) if defer else 0.0, None
                else:
                    active = at if last_active is None else last_active
                    wait, since = defer(at - active) if defer else 0.0, None
                changes.append((at, at + max(0.0, wait), active, since, *where))
            sql.many(
                "UPDATE watches SET last_polled_at = ?, gap_from = ?,"
                " active_at = coalesce(?, active_at), failing_since = ?,"
                " claimed_by = NULL, claimed_until = NULL"
                " WHERE tenant = ? AND provider = ? AND handle = ? AND claimed_by = ?",
                changes,
            )

    # -- outbox -----------------------------------------------------------------------------

    def next_deliveries(self, now: float, subscription_id: str | None = None) -> list[Delivery]:
        only, params = (
            ("AND subscription_id = ?", (subscription_id,)) if subscription_id else ("", ())
        )
        with self._transaction(write=False) as sql:
            rows = sql.all(
                f"SELECT {DELIVERY_COLUMNS} FROM outbox o JOIN ("
                " SELECT subscription_id, min(id) AS head FROM outbox"
                f" WHERE status = 'pending' {only}"
                " GROUP BY subscription_id) h ON o.id = h.head"
                " WHERE o.next_attempt_at <= ? ORDER BY o.id",
                (*params, now),
            )
            return [delivery_from(row) for row in rows]

    def claim(
        self,
        delivery_id: int,
        owner: str,
        *,
        now: float,
        lease: float,
        is_stale: t.Callable[[str], bool],
    ) -> Delivery | None:
        with self._transaction() as sql:
            row = sql.one(
                "SELECT claimed_by, claimed_until FROM outbox WHERE id = ? AND status = 'pending'"
                f" {self.FOR_UPDATE}",
                (delivery_id,),
            )
            if row is None:
                return None
            holder, until = row
            if holder and holder != owner and until > now and not is_stale(holder):
                return None
            sql.run(
                "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                (owner, now + lease, delivery_id),
            )
            found = sql.one(
                f"SELECT {DELIVERY_COLUMNS} FROM outbox o WHERE o.id = ?", (delivery_id,)
            )
            return delivery_from(found)

    def delivered(self, delivery_id: int) -> None:
        with self._transaction() as sql:
            sql.run("DELETE FROM outbox WHERE id = ?", (delivery_id,))

    def retry_later(self, delivery_id: int, *, at: float, status: int | None, error: str) -> None:
        with self._transaction() as sql:
            sql.run(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?,"
                " last_status = ?, last_error = ?, claimed_by = NULL, claimed_until = NULL"
                " WHERE id = ?",
                (at, status, error[:500], delivery_id),
            )

    def dead_letter(self, delivery_id: int, *, status: int | None, error: str) -> None:
        with self._transaction() as sql:
            sql.run(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_status = ?,"
                " last_error = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                (status, error[:500], delivery_id),
            )

    def dead_letters(self, tenant: str | None = None) -> list[Delivery]:
        with self._transaction(write=False) as sql:
            return _dead(sql, tenant)

    def replay(
        self, delivery_ids: t.Sequence[int] | None, *, tenant: str | None, now: float
    ) -> int:
        with self._transaction() as sql:
            chosen = [d.id for d in _dead(sql, tenant)]
            if delivery_ids is not None:
                wanted = set(delivery_ids)
                chosen = [i for i in chosen if i in wanted]
            sql.many(
                "UPDATE outbox SET status = 'pending', attempts = 0, created_at = ?,"
                " next_attempt_at = ?, last_status = NULL, last_error = NULL WHERE id = ?",
                [(now, now, i) for i in chosen],
            )
            return len(chosen)

    def ping(self) -> None:
        with self._transaction(write=False) as sql:
            sql.one("SELECT 1 FROM schema_version")


def _dead(sql: Statements, tenant: str | None) -> list[Delivery]:
    where, params = ("AND s.tenant = ?", (tenant,)) if tenant is not None else ("", ())
    rows = sql.all(
        f"SELECT {DELIVERY_COLUMNS} FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id"
        f" WHERE o.status = 'dead' {where} ORDER BY o.id",
        params,
    )
    return [delivery_from(row) for row in rows]


def gaps_from_text(text: str | None) -> tuple[Gap, ...]:
    if not text:
        return ()
    return tuple(Gap(cursor=str(g["cursor"]), pages=int(g["pages"])) for g in json.loads(text))


def gaps_to_text(gaps: t.Sequence[Gap]) -> str | None:
    if not gaps:
        return None
    return json.dumps([{"cursor": g.cursor, "pages": g.pages} for g in gaps])


def _put_key_check(sql: Statements, blob: bytes) -> None:
    sql.run(
        "INSERT INTO key_check (id, sealed, updated_at) VALUES (1, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed,"
        " updated_at = excluded.updated_at",
        (blob, time.time()),
    )


def _tenant_lock(tenant: str) -> str:
    return "\x1f".join(("tenant", tenant))


def _feed_lock(key: FeedKey) -> str:
    return "\x1f".join(("feed", key.tenant, key.platform, key.consumer, key.handle))


class SQLFeedTransaction(FeedTransaction):
    """A feed's locked transaction on a SQL store."""

    def __init__(self, sql: Statements, key: FeedKey, no_limit: str) -> None:
        self.sql = sql
        self.key = key
        self.no_limit = no_limit
        row = sql.one(
            "SELECT id, floor, gaps FROM feeds"
            " WHERE tenant = ? AND platform = ? AND consumer = ? AND handle = ?",
            (key.tenant, key.platform, key.consumer, key.handle),
        )
        self.feed_id: int | None = row[0] if row else None
        self.state = FeedState(floor=row[1], gaps=gaps_from_text(row[2])) if row else None

    def create(self, floor: int) -> None:
        row = self.sql.one(
            "INSERT INTO feeds (tenant, platform, consumer, handle, floor, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (
                self.key.tenant,
                self.key.platform,
                self.key.consumer,
                self.key.handle,
                floor,
                time.time(),
            ),
        )
        self.feed_id = row[0]
        self.state = FeedState(floor=floor)

    def seen(self, video_ids: t.Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(video_ids))
        if self.feed_id is None or not ids:
            return set()
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.sql.all(
                "SELECT video_id FROM seen_videos"
                f" WHERE feed_id = ? AND video_id IN ({_marks(len(chunk))})",
                (self.feed_id, *chunk),
            )
            found.update(row[0] for row in rows)
        return found

    def remember(self, videos: t.Sequence[Observed], now: float) -> None:
        if self.feed_id is None:
            raise RuntimeError("remember() before create()")
        self.sql.many(
            "INSERT INTO seen_videos (feed_id, video_id, created_at, first_seen_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (feed_id, video_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
            list(
                {
                    v.video_id: (self.feed_id, v.video_id, v.created_at, now, now) for v in videos
                }.values()
            ),
        )

    def prune(self, keep: int) -> int:
        if self.feed_id is None or self.state is None:
            return 0
        doomed = self.sql.all(
            "SELECT video_id, created_at FROM seen_videos WHERE feed_id = ?"
            f" ORDER BY last_seen_at DESC, created_at DESC {self.no_limit} OFFSET ?",
            (self.feed_id, keep),
        )
        if not doomed:
            return 0
        self.sql.many(
            "DELETE FROM seen_videos WHERE feed_id = ? AND video_id = ?",
            [(self.feed_id, video_id) for video_id, _ in doomed],
        )
        floor = max(self.state.floor, *(created for _, created in doomed))
        self.sql.run("UPDATE feeds SET floor = ? WHERE id = ?", (floor, self.feed_id))
        self.state = dataclasses.replace(self.state, floor=floor)
        return len(doomed)

    def set_gaps(self, gaps: t.Sequence[Gap]) -> None:
        if self.feed_id is None or self.state is None:
            raise RuntimeError("set_gaps() before create()")
        gaps = tuple(gaps)
        if gaps != self.state.gaps:
            self.sql.run(
                "UPDATE feeds SET gaps = ? WHERE id = ?", (gaps_to_text(gaps), self.feed_id)
            )
            self.state = dataclasses.replace(self.state, gaps=gaps)

    def record_delivered(
        self, items: t.Sequence[tuple[Observed, str]], now: float, *, keep: int, window: float
    ) -> None:
        if self.feed_id is None:
            raise RuntimeError("record_delivered() before create()")
        self.sql.many(
            "INSERT INTO recent_deliveries (feed_id, video_id, created_at, delivered_at, payload)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (feed_id, video_id) DO NOTHING",
            [(self.feed_id, o.video_id, o.created_at, now, payload) for o, payload in items],
        )
        self.sql.run(
            "DELETE FROM recent_deliveries WHERE feed_id = ? AND (delivered_at < ?"
            " OR video_id NOT IN (SELECT video_id FROM recent_deliveries WHERE feed_id = ?"
            " ORDER BY delivered_at DESC, created_at DESC LIMIT ?))",
            (self.feed_id, now - window, self.feed_id, keep),
        )

    def recent(self, since: float, limit: int) -> list[str]:
        if self.feed_id is None:
            return []
        rows = self.sql.all(
            "SELECT payload FROM recent_deliveries WHERE feed_id = ? AND delivered_at >= ?"
            " ORDER BY delivered_at DESC, created_at DESC, video_id DESC LIMIT ?",
            (self.feed_id, since, limit),
        )
        return [row[0] for row in rows]

    def enqueue(self, subscription_id: str, items: t.Sequence[tuple[str, str]], now: float) -> None:
        self.sql.many(
            "INSERT INTO outbox (subscription_id, video_id, webhook_id, payload, created_at,"
            " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (subscription_id, video_id) DO NOTHING",
            [
                (subscription_id, video_id, f"msg_{subscription_id}_{video_id}", payload, now, now)
                for video_id, payload in items
            ],
        )
