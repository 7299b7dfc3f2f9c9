"""Delivering outbox entries to webhook targets: signed, in order, retried, dead-lettered.

Each POST is signed per Standard Webhooks (``webhook-id``, stable across retries,
``webhook-timestamp`` and ``webhook-signature``). A 2xx delivers; 410 Gone removes the
subscription; timeouts, connection failures, 408, 429 and 5xx retry with exponential backoff
and jitter (honouring ``Retry-After``) until ``max_age``; other answers retry a few times.
What cannot be delivered becomes a dead letter, which can be listed and replayed.

Entries are claimed with a lease before sending, so a worker that dies mid-delivery leaves
an entry the next worker takes over: at once when the dead worker was a process on this
machine, after the lease otherwise. A receiver may thus see a retry of a ``webhook-id``,
never two ids for one video.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import enum
import logging
import os
import random
import secrets
import socket
import ssl
import threading
import time
import typing as t

import httpx
from standardwebhooks.webhooks import Webhook

from .. import deadlines
from ..crypto import SealError
from ..errors import TargetRefused
from ..transport import verified_context
from .subscriptions import require_sealer
from .targets import TargetUnresolved, resolve_target, target_key
from .transport import post

if t.TYPE_CHECKING:
    from ..config import Settings
    from ..crypto import Sealer
    from ..metrics import Metrics
    from ..store import Delivery, Store, Subscription

log = logging.getLogger("connector.hooks")

_HOST = socket.gethostname()
_BOOT = secrets.token_hex(4)  # tells this process from an earlier one with the same pid


def worker_id() -> str:
    """A claim owner: this machine, this process, and one cycle or drain within it."""
    return f"{_HOST}:{os.getpid()}:{_BOOT}:{secrets.token_hex(4)}"


def is_stale(owner: str) -> bool:
    """Whether a claim's owner is a worker known to be gone: a process on this machine that
    no longer runs (or an earlier process that had this one's pid)."""
    host, _, rest = owner.partition(":")
    pid_text, _, rest = rest.partition(":")
    boot = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return boot != _BOOT
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Outcome(enum.StrEnum):
    """How one delivery attempt ended: a :class:`DeliveryReport` field and a metrics label."""

    DELIVERED = "delivered"
    RETRIED = "retried"
    DEAD = "dead"
    UNSUBSCRIBED = "unsubscribed"


class Verdict(enum.Enum):
    """What a target's answer asks of the delivery it answered."""

    DELIVERED = enum.auto()  # 2xx
    GONE = enum.auto()  # 410: the receiver wants no more, so the subscription goes
    TRANSIENT = enum.auto()  # 408, 429, 5xx: retry with backoff until the policy's max_age
    REFUSED = enum.auto()  # any other status: retry only client_error_attempts times


def classify(status: int) -> Verdict:
    """What a webhook target's HTTP ``status`` means for the delivery.

    :param status: the status code the target answered with.
    :return: the :class:`Verdict` the deliverer acts on.
    """
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status == 410:
        return Verdict.GONE
    if status in (408, 429) or status >= 500:
        return Verdict.TRANSIENT
    return Verdict.REFUSED


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """When a failed delivery is tried again, and when it becomes a dead letter.

    :param first_retry: seconds before the first retry; each later one waits twice as long.
    :param max_delay: the longest wait between two attempts, ``Retry-After`` included.
    :param max_age: seconds after the delivery was queued beyond which it is not retried.
    :param client_error_attempts: attempts before a refusal (any answer :func:`classify`
        calls :attr:`Verdict.REFUSED`, such as a 400 or a redirect) dead-letters the delivery.
    """

    first_retry: float = 10.0
    max_delay: float = 3600.0
    max_age: float = 86400.0
    client_error_attempts: int = 3

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential,
        with jitter between half and all of it, at least what ``Retry-After`` asked."""
        ceiling = min(self.max_delay, self.first_retry * 2 ** (attempt - 1))
        wait = rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


@dataclasses.dataclass
class DeliveryReport:
    """How many delivery attempts ended each way, one field per :class:`Outcome`."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    unsubscribed: int = 0

    def count(self, outcome: Outcome) -> None:
        """Count one attempt that ended with ``outcome``."""
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    def add(self, other: DeliveryReport) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


class Deliverer:
    """Sends due deliveries on a pool of ``CONNECTOR_DELIVERY_WORKERS`` threads, fairly.

    A slow or dead target holds up no other: at most one delivery per target URL at a time,
    at most half the workers for one tenant's deliveries, and at most half for deliveries
    whose last attempt got no answer (it timed out or could not connect), while every
    attempt ends at ``CONNECTOR_DELIVERY_TIMEOUT``. A subscription's entries go one at a
    time, oldest first; after each success it goes to the back of the queue.

    ``wait`` is how long :meth:`run` waits for the deliveries it started: ``None`` (one
    cycle from cron or Lambda) until all are done; a number (the scheduler in ``connector
    serve``, which keeps one deliverer) leaves the slower ones running in the background,
    claimed, and later runs skip them and count them once done.

    :param store: the outbox, and where each attempt is recorded.
    :param sealer: opens the subscriptions' signing secrets.
    :param metrics: counts each attempt and the targets' answers.
    :param settings: the retry policy, the timeout, the workers and whether private targets
        are allowed.
    """

    def __init__(
        self,
        store: Store,
        sealer: Sealer | None,
        metrics: Metrics,
        settings: Settings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        wait: float | None = None,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.metrics = metrics
        self.policy = RetryPolicy(
            first_retry=settings.delivery_first_retry,
            max_delay=settings.delivery_max_delay,
            max_age=settings.delivery_max_age,
            client_error_attempts=settings.delivery_client_error_attempts,
        )
        self.timeout = settings.delivery_timeout
        self.allow_private = settings.allow_private_targets
        self.workers = settings.delivery_workers
        self.per_tenant = max(1, self.workers // 2)
        self.unanswered_slots = max(1, self.workers // 2)
        self.wait = wait
        # Built at the first https:// delivery: loading the CA bundle takes a while.
        self._ssl_context = ssl_context
        self._ssl_lock = threading.Lock()
        self.rng = random.Random()
        self._cond = threading.Condition()
        self._queue: collections.deque[_Task] = collections.deque()
        self._scheduled: set[str] = set()  # subscriptions queued or being delivered
        self._busy_targets: set[str] = set()
        self._busy_tenants: collections.Counter[str] = collections.Counter()
        self._busy_unanswered = 0
        self._threads: list[threading.Thread] = []
        self._report = DeliveryReport()
        self._closed = False

    def ssl_context(self) -> ssl.SSLContext:
        """What verifies https:// targets' certificates (certifi's CA bundle by default)."""
        with self._ssl_lock:
            if self._ssl_context is None:
                self._ssl_context = verified_context()
            return self._ssl_context

    def close(self) -> None:
        """Start nothing more; wait for the deliveries in flight (each ends at its deadline).
        Queued ones are not claimed yet: the next run, here or elsewhere, takes them."""
        with self._cond:
            self._closed = True
            for task in self._queue:
                self._scheduled.discard(task.subscription.id)
            self._queue.clear()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def run(
        self, *, max_per_subscription: int = 100, started: t.Collection[str] = ()
    ) -> DeliveryReport:
        """Deliver what is due, each subscription in order, subscriptions in parallel.

        :param max_per_subscription: deliveries one subscription may have in this run.
        :param started: subscriptions given to :meth:`start` since the last run: they had
            their turn (a retry that fell due since waits for the next run).
        :return: the deliveries finished while this run waited (with ``wait``, those that
            finished in the background since the last run too).
        """
        store = self.store
        heads = [h for h in store.next_deliveries(time.time()) if h.subscription_id not in started]
        subscriptions = {s.id: s for s in store.subscriptions()} if heads else {}
        with self._cond:
            self._schedule(heads, subscriptions, max_per_subscription)
            until = None if self.wait is None else time.monotonic() + self.wait
            while self._scheduled:
                left = None if until is None else until - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left)
            report, self._report = self._report, DeliveryReport()
        return report

    def start(
        self, subscriptions: t.Iterable[Subscription], *, max_per_subscription: int = 100
    ) -> None:
        """Start delivering what is due to ``subscriptions`` now, without waiting (a poll
        cycle hands over each handle's news as soon as it is queued); :meth:`run` counts and
        waits for them with the rest."""
        wanted = {s.id: s for s in subscriptions}
        heads = [
            head
            for subscription_id in wanted
            for head in self.store.next_deliveries(time.time(), subscription_id)
        ]
        with self._cond:
            self._schedule(heads, wanted, max_per_subscription)

    def _schedule(
        self,
        heads: t.Iterable[Delivery],
        subscriptions: t.Mapping[str, Subscription],
        max_per_subscription: int,
    ) -> None:
        """Queue a task per subscription whose head delivery is due (under the lock)."""
        if self._closed:
            raise RuntimeError("this deliverer is closed")
        for head in heads:
            subscription = subscriptions.get(head.subscription_id)
            if subscription is None or subscription.id in self._scheduled:
                continue
            unanswered = head.attempts > 0 and head.last_status is None
            target = target_key(subscription.target_url)
            self._queue.append(_Task(subscription, target, unanswered, max_per_subscription))
            self._scheduled.add(subscription.id)
        self._start_workers()
        self._cond.notify_all()

    def _start_workers(self) -> None:
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        while len(self._threads) < min(self.workers, len(self._scheduled)):
            thread = threading.Thread(
                target=self._work, name=f"delivery-{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _take(self) -> _Task | None:
        """The first queued task whose target, tenant and lane have room (under the lock)."""
        for index, task in enumerate(self._queue):
            if task.target in self._busy_targets:
                continue
            if self._busy_tenants[task.subscription.tenant] >= self.per_tenant:
                continue
            if task.unanswered and self._busy_unanswered >= self.unanswered_slots:
                continue
            del self._queue[index]
            return task
        return None

    def _hold(self, task: _Task, held: bool) -> None:
        step = 1 if held else -1
        if held:
            self._busy_targets.add(task.target)
        else:
            self._busy_targets.discard(task.target)
        self._busy_tenants[task.subscription.tenant] += step
        if task.unanswered:
            self._busy_unanswered += step

    def _work(self) -> None:
        while True:
            with self._cond:
                task = self._take()
                while task is None:
                    if self._closed:
                        return
                    self._cond.wait()
                    task = self._take()
                self._hold(task, True)
            outcome: Outcome | None = None
            try:
                outcome = self._deliver_next(task.subscription)
            except Exception:  # one bad delivery must not stop the others; it stays claimed
                log.exception("delivery for %s failed unexpectedly", task.subscription.id)
            with self._cond:
                self._hold(task, False)
                if outcome is not None:
                    self._report.count(outcome)
                if outcome is Outcome.DELIVERED and task.budget > 1 and not self._closed:
                    self._queue.append(
                        dataclasses.replace(task, unanswered=False, budget=task.budget - 1)
                    )
                else:
                    self._scheduled.discard(task.subscription.id)
                self._cond.notify_all()

    def _deliver_next(self, subscription: Subscription) -> Outcome | None:
        """Claim and attempt the subscription's oldest due entry; None when there is none
        (or another worker holds it)."""
        store = self.store
        heads = store.next_deliveries(time.time(), subscription.id)
        if not heads:
            return None
        # The lease outlasts any attempt, which ends at its deadline.
        claimed = store.claim(
            heads[0].id, worker_id(), now=time.time(), lease=self.timeout + 30, is_stale=is_stale
        )
        if claimed is None:
            return None
        started = time.monotonic()
        outcome = self._attempt(claimed, subscription)
        self.metrics.delivery_attempt(claimed, outcome.value, time.monotonic() - started)
        return outcome

    def _attempt(self, delivery: Delivery, subscription: Subscription) -> Outcome:
        store = self.store
        with deadlines.within(self.timeout):
            try:
                target = resolve_target(
                    subscription.target_url,
                    allow_private=self.allow_private,
                    timeout=deadlines.remaining() or 0.0,
                )
            except TargetUnresolved as exc:
                return self._retry(delivery, None, exc.message, None, transient=True)
            except TargetRefused as exc:
                store.dead_letter(delivery.id, status=None, error=exc.message)
                return Outcome.DEAD
            try:
                secret = require_sealer(self.sealer).open(
                    subscription.secret_ciphertext, f"subscription:{subscription.id}"
                )
            except SealError as exc:
                # Start-up checks the secret key, so this is a worker started with another
                # one since: keep the delivery until the right key is back.
                log.error("cannot open the signing secret of %s: %s", subscription.id, exc.message)
                return self._retry(delivery, None, exc.message, None, transient=True)
            now = dt.datetime.now(dt.UTC)
            headers = {
                "Content-Type": "application/json",
                "webhook-id": delivery.webhook_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": Webhook(secret).sign(
                    delivery.webhook_id, now, delivery.payload
                ),
            }
            try:
                answer = post(
                    target,
                    delivery.payload.encode(),
                    headers,
                    timeout=self.timeout,
                    ssl_context=self.ssl_context() if target.scheme == "https" else None,
                    on_response=self.metrics.note_webhook_answer,
                )
            except httpx.TimeoutException:
                return self._retry(delivery, None, "timed out", None, transient=True)
            except httpx.HTTPError as exc:
                return self._retry(delivery, None, _describe(exc), None, transient=True)
        status = answer.status
        verdict = classify(status)
        if verdict is Verdict.DELIVERED:
            store.delivered(delivery.id)
            return Outcome.DELIVERED
        if verdict is Verdict.GONE:
            log.info("target of %s answered 410 Gone: unsubscribing", subscription.id)
            store.remove_subscription(subscription.id)
            return Outcome.UNSUBSCRIBED
        return self._retry(
            delivery,
            status,
            f"target answered {status}",
            answer.retry_after,
            transient=verdict is Verdict.TRANSIENT,
        )

    def _retry(
        self,
        delivery: Delivery,
        status: int | None,
        error: str,
        retry_after: float | None,
        *,
        transient: bool,
    ) -> Outcome:
        attempt = delivery.attempts + 1
        wait = self.policy.delay(attempt, retry_after, self.rng)
        now = time.time()
        too_old = now + wait - delivery.created_at > self.policy.max_age
        too_many = not transient and attempt >= self.policy.client_error_attempts
        if too_old or too_many:
            self.store.dead_letter(delivery.id, status=status, error=error)
            log.warning(
                "delivery %s dead-lettered after %d attempts: %s",
                delivery.webhook_id,
                attempt,
                error,
            )
            return Outcome.DEAD
        self.store.retry_later(delivery.id, at=now + wait, status=status, error=error)
        return Outcome.RETRIED


@dataclasses.dataclass(frozen=True)
class _Task:
    """A subscription with due deliveries, waiting for (or holding) a worker."""

    subscription: Subscription
    target: str  # target_key() of its URL: one delivery per target at a time
    unanswered: bool  # its oldest entry's last attempt got no answer
    budget: int  # deliveries it may still have in this run


def _describe(exc: httpx.HTTPError) -> str:
    """The error's kind, and its reason when a TLS handshake failed (a certificate not valid
    for the target's host, say); never the URL."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLError):
        # httpcore re-raises with ``from None``: the cause may be only the context.
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"{type(exc).__name__}: TLS certificate refused ({cause.verify_message})"
    if isinstance(cause, ssl.SSLError):
        return f"{type(exc).__name__}: TLS failed ({cause.reason or 'handshake'})"
    return type(exc).__name__
