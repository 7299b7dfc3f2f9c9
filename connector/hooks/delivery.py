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

import concurrent.futures
import dataclasses
import datetime as dt
import logging
import os
import random
import secrets
import socket
import time
import typing as t

import httpx
from standardwebhooks.webhooks import Webhook

from ..crypto import SealError
from ..errors import TargetRefused
from .targets import check_target

if t.TYPE_CHECKING:
    from ..runtime import Runtime
    from ..store import Delivery, Subscription

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


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
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
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    unsubscribed: int = 0

    def add(self, other: DeliveryReport) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


class Deliverer:
    """Sends every due delivery once per run."""

    def __init__(self, rt: Runtime, *, client: httpx.Client | None = None) -> None:
        self.rt = rt
        settings = rt.settings
        self.policy = RetryPolicy(
            first_retry=settings.delivery_first_retry,
            max_delay=settings.delivery_max_delay,
            max_age=settings.delivery_max_age,
            client_error_attempts=settings.delivery_client_error_attempts,
        )
        self.timeout = settings.delivery_timeout
        self.allow_private = settings.allow_private_targets
        self.workers = settings.delivery_workers
        self._owns_client = client is None
        self.client = client or httpx.Client(
            timeout=self.timeout,
            follow_redirects=False,
            headers={"User-Agent": "tiktok-connector-webhooks"},
        )
        self.rng = random.Random()

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def run(self, *, max_per_subscription: int = 100) -> DeliveryReport:
        """Deliver what is due, each subscription in order, subscriptions in parallel."""
        heads = self.rt.store.next_deliveries(time.time())
        report = DeliveryReport()
        if not heads:
            return report
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [
                pool.submit(self._drain, head.subscription_id, max_per_subscription)
                for head in heads
            ]
            for future in concurrent.futures.as_completed(futures):
                report.add(future.result())
        return report

    def _drain(self, subscription_id: str, budget: int) -> DeliveryReport:
        """Deliver one subscription's due entries in order, stopping at the first failure."""
        report = DeliveryReport()
        owner = worker_id()
        store = self.rt.store
        subscription = store.subscription(subscription_id)
        if subscription is None:
            return report
        for _ in range(budget):
            heads = store.next_deliveries(time.time(), subscription_id)
            if not heads:
                break
            lease = self.timeout + 30
            claimed = store.claim(
                heads[0].id, owner, now=time.time(), lease=lease, is_stale=is_stale
            )
            if claimed is None:
                break
            started = time.monotonic()
            outcome = self._attempt(claimed, subscription)
            self.rt.metrics.delivery_attempt(claimed, outcome, time.monotonic() - started)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome != "delivered":
                break
        return report

    def _attempt(self, delivery: Delivery, subscription: Subscription) -> str:
        store = self.rt.store
        try:
            check_target(subscription.target_url, allow_private=self.allow_private)
        except TargetRefused as exc:
            store.dead_letter(delivery.id, status=None, error=exc.message)
            return "dead"
        try:
            secret = self.rt.sealer.open(
                subscription.secret_ciphertext, f"subscription:{subscription.id}"
            )
        except SealError as exc:
            # A changed CONNECTOR_SECRET_KEY: keep the delivery until the right one is back.
            return self._retry(delivery, None, exc.message, None, transient=True)
        now = dt.datetime.now(dt.UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(delivery.webhook_id, now, delivery.payload),
        }
        try:
            response = self.client.post(
                subscription.target_url, content=delivery.payload.encode(), headers=headers
            )
        except httpx.TimeoutException:
            return self._retry(delivery, None, "timed out", None, transient=True)
        except httpx.HTTPError as exc:
            return self._retry(delivery, None, f"{type(exc).__name__}", None, transient=True)
        status = response.status_code
        if 200 <= status < 300:
            store.delivered(delivery.id)
            return "delivered"
        if status == 410:
            log.info("target of %s answered 410 Gone: unsubscribing", subscription.id)
            store.remove_subscription(subscription.id)
            return "unsubscribed"
        transient = status in (408, 429) or status >= 500
        return self._retry(
            delivery,
            status,
            f"target answered {status}",
            _retry_after(response),
            transient=transient,
        )

    def _retry(
        self,
        delivery: Delivery,
        status: int | None,
        error: str,
        retry_after: float | None,
        *,
        transient: bool,
    ) -> str:
        attempt = delivery.attempts + 1
        wait = self.policy.delay(attempt, retry_after, self.rng)
        now = time.time()
        too_old = now + wait - delivery.created_at > self.policy.max_age
        too_many = not transient and attempt >= self.policy.client_error_attempts
        if too_old or too_many:
            self.rt.store.dead_letter(delivery.id, status=status, error=error)
            log.warning(
                "delivery %s dead-lettered after %d attempts: %s",
                delivery.webhook_id,
                attempt,
                error,
            )
            return "dead"
        self.rt.store.retry_later(delivery.id, at=now + wait, status=status, error=error)
        return "retried"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None
