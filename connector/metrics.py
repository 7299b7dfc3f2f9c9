"""Counting what the connector does, in one place.

Every event is recorded once, by a method of :class:`Metrics`: an HTTP request, an upstream
call, a poll cycle, a watch that failed, a delivery attempt, a store error. Each method
updates the Prometheus metrics and, where the operator console shows a history, the store's
activity logs (:mod:`connector.store.activity`). ``GET /metrics`` and the console read what
these methods wrote (and the same store queries for the outbox), so they never disagree.

Prometheus: each app has its own registry. Under gunicorn, set ``PROMETHEUS_MULTIPROC_DIR``
to an empty folder before the workers start: prometheus_client then keeps every worker's
values in files there, and the exposition merges them.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import os
import socket
import threading
import time
import typing as t

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import __version__
from .errors import (
    ConnectorError,
    ProviderAuthFailed,
    ProviderError,
    ProviderNotFound,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderRejectedInput,
    StoreUnavailable,
)
from .store.activity import BUCKET, Activity, Attempt, Cycle, Usage

if t.TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from .config import Settings
    from .hooks.poller import CycleReport
    from .store import Delivery, Store, WatchKey

log = logging.getLogger("connector.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Outcomes of an upstream call: the provider's own error mapping names them.
_OUTCOMES: dict[type[ProviderError], str] = {
    ProviderRejectedInput: "rejected",
    ProviderAuthFailed: "auth_failed",
    ProviderOutOfCredits: "no_credits",
    ProviderNotFound: "not_found",
    ProviderRateLimited: "rate_limited",
}
#: Outcomes that count against a provider's health (not the caller's input or account).
FAILURES = frozenset({"rate_limited", "upstream_error", "unexpected", "timeout", "unreachable"})

#: What a successful upstream request costs, as each provider publishes it (None: unpublished).
PRICES: dict[str, tuple[float, str] | None] = {
    "dumplingai": (10, "credits"),
    "apidirect": (0.006, "USD"),
    "byhandle": None,
}

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)

# Who the upstream calls of this thread (a request, one handle of a poll cycle) are for:
# (tenant, requestSource), set where a caller's providers are made.
_attribution: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "connector_usage_attribution", default=None
)
# The last webhook answer on this thread: (webhook-id, status).
_webhook_answer: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
    "connector_webhook_answer", default=None
)


def estimate(provider: str, successful: int) -> str:
    """What ``successful`` requests to ``provider`` cost, for people: "120 credits",
    "$0.042" or "unpublished"."""
    price = PRICES.get(provider)
    if price is None:
        return "unpublished"
    amount, unit = price
    if unit == "USD":
        return f"${amount * successful:,.3f}"
    return f"{amount * successful:,.0f} {unit}"


@dataclasses.dataclass
class Tally:
    """Upstream calls summed over some grouping."""

    calls: int = 0
    ok: int = 0
    failures: int = 0
    seconds: float = 0.0

    def add(self, usage: Usage) -> None:
        self.calls += usage.calls
        self.seconds += usage.seconds
        if usage.outcome == "ok":
            self.ok += usage.calls
        elif usage.outcome in FAILURES:
            self.failures += usage.calls

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.calls if self.calls else None

    @property
    def mean_seconds(self) -> float | None:
        return self.seconds / self.calls if self.calls else None


class Metrics:
    """The counters of one app, and its store's activity logs. Safe across threads."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.settings = settings
        self.store = store
        self.activity = Activity(store)
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "connector_http_requests",
            "HTTP requests served, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "connector_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_requests = Counter(
            "connector_upstream_requests",
            "Calls to upstream TikTok data APIs, by provider, outcome and requestSource.",
            ["provider", "outcome", "request_source"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "connector_upstream_request_duration_seconds",
            "Time until an upstream API's answer (headers), by provider, outcome and "
            "requestSource.",
            ["provider", "outcome", "request_source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.lookups = Counter(
            "connector_lookups",
            "Lookups that may share upstream calls (see CONNECTOR_LOOKUP_CACHE_TTL), by result:"
            " call (went upstream), hit (an answer kept) or shared (waited for a call in flight).",
            ["result"],
            registry=r,
        )
        self.poll_cycles = Counter(
            "connector_poll_cycles", "Poll cycles run (webhook subscriptions).", registry=r
        )
        self.poll_cycle_seconds = Histogram(
            "connector_poll_cycle_duration_seconds",
            "Time a poll cycle took: reading handles, queueing, delivering.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.handle_polls = Counter(
            "connector_poll_handles",
            "Watched handles read by poll cycles, by result (ok, failed).",
            ["result"],
            registry=r,
        )
        self.videos_detected = Counter(
            "connector_videos_detected",
            "New videos found by poll cycles, counted once per subscription they are queued for.",
            registry=r,
        )
        self.deliveries = Counter(
            "connector_deliveries",
            "Webhook delivery attempts, by outcome (delivered, retried, dead, unsubscribed).",
            ["outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "connector_dead_letters",
            "Deliveries given up on (dead letters made).",
            registry=r,
        )
        self.store_errors = Counter(
            "connector_store_errors",
            "Times the store was busy or unreachable, by where it was noticed.",
            ["where"],
            registry=r,
        )
        self.state = StateCollector(self)
        r.register(self.state)
        self._usage: dict[tuple[int, str, str, str, str], Usage] = {}
        self._flushed_at = time.monotonic()
        self._lock = threading.Lock()

    # -- attribution ----------------------------------------------------------------------

    @staticmethod
    def attribute(tenant: str, request_source: str) -> None:
        """Count this thread's next upstream calls for ``tenant`` and ``request_source``."""
        _attribution.set((tenant, request_source))

    @staticmethod
    def forget_attribution() -> None:
        _attribution.set(None)

    # -- events ---------------------------------------------------------------------------

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def upstream_call(self, provider: str, outcome: str, seconds: float) -> None:
        """One call to ``provider``, for the tenant and requestSource this thread serves.
        Usage reaches the store at the next :meth:`flush`."""
        tenant, source = _attribution.get() or ("", "-")
        self.upstream_requests.labels(provider, outcome, source).inc()
        self.upstream_seconds.labels(provider, outcome, source).observe(seconds)
        bucket = int(time.time()) // BUCKET * BUCKET
        key = (bucket, tenant, provider, source, outcome)
        with self._lock:
            known = self._usage.get(key)
            calls, total = (known.calls, known.seconds) if known else (0, 0.0)
            self._usage[key] = Usage(tenant, provider, source, outcome, calls + 1, total + seconds)

    def lookup(self, result: str) -> None:
        """A lookup through the shared-lookup cache: "call", "hit" or "shared"."""
        self.lookups.labels(result).inc()

    def store_error(self, where: str) -> None:
        self.store_errors.labels(where).inc()

    def watch_failed(self, key: WatchKey, error: ConnectorError) -> None:
        """A watched handle's poll failed: remembered as the watch's last error."""
        if isinstance(error, StoreUnavailable):
            self.store_error("poll")
        self._record(
            "watch error",
            lambda: self.activity.watch_failed(key, f"{error.message} ({error.code})", time.time()),
        )

    def poll_cycle(self, report: CycleReport, started: float) -> None:
        """A poll cycle that began at ``started`` (Unix time) has ended."""
        duration = max(0.0, time.time() - started)
        self.poll_cycles.inc()
        self.poll_cycle_seconds.observe(duration)
        self.handle_polls.labels("ok").inc(report.watched - report.failed)
        self.handle_polls.labels("failed").inc(report.failed)
        self.videos_detected.inc(report.queued)
        worker = f"{socket.gethostname()}:{os.getpid()}"
        cycle = Cycle(started, duration, worker, report.as_dict())
        self._record("poll cycle log", lambda: self.activity.record_cycle(cycle))
        self.flush()

    def note_webhook_answer(self, response: httpx.Response) -> None:
        """httpx response hook of the webhook client: keeps the status for the attempt log."""
        _webhook_answer.set((response.request.headers.get("webhook-id", ""), response.status_code))

    def delivery_attempt(self, delivery: Delivery, outcome: str, seconds: float) -> None:
        """One attempt to deliver ``delivery`` ended with ``outcome`` after ``seconds``."""
        self.deliveries.labels(outcome).inc()
        if outcome == "dead":
            self.dead_letters.inc()
        answer = _webhook_answer.get()
        _webhook_answer.set(None)
        status = answer[1] if answer and answer[0] == delivery.webhook_id else None
        attempt = Attempt(
            subscription_id=delivery.subscription_id,
            video_id=delivery.video_id,
            webhook_id=delivery.webhook_id,
            attempted_at=time.time() - seconds,
            outcome=outcome,
            status=status,
            duration=seconds,
            error=None,
        )
        self._record(
            "attempt log",
            lambda: self.activity.record_attempt(
                attempt, delivery_id=delivery.id, keep=self.settings.attempt_log_size
            ),
        )

    # -- the store side -------------------------------------------------------------------

    def flush(self, *, due_only: bool = False) -> None:
        """Write the upstream usage counted so far to the store (kept for the next flush
        if the store is unavailable); with ``due_only``, only once ``usage_flush_interval``
        seconds have passed since the last write."""
        with self._lock:
            now = time.monotonic()
            if due_only and now - self._flushed_at < self.settings.usage_flush_interval:
                return
            self._flushed_at = now
            pending, self._usage = self._usage, {}
        if not pending:
            return
        if not self._record("usage", lambda: self.activity.add_usage(pending, time.time())):
            with self._lock:
                for key, usage in pending.items():
                    known = self._usage.get(key)
                    if known is not None:
                        usage = dataclasses.replace(
                            usage,
                            calls=usage.calls + known.calls,
                            seconds=usage.seconds + known.seconds,
                        )
                    self._usage[key] = usage

    def _record(self, what: str, write: t.Callable[[], None]) -> bool:
        # Recording must never fail what it records (a delivery, a poll): it logs instead.
        try:
            write()
        except StoreUnavailable as exc:
            self.store_error(what)
            log.warning("could not record the %s: %s", what, exc.message)
            return False
        except Exception:
            log.exception("could not record the %s", what)
            return False
        return True

    # -- reading --------------------------------------------------------------------------

    def usage(self, since: float) -> list[Usage]:
        """Upstream calls since ``since``, this process's latest included."""
        self.flush()
        return self.activity.usage(since)

    def providers(self, since: float) -> dict[str, Tally]:
        """Upstream calls since ``since`` per provider."""
        tallies: dict[str, Tally] = {}
        for usage in self.usage(since):
            tallies.setdefault(usage.provider, Tally()).add(usage)
        return tallies

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (merged across workers in multiprocess
        mode)."""
        # prometheus_client itself switches to multiprocess mode on this variable.
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            registry.register(self.state)
            return generate_latest(registry)
        return generate_latest(self.registry)

    # -- upstream calls -------------------------------------------------------------------

    def transport(self, provider: str, inner: httpx.BaseTransport) -> httpx.BaseTransport:
        """``inner``, counting each call to ``provider`` and how it ended."""
        return _MeteredTransport(inner, provider, self)


class _MeteredTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, provider: str, metrics: Metrics) -> None:
        from .providers import provider_class

        self.inner = inner
        self.provider = provider
        self.metrics = metrics
        self.statuses = provider_class(provider).error_statuses

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = self.inner.handle_request(request)
        except httpx.TimeoutException:
            self.metrics.upstream_call(self.provider, "timeout", time.perf_counter() - started)
            raise
        except httpx.TransportError:
            self.metrics.upstream_call(self.provider, "unreachable", time.perf_counter() - started)
            raise
        self.metrics.upstream_call(
            self.provider, self._outcome(response.status_code), time.perf_counter() - started
        )
        return response

    def _outcome(self, status: int) -> str:
        if 200 <= status < 300:
            return "ok"
        error = self.statuses.get(status)
        if error is not None and error in _OUTCOMES:
            return _OUTCOMES[error]
        return "upstream_error" if status >= 500 else "unexpected"

    def close(self) -> None:
        self.inner.close()


class StateCollector(Collector):
    """Gauges read from the store at scrape time, with the console's own queries."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> t.Iterable[Metric]:
        settings = self.metrics.settings
        info = GaugeMetricFamily(
            "connector_build_info",
            "The connector's version, store backend and mode.",
            labels=["version", "store", "sandbox"],
        )
        info.add_metric([__version__, self.metrics.store.backend, str(settings.sandbox).lower()], 1)
        yield info
        up = GaugeMetricFamily("connector_store_up", "Whether the store answered this scrape.")
        try:
            counts = self.metrics.activity.outbox_counts()
            totals = self.metrics.activity.totals()
        except StoreUnavailable:
            self.metrics.store_error("metrics")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        outbox = GaugeMetricFamily(
            "connector_outbox_deliveries",
            "Deliveries in the outbox: pending (not tried yet), retrying, dead (letters).",
            labels=["state"],
        )
        for state, value in (
            ("pending", counts.pending),
            ("retrying", counts.retrying),
            ("dead", counts.dead),
        ):
            outbox.add_metric([state], value)
        yield outbox
        yield GaugeMetricFamily(
            "connector_subscriptions", "Webhook subscriptions.", value=totals.subscriptions
        )
        yield GaugeMetricFamily(
            "connector_watched_handles",
            "Handles the poll cycles read, per (tenant, provider choice, handle).",
            value=totals.watches,
        )
        yield GaugeMetricFamily(
            "connector_watched_handles_backing_off",
            "Of those, handles whose reads keep failing for a lasting reason (gone, key refused,"
            " no credits), read less and less often.",
            value=totals.backing_off,
        )
