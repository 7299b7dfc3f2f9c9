"""The operator's view of the store: activity logs and the console's listings.

Three bounded logs, written by :class:`connector.metrics.Metrics` (the one place that counts
what the connector does) and read by the console and ``GET /metrics``:

- ``delivery_attempts``: each webhook delivery attempt, the latest
  ``CONNECTOR_ATTEMPT_LOG_SIZE`` per subscription (they go with the subscription);
- ``poll_cycles``: the last :data:`CYCLES_KEPT` poll cycles, from every worker;
- ``upstream_usage``: upstream calls per tenant, provider, requestSource and outcome, in
  :data:`BUCKET`-second buckets, for :data:`USAGE_KEPT` seconds.

The listings page through watches, subscriptions and dead letters with LIMIT/OFFSET; none
of them returns a sealed key or a signing secret.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t

from ._sql import SQLStore, Statements

if t.TYPE_CHECKING:
    from .base import Store, WatchKey

T = t.TypeVar("T")

BUCKET = 300  # seconds per usage bucket
USAGE_KEPT = 2 * 86400  # usage older than this is forgotten
CYCLES_KEPT = 200


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One delivery attempt. ``outcome``: delivered, retried, dead or unsubscribed."""

    subscription_id: str
    video_id: str
    webhook_id: str
    attempted_at: float
    outcome: str
    status: int | None
    duration: float
    error: str | None


@dataclasses.dataclass(frozen=True)
class Cycle:
    """One poll cycle as the console lists it."""

    started_at: float
    duration: float
    worker: str
    counts: dict[str, int]


@dataclasses.dataclass(frozen=True)
class Usage:
    """Upstream calls of one (tenant, provider, requestSource, outcome), and their seconds."""

    tenant: str
    provider: str
    request_source: str
    outcome: str
    calls: int
    seconds: float


@dataclasses.dataclass(frozen=True)
class OutboxCounts:
    """Deliveries in the outbox, by state."""

    pending: int  # waiting for a first attempt
    retrying: int  # failed at least once, retried later
    dead: int


@dataclasses.dataclass(frozen=True)
class Totals:
    """Counts for the console's overview."""

    subscriptions: int
    watches: int
    polling_feeds: int  # feeds of the polling trigger (not of a subscription)
    backing_off: int  # watches whose reads keep failing for a lasting reason


@dataclasses.dataclass(frozen=True)
class WatchRow:
    """One watched handle as the console's handles page shows it."""

    tenant: str
    provider: str  # "" when the subscriptions named none
    handle: str
    subscriptions: int
    last_polled_at: float | None
    gap_from: float  # due CONNECTOR_POLL_MIN_GAP after this (later than the last poll: slowed)
    failing_since: float | None  # backing off since then (hooks/cadence.py)
    polling_now: bool
    last_error: str | None
    last_error_at: float | None
    videos_seen: int


@dataclasses.dataclass(frozen=True)
class SubscriptionRow:
    """One subscription as the console lists it."""

    id: str
    tenant: str
    platform: str
    provider: str | None
    consumer: str
    handle: str
    event: str
    target_url: str  # may carry a capability token: show its host only
    created_at: float
    pending: int
    dead: int
    head_attempts: int  # failed attempts of the oldest pending delivery
    next_attempt_at: float | None
    head_error: str | None
    last_attempt: Attempt | None


@dataclasses.dataclass(frozen=True)
class QueuedRow:
    """An outbox entry, pending or dead, with its subscription's handle and target."""

    id: int
    subscription_id: str
    tenant: str
    handle: str
    target_url: str
    video_id: str
    status: str
    attempts: int
    created_at: float
    next_attempt_at: float
    last_status: int | None
    last_error: str | None


@dataclasses.dataclass(frozen=True)
class Page(t.Generic[T]):
    """One page of a listing, and where it stands among the others."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


WATCH_SORTS: dict[str, str] = {
    "handle": "w.handle",
    "tenant": "w.tenant",
    "last_poll": "w.last_polled_at",
    "next_poll": "w.gap_from",
    "subscriptions": "subscriptions",
    "videos": "videos_seen",
    "error": "w.last_error_at",
}

_QUEUED_COLUMNS = (
    "o.id, o.subscription_id, s.tenant, s.handle, s.target_url, o.video_id, o.status,"
    " o.attempts, o.created_at, o.next_attempt_at, o.last_status, o.last_error"
)
_ATTEMPT_COLUMNS = (
    "subscription_id, video_id, webhook_id, attempted_at, outcome, status, duration, error"
)


def _like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Activity:
    """Activity logs and listings over a SQL store."""

    def __init__(self, store: Store) -> None:
        if not isinstance(store, SQLStore):
            raise TypeError(f"the console needs a SQL store, not {type(store).__name__}")
        self.store = store

    def _read(self) -> t.ContextManager[Statements]:
        return self.store._transaction(write=False)

    def _write(self) -> t.ContextManager[Statements]:
        return self.store._transaction()

    # -- recording ------------------------------------------------------------------------

    def record_attempt(self, attempt: Attempt, *, delivery_id: int, keep: int) -> None:
        """Log one attempt, keeping the subscription's latest ``keep``. A status or error the
        attempt does not carry is taken from the outbox entry the attempt just updated; an
        attempt on a subscription that is gone (410 Gone) is not logged."""
        with self._write() as sql:
            row = sql.one("SELECT last_status, last_error FROM outbox WHERE id = ?", (delivery_id,))
            status, error = attempt.status, attempt.error
            if row is not None and attempt.outcome != "delivered":
                status = status if status is not None else row[0]
                error = error or row[1]
            if (
                sql.one("SELECT 1 FROM subscriptions WHERE id = ?", (attempt.subscription_id,))
                is None
            ):
                return
            sql.run(
                f"INSERT INTO delivery_attempts ({_ATTEMPT_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attempt.subscription_id,
                    attempt.video_id,
                    attempt.webhook_id,
                    attempt.attempted_at,
                    attempt.outcome,
                    status,
                    attempt.duration,
                    error[:500] if error else None,
                ),
            )
            sql.run(
                "DELETE FROM delivery_attempts WHERE subscription_id = ? AND id <="
                " (SELECT id FROM delivery_attempts WHERE subscription_id = ?"
                " ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (attempt.subscription_id, attempt.subscription_id, keep),
            )

    def record_cycle(self, cycle: Cycle) -> None:
        """Log one poll cycle, keeping the last :data:`CYCLES_KEPT`."""
        with self._write() as sql:
            sql.run(
                "INSERT INTO poll_cycles (started_at, duration, worker, counts)"
                " VALUES (?, ?, ?, ?)",
                (cycle.started_at, cycle.duration, cycle.worker, json.dumps(cycle.counts)),
            )
            sql.run(
                "DELETE FROM poll_cycles WHERE id <="
                " (SELECT id FROM poll_cycles ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (CYCLES_KEPT,),
            )

    def add_usage(self, rows: t.Mapping[tuple[int, str, str, str, str], Usage], now: float) -> None:
        """Add calls to their buckets (keyed by bucket start, tenant, provider, requestSource,
        outcome); forget buckets older than :data:`USAGE_KEPT`."""
        with self._write() as sql:
            sql.many(
                "INSERT INTO upstream_usage (bucket, tenant, provider, request_source, outcome,"
                " calls, seconds) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (bucket, tenant, provider, request_source, outcome) DO UPDATE"
                " SET calls = upstream_usage.calls + excluded.calls,"
                " seconds = upstream_usage.seconds + excluded.seconds",
                [(*key, usage.calls, usage.seconds) for key, usage in rows.items()],
            )
            sql.run("DELETE FROM upstream_usage WHERE bucket < ?", (int(now) - USAGE_KEPT,))

    def watch_failed(self, key: WatchKey, error: str, at: float) -> None:
        """Remember a watch's last failed poll."""
        with self._write() as sql:
            sql.run(
                "UPDATE watches SET last_error = ?, last_error_at = ?"
                " WHERE tenant = ? AND provider = ? AND handle = ?",
                (error[:500], at, key.tenant, key.provider, key.handle),
            )

    def make_due(self, key: WatchKey) -> None:
        """Let the next poll cycle read this watch whenever it was last polled, however quiet
        the handle (see hooks/cadence.py)."""
        with self._write() as sql:
            sql.run(
                "UPDATE watches SET last_polled_at = NULL, gap_from = 0"
                " WHERE tenant = ? AND provider = ? AND handle = ?",
                (key.tenant, key.provider, key.handle),
            )

    # -- reading --------------------------------------------------------------------------

    def outbox_counts(self) -> OutboxCounts:
        with self._read() as sql:
            row = sql.one(
                "SELECT count(CASE WHEN status = 'pending' AND attempts = 0 THEN 1 END),"
                " count(CASE WHEN status = 'pending' AND attempts > 0 THEN 1 END),"
                " count(CASE WHEN status = 'dead' THEN 1 END) FROM outbox"
            )
            return OutboxCounts(int(row[0]), int(row[1]), int(row[2]))

    def totals(self) -> Totals:
        with self._read() as sql:
            row = sql.one(
                "SELECT (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM watches),"
                " (SELECT count(*) FROM feeds WHERE consumer NOT LIKE 'hook:%'),"
                " (SELECT count(*) FROM watches WHERE failing_since IS NOT NULL)"
            )
            return Totals(int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    def cycles(self, limit: int) -> list[Cycle]:
        """The latest poll cycles, newest first."""
        with self._read() as sql:
            rows = sql.all(
                "SELECT started_at, duration, worker, counts FROM poll_cycles"
                " ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        return [Cycle(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def usage(self, since: float) -> list[Usage]:
        """Upstream calls since ``since`` (to the bucket), per tenant, provider,
        requestSource and outcome."""
        with self._read() as sql:
            rows = sql.all(
                "SELECT tenant, provider, request_source, outcome, sum(calls), sum(seconds)"
                " FROM upstream_usage WHERE bucket >= ?"
                " GROUP BY tenant, provider, request_source, outcome"
                " ORDER BY tenant, provider, request_source, outcome",
                (int(since) // BUCKET * BUCKET,),
            )
        return [Usage(r[0], r[1], r[2], r[3], int(r[4]), float(r[5])) for r in rows]

    def watches(
        self,
        *,
        query: str = "",
        provider: str | None = None,
        sort: str = "handle",
        descending: bool = False,
        page: int = 1,
        per_page: int = 25,
        now: float,
    ) -> Page[WatchRow]:
        """Watched handles matching ``query`` (part of a handle, or the start of a tenant
        hash), through ``provider`` ("" for the default) when given."""
        where, params = ["1 = 1"], []
        if query:
            where.append("(lower(w.handle) LIKE ? ESCAPE '\\' OR w.tenant LIKE ? ESCAPE '\\')")
            params += [f"%{_like(query.lower())}%", f"{_like(query.lower())}%"]
        if provider is not None:
            where.append("w.provider = ?")
            params.append(provider)
        order = WATCH_SORTS.get(sort, WATCH_SORTS["handle"])
        direction = "DESC" if descending else "ASC"
        condition = " AND ".join(where)
        with self._read() as sql:
            total = sql.one(f"SELECT count(*) FROM watches w WHERE {condition}", params)[0]
            rows = sql.all(
                "SELECT w.tenant, w.provider, w.handle,"
                " (SELECT count(*) FROM subscriptions s WHERE s.tenant = w.tenant"
                "  AND coalesce(s.provider, '') = w.provider AND s.handle = w.handle)"
                "  AS subscriptions,"
                " w.last_polled_at, w.claimed_until, w.last_error, w.last_error_at, w.gap_from,"
                " w.failing_since,"
                " (SELECT count(DISTINCT sv.video_id) FROM subscriptions s"
                "  JOIN feeds f ON f.tenant = s.tenant AND f.platform = s.platform"
                "  AND f.consumer = 'hook:' || s.id AND f.handle = s.handle"
                "  JOIN seen_videos sv ON sv.feed_id = f.id"
                "  WHERE s.tenant = w.tenant AND coalesce(s.provider, '') = w.provider"
                "  AND s.handle = w.handle) AS videos_seen"
                f" FROM watches w WHERE {condition}"
                f" ORDER BY {order} {direction} NULLS LAST, w.handle, w.tenant, w.provider"
                " LIMIT ? OFFSET ?",
                (*params, per_page, (page - 1) * per_page),
            )
        items = [
            WatchRow(
                tenant=r[0],
                provider=r[1],
                handle=r[2],
                subscriptions=int(r[3]),
                last_polled_at=r[4],
                gap_from=float(r[8]),
                failing_since=r[9],
                polling_now=r[5] is not None and r[5] > now,
                last_error=r[6],
                last_error_at=r[7],
                videos_seen=int(r[10]),
            )
            for r in rows
        ]
        return Page(items, int(total), page, per_page)

    def subscriptions(
        self, *, query: str = "", page: int = 1, per_page: int = 25
    ) -> Page[SubscriptionRow]:
        """Subscriptions, newest first, matching ``query``: part of a handle or consumer, the
        start of an id or tenant hash, or a platform."""
        where, params = "", []
        if query:
            q = _like(query.lower())
            where = (
                "WHERE lower(s.handle) LIKE ? ESCAPE '\\' OR lower(s.consumer) LIKE ? ESCAPE '\\'"
                " OR s.id LIKE ? ESCAPE '\\' OR s.tenant LIKE ? ESCAPE '\\'"
                " OR lower(s.platform) = ?"
            )
            params = [f"%{q}%", f"%{q}%", f"{q}%", f"{q}%", query.lower()]
        with self._read() as sql:
            total = sql.one(f"SELECT count(*) FROM subscriptions s {where}", params)[0]
            ids = [
                r[0]
                for r in sql.all(
                    f"SELECT s.id FROM subscriptions s {where}"
                    " ORDER BY s.created_at DESC, s.id LIMIT ? OFFSET ?",
                    (*params, per_page, (page - 1) * per_page),
                )
            ]
            items = _subscription_rows(sql, ids)
        return Page(items, int(total), page, per_page)

    def subscription(self, subscription_id: str) -> SubscriptionRow | None:
        with self._read() as sql:
            rows = _subscription_rows(sql, [subscription_id])
        return rows[0] if rows else None

    def attempts(self, subscription_id: str, *, page: int = 1, per_page: int = 25) -> Page[Attempt]:
        """A subscription's logged delivery attempts, latest first."""
        with self._read() as sql:
            total = sql.one(
                "SELECT count(*) FROM delivery_attempts WHERE subscription_id = ?",
                (subscription_id,),
            )[0]
            rows = sql.all(
                f"SELECT {_ATTEMPT_COLUMNS} FROM delivery_attempts WHERE subscription_id = ?"
                " ORDER BY id DESC LIMIT ? OFFSET ?",
                (subscription_id, per_page, (page - 1) * per_page),
            )
        return Page([Attempt(*r) for r in rows], int(total), page, per_page)

    def queued(
        self,
        *,
        status: str,
        subscription_id: str | None = None,
        page: int = 1,
        per_page: int = 25,
    ) -> Page[QueuedRow]:
        """Outbox entries with ``status`` (pending or dead), oldest first."""
        where, params = "o.status = ?", [status]
        if subscription_id is not None:
            where += " AND o.subscription_id = ?"
            params.append(subscription_id)
        with self._read() as sql:
            total = sql.one(f"SELECT count(*) FROM outbox o WHERE {where}", params)[0]
            rows = sql.all(
                f"SELECT {_QUEUED_COLUMNS} FROM outbox o"
                f" JOIN subscriptions s ON s.id = o.subscription_id WHERE {where}"
                " ORDER BY o.id LIMIT ? OFFSET ?",
                (*params, per_page, (page - 1) * per_page),
            )
        return Page([QueuedRow(*r) for r in rows], int(total), page, per_page)

    def dead_ids(self, subscription_id: str) -> list[int]:
        """The ids of a subscription's dead letters."""
        with self._read() as sql:
            rows = sql.all(
                "SELECT id FROM outbox WHERE status = 'dead' AND subscription_id = ? ORDER BY id",
                (subscription_id,),
            )
        return [int(r[0]) for r in rows]


def _subscription_rows(sql: Statements, ids: list[str]) -> list[SubscriptionRow]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = sql.all(
        "SELECT s.id, s.tenant, s.platform, s.provider, s.consumer, s.handle, s.event,"
        " s.target_url, s.created_at,"
        " (SELECT count(*) FROM outbox o WHERE o.subscription_id = s.id"
        "  AND o.status = 'pending'),"
        " (SELECT count(*) FROM outbox o WHERE o.subscription_id = s.id AND o.status = 'dead')"
        f" FROM subscriptions s WHERE s.id IN ({marks})",
        ids,
    )
    heads = {
        r[0]: r[1:]
        for r in sql.all(
            "SELECT o.subscription_id, o.attempts, o.next_attempt_at, o.last_error FROM outbox o"
            " JOIN (SELECT subscription_id, min(id) AS head FROM outbox"
            f" WHERE status = 'pending' AND subscription_id IN ({marks})"
            " GROUP BY subscription_id) h ON o.id = h.head",
            ids,
        )
    }
    last = {
        r[0]: Attempt(*r)
        for r in sql.all(
            f"SELECT {_ATTEMPT_COLUMNS} FROM delivery_attempts WHERE id IN"
            " (SELECT max(id) FROM delivery_attempts"
            f" WHERE subscription_id IN ({marks}) GROUP BY subscription_id)",
            ids,
        )
    }
    by_id = {}
    for r in rows:
        head = heads.get(r[0])
        by_id[r[0]] = SubscriptionRow(
            id=r[0],
            tenant=r[1],
            platform=r[2],
            provider=r[3],
            consumer=r[4],
            handle=r[5],
            event=r[6],
            target_url=r[7],
            created_at=r[8],
            pending=int(r[9]),
            dead=int(r[10]),
            head_attempts=int(head[0]) if head else 0,
            next_attempt_at=head[1] if head else None,
            head_error=head[2] if head else None,
            last_attempt=last.get(r[0]),
        )
    return [by_id[i] for i in ids if i in by_id]
