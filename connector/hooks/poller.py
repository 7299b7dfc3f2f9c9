"""One poll cycle: read each watched handle once, queue new videos, deliver what is due.

Deliveries of a handle's news start as soon as they are queued, while the cycle reads the
other handles.

The same code runs from ``connector poll`` (cron), the scheduler inside ``connector serve``
and the scheduled Lambda event. A cycle is safe to run twice at once or to kill at any
point: queueing happens in the transaction that marks videos seen, and deliveries are
claimed before they are sent.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import threading
import time
import traceback
import typing as t

from ..errors import ConnectorError
from ..logs import redact
from ..providers import PROVIDERS, provider_class
from ..store import WatchKey
from ..triggers.new_video import decide, read_handle
from .cadence import backoff, deferral, is_lasting
from .delivery import Deliverer, DeliveryReport, is_stale, worker_id
from .subscriptions import require_sealer

if t.TYPE_CHECKING:
    from ..callers import Keyring
    from ..config import Settings
    from ..crypto import Sealer
    from ..metrics import Metrics
    from ..providers.base import VideoLister, VideoPage
    from ..providers.limits import SlotLimiter
    from ..store import Store, Subscription
    from ..triggers.new_video import PollSettings
    from ..upstream import ProviderFactory

log = logging.getLogger("connector.hooks")


@dataclasses.dataclass
class CycleReport:
    """What one poll cycle did, as `connector poll` prints it and the console logs it."""

    watched: int = 0  # (tenant, provider, handle) groups read upstream
    failed: int = 0  # of those, how many failed, for any reason (each one logged)
    skipped: int = 0  # malformed videos upstream listed, left out (each one logged)
    queued: int = 0  # new (video, subscription) deliveries queued
    delivery: DeliveryReport = dataclasses.field(default_factory=DeliveryReport)

    def as_dict(self) -> dict[str, int]:
        return {
            "watched": self.watched,
            "failed": self.failed,
            "skipped": self.skipped,
            "queued": self.queued,
            **dataclasses.asdict(self.delivery),
        }


@dataclasses.dataclass(frozen=True)
class PollContext:
    """What a poll cycle works with; the runtime builds one for its cycles.

    :param sealer: opens subscribers' stored keys (``None`` without a secret key).
    :param keyring: turns a subscriber's key back into their caller.
    :param providers: the upstream providers bound to that caller's keys.
    :param deliverers: makes the deliverer of a cycle that is given none.
    """

    store: Store
    sealer: Sealer | None
    keyring: Keyring
    providers: ProviderFactory
    metrics: Metrics
    settings: Settings
    poll_settings: PollSettings
    deliverers: t.Callable[[], Deliverer]


def run_cycle(ctx: PollContext, *, deliverer: Deliverer | None = None) -> CycleReport:
    """Poll every due watched handle once and deliver every due entry.

    Workers running cycles at the same time split the due handles: each is claimed by one
    (with a lease, in case that worker dies) and is due again only after
    ``CONNECTOR_POLL_MIN_GAP`` seconds, up to ``CONNECTOR_POLL_MAX_DELAY`` for a handle that
    has been quiet for long (see cadence.py). Handles are read ``CONNECTOR_POLL_CONCURRENCY``
    at a time, fewer for a provider that documents a lower limit; one handle's failure is
    logged and counted, and the others go on.
    """
    report = CycleReport()
    store = ctx.store
    owner = worker_id()
    # Due means "not polled since before this cycle began (minus the gap)", so a handle
    # polled in this cycle is not claimed again by the loop below.
    started = time.time()
    lease = ctx.settings.upstream_timeout * (ctx.poll_settings.max_pages + 1) + 60
    width = ctx.settings.poll_concurrency
    defer = deferral(ctx.settings.poll_min_gap, ctx.settings.poll_max_delay)
    back_off = backoff(ctx.settings.poll_min_gap, ctx.settings.poll_max_delay)
    gates: dict[str, _Gate] = {}
    tenant_keys = _TenantKeys(ctx)
    by_watch: dict[WatchKey, list[Subscription]] | None = None
    running: dict[concurrent.futures.Future[_Polled], WatchKey] = {}
    own = ctx.deliverers() if deliverer is None else None
    deliver = deliverer or t.cast(Deliverer, own)
    started_for: set[str] = set()

    def deliver_now(subscriptions: list[Subscription]) -> None:
        # These have their turn now; the closing run leaves them be (a retry of theirs that
        # falls due meanwhile waits for the next cycle, as it would have anyway).
        deliver.start(subscriptions)
        started_for.update(s.id for s in subscriptions)

    def settle(done: t.Iterable[concurrent.futures.Future[_Polled]]) -> None:
        # Claims are released here, by this one thread, a batch at a time: readers then
        # write only when they queue something, and meet no release at SQLite's write lock.
        # One transaction releases every claim read since the last one.
        polls: list[tuple[WatchKey, float]] = []
        found: set[WatchKey] = set()
        failed: set[WatchKey] = set()
        lasting: set[WatchKey] = set()
        try:
            for future in done:
                key = running.pop(future)
                part, polled_at, failed_lastingly = future.result()
                polls.append((key, polled_at))
                if part.queued:
                    found.add(key)
                elif part.failed:
                    failed.add(key)
                    if failed_lastingly:
                        lasting.add(key)
                report.watched += part.watched
                report.failed += part.failed
                report.skipped += part.skipped
                report.queued += part.queued
        finally:
            # Finding new videos makes a handle active again; a quiet one is due later, so
            # is one failing for a lasting reason (hooks/cadence.py); another failed one
            # after the base gap.
            store.release_watches(
                owner,
                polls,
                found_new=found,
                failed=failed,
                lasting=lasting,
                defer=defer,
                backoff=back_off,
            )

    # Twice as many readers as slots: while one does its store work, another holds its slot
    # (PostgresSlots passes a slot on between threads of one process).
    with _closing(own), _readers(2 * width) as pool:
        try:
            # Claim a batch whenever a reader is free: at most a batch waits for a reader,
            # so that workers running cycles at once share the work, and claims (each a
            # write transaction) stay few.
            while keys := store.claim_watches(
                owner,
                now=started,
                lease=lease,
                min_gap=ctx.settings.poll_min_gap,
                limit=ctx.settings.poll_batch,
                is_stale=is_stale,
            ):
                if by_watch is None:
                    by_watch = {}
                    for subscription in store.subscriptions():
                        by_watch.setdefault(subscription.watch, []).append(subscription)
                for key in keys:
                    watchers = by_watch.get(key) or _watchers(ctx, key)
                    gate = _gate(ctx, gates, key, width, lease)
                    reader = pool.submit(
                        _poll_watch, ctx, key, watchers, gate, tenant_keys, deliver_now
                    )
                    running[reader] = key
                if len(running) >= width:
                    done, _ = concurrent.futures.wait(
                        running, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    settle(done)
        finally:
            settle(list(running))
        # What was started above, and everything else due (retries, other workers' news).
        report.delivery = deliver.run(started=started_for)
    ctx.metrics.poll_cycle(report, started)
    log.info("poll cycle: %s", report.as_dict())
    return report


# What reading one watched handle gave: its report, when the read ended, and whether it
# failed for a lasting reason (hooks/cadence.py).
_Polled = tuple[CycleReport, float, bool]


@contextlib.contextmanager
def _readers(count: int) -> t.Iterator[concurrent.futures.ThreadPoolExecutor]:
    """The cycle's reader threads. A cycle waits for every read it started (``settle``), so
    its idle threads are left to end on their own: joining twenty of them one by one took a
    cycle up to 30 ms more."""
    pool = concurrent.futures.ThreadPoolExecutor(count, thread_name_prefix="poll")
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def _closing(deliverer: Deliverer | None) -> t.Iterator[None]:
    try:
        yield
    finally:
        if deliverer is not None:
            deliverer.close()


class _Gate:
    """The slots a cycle's reads through one provider share: ``width`` upstream reads at
    once, across every process polling the same store where the store allows it (see
    ``connector.providers.limits``). A slot is held for the read only, not for the store
    work around it, so that a busy store or core does not keep upstream idle."""

    def __init__(self, limits: SlotLimiter, provider: str, width: int, wait: float) -> None:
        self._limits = limits
        self._key = ("poll cycle", provider)
        self._width = width
        self._wait = wait

    @contextlib.contextmanager
    def held(self) -> t.Iterator[None]:
        with self._limits.hold(self._key, self._width, self._wait):
            yield


@dataclasses.dataclass(frozen=True)
class _GatedLister:
    """A provider whose feed reads each hold a slot of the cycle's gate."""

    provider: VideoLister
    gate: _Gate

    @property
    def label(self) -> str:
        return self.provider.label

    def list_videos(self, handle: str, cursor: str | None = None) -> VideoPage:
        with self.gate.held():
            return self.provider.list_videos(handle, cursor)


def _gate(
    ctx: PollContext, gates: dict[str, _Gate], key: WatchKey, width: int, wait: float
) -> _Gate:
    """The gate of ``key``'s provider: ``width`` reads at once, or fewer when the provider
    documents a lower limit (its calls also hold upstream's own slots)."""
    name = key.provider or ctx.keyring.default_provider
    gate = gates.get(name)
    if gate is None:
        documented = provider_class(name).concurrency_limit if name in PROVIDERS else None
        gate = gates[name] = _Gate(
            ctx.providers.limits, name, min(width, documented or width), wait
        )
    return gate


def _poll_watch(
    ctx: PollContext,
    key: WatchKey,
    watchers: list[Subscription],
    gate: _Gate,
    tenant_keys: _TenantKeys,
    deliver: t.Callable[[list[Subscription]], None],
) -> _Polled:
    """Read one claimed handle and hand its news to ``deliver`` at once: what it found, as
    a report of its own (a failure is logged and counted here, never raised), when the
    poll ended, and whether it failed for a lasting reason."""
    part = CycleReport(watched=1)
    lasting = False
    secrets: set[str] = set()
    queued_for: list[Subscription] = []
    try:
        queued_for = _poll_handle(ctx, watchers, part, secrets, tenant_keys, gate)
    except ConnectorError as exc:
        # Upstream text may quote the subscriber's key: neither the log nor the
        # watch's last error (shown in the console) may carry it.
        exc.message = redact(exc.message, secrets)
        ctx.metrics.watch_failed(key, exc)
        part.failed += 1
        lasting = is_lasting(exc)
        log.warning(
            "poll of @%s for tenant %s failed: %s (%s)",
            key.handle,
            key.tenant[:8],
            exc.message,
            exc.code,
        )
    except Exception as exc:
        # A bug met by one handle's data must not stop every other tenant's feeds.
        ctx.metrics.watch_failed(
            key, ConnectorError(f"Unexpected {type(exc).__name__}; see the server log.")
        )
        part.failed += 1
        trace = redact("".join(traceback.format_exception(exc)), secrets)
        log.error(
            "poll of @%s for tenant %s failed unexpectedly (%s)\n%s",
            key.handle,
            key.tenant[:8],
            type(exc).__name__,
            trace,
        )
    if queued_for:
        try:
            deliver(queued_for)
        except Exception:  # queued all the same: the cycle's closing run delivers them
            log.exception("could not start delivering the news of @%s at once", key.handle)
    return part, time.time(), lasting


class _TenantKeys:
    """Subscribers' keys as a cycle uses them: each tenant's read from the store and opened
    once, however many of its handles are read at once (at a cycle's start, every reader
    asked for the same tenant's key together, each with a store read of its own)."""

    def __init__(self, ctx: PollContext) -> None:
        self._ctx = ctx
        self._bearers: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._reading: dict[str, threading.Lock] = {}

    def bearer(self, tenant: str) -> str | None:
        """The tenant's key, or None when it has none stored (unsubscribed meanwhile)."""
        if tenant in self._bearers:
            return self._bearers[tenant]
        with self._lock:
            reading = self._reading.setdefault(tenant, threading.Lock())
        with reading:  # readers of other tenants do not wait for this one
            if tenant not in self._bearers:
                sealed = self._ctx.store.tenant_key(tenant)
                self._bearers[tenant] = (
                    None
                    if sealed is None
                    else require_sealer(self._ctx.sealer).open(sealed, f"tenant:{tenant}")
                )
        return self._bearers[tenant]


def _watchers(ctx: PollContext, key: WatchKey) -> list[Subscription]:
    """Subscriptions of a watch created since the cycle listed them."""
    return [s for s in ctx.store.subscriptions(key.tenant) if s.watch == key]


def _poll_handle(
    ctx: PollContext,
    watchers: list[Subscription],
    report: CycleReport,
    secrets: set[str],
    tenant_keys: _TenantKeys | None = None,
    gate: _Gate | None = None,
) -> list[Subscription]:
    """Read one handle for every subscription watching it; counts into ``report`` what was
    queued and skipped, adds to ``secrets`` the keys it used (to redact from logs), and
    returns the subscriptions it queued news for. ``tenant_keys`` keeps the keys opened in
    this cycle; ``gate`` bounds the cycle's upstream reads."""
    if not watchers:
        return []
    first = watchers[0]
    bearer = (tenant_keys or _TenantKeys(ctx)).bearer(first.tenant)
    if bearer is None:
        return []
    secrets.add(bearer)
    # One upstream read serves every watcher; it carries the first one's platform.
    caller = ctx.keyring.caller_for(bearer, first.provider, first.platform)
    secrets.update(caller.secrets)
    provider: VideoLister = ctx.providers.for_caller(caller)
    if gate is not None:
        provider = _GatedLister(provider, gate)
    settings = ctx.poll_settings
    feeds = [s.feed for s in watchers]
    read = read_handle(provider, ctx.store, feeds, max_pages=settings.max_pages)
    report.skipped += read.skipped
    now = time.time()
    listed = [v["id"] for v in read.videos]
    queued_for: list[Subscription] = []
    for subscription in watchers:
        # Mostly nothing is new: a read says so without taking the store's write lock.
        state, known = ctx.store.peek(subscription.feed, listed)
        if state is not None and all(
            v["id"] in known or v["created_at_timestamp"] <= state.floor for v in read.videos
        ):
            continue
        with ctx.store.feed(subscription.feed) as tx:
            if tx.state is None:
                continue  # unsubscribed since the cycle began
            fresh = decide(
                tx, read.videos, keep=settings.seen_ids_per_feed, records=read.pages.records
            )
            oldest_first = [(v["id"], json.dumps(v)) for v in reversed(fresh)]
            tx.enqueue(subscription.id, oldest_first, now)
            report.queued += len(oldest_first)
        if oldest_first:
            queued_for.append(subscription)
    # Items found malformed once their whole record was needed (new to some feed).
    report.skipped += len(read.pages.malformed)
    return queued_for
