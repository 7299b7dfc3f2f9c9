"""The store interface: feeds and the video ids each feed has delivered."""

from __future__ import annotations

import contextlib
import dataclasses
import typing as t


@dataclasses.dataclass(frozen=True)
class FeedKey:
    """One polling feed: what a (tenant, platform, consumer) watches on one handle.

    ``consumer`` is ``""`` when the caller named none.
    """

    tenant: str
    platform: str
    consumer: str
    handle: str


@dataclasses.dataclass(frozen=True)
class FeedState:
    """What a feed remembers besides its seen ids.

    ``floor``: every video posted at or before this Unix time is accounted for, either
    recorded at the baseline or forgotten by retention. Unseen videos that old are
    never new.
    """

    floor: int
    gaps: tuple[Gap, ...] = ()


@dataclasses.dataclass(frozen=True)
class Gap:
    """A catch-up a poll's time budget cut short: the feed's pages from ``cursor`` on (an
    upstream paging cursor) may still hold videos never delivered; the next polls read on
    from there, ``pages`` more at the most."""

    cursor: str
    pages: int


@dataclasses.dataclass(frozen=True)
class Observed:
    """A video seen in the upstream feed during a poll."""

    video_id: str
    created_at: int


@dataclasses.dataclass(frozen=True)
class Subscription:
    """A target URL watching one handle for new videos on a tenant's behalf."""

    id: str
    tenant: str
    platform: str
    provider: str | None  # the X-Provider given at subscribe time, if any
    consumer: str
    handle: str
    event: str
    target_url: str
    secret_ciphertext: bytes = dataclasses.field(repr=False)
    created_at: float

    @property
    def feed(self) -> FeedKey:
        """Each subscription has a feed of its own, so each receives every new video."""
        return FeedKey(self.tenant, self.platform, f"hook:{self.id}", self.handle)

    @property
    def watch(self) -> WatchKey:
        return WatchKey(self.tenant, self.provider or "", self.handle)


@dataclasses.dataclass(frozen=True)
class WatchKey:
    """What one upstream read serves: a tenant's handle, through one provider choice
    (``""`` when the subscriptions named none)."""

    tenant: str
    provider: str
    handle: str


@dataclasses.dataclass(frozen=True)
class Sealed:
    """A value the store keeps sealed with the secret key: ``kind`` ``"tenant"`` (a tenant's
    upstream key; ``owner`` is the tenant) or ``"subscription"`` (a signing secret; ``owner``
    is the subscription id)."""

    kind: str
    owner: str
    blob: bytes = dataclasses.field(repr=False)


class LimitReached(Exception):
    """A new subscription would exceed a limit: ``scope`` ``"tenant"`` (subscriptions of the
    tenant) or ``"target"`` (the tenant's subscriptions to one target); ``limit`` is it."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{scope} already has {limit} subscriptions")
        self.scope = scope
        self.limit = limit


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One video waiting in the outbox for one subscription (or dead-lettered)."""

    id: int
    subscription_id: str
    video_id: str
    webhook_id: str  # stable across retries: receivers dedup on it
    payload: str  # the JSON body, fixed when enqueued
    status: str  # "pending", "dead"
    attempts: int
    created_at: float
    next_attempt_at: float
    last_status: int | None
    last_error: str | None


class FeedTransaction:
    """A feed locked for one read-modify-write, committed when the ``with`` block ends.

    Concurrent transactions on the same feed run one after the other, so two polls never
    both see a video as new.
    """

    state: FeedState | None
    """None until the feed's baseline is recorded."""

    def create(self, floor: int) -> None:
        """Record the feed's baseline with the given floor."""
        raise NotImplementedError

    def seen(self, video_ids: t.Iterable[str]) -> set[str]:
        """Which of ``video_ids`` this feed has seen."""
        raise NotImplementedError

    def remember(self, videos: t.Sequence[Observed], now: float) -> None:
        """Mark ``videos`` seen, refreshing the last-observed time of those already known."""
        raise NotImplementedError

    def prune(self, keep: int) -> int:
        """Forget all but the ``keep`` most recently observed ids; raise the floor to cover
        the forgotten ones. Returns how many were forgotten."""
        raise NotImplementedError

    def set_gaps(self, gaps: t.Sequence[Gap]) -> None:
        """Replace the feed's unfinished catch-ups (newest first)."""
        raise NotImplementedError

    def record_delivered(
        self, items: t.Sequence[tuple[Observed, str]], now: float, *, keep: int, window: float
    ) -> None:
        """Keep (video, JSON payload) pairs just delivered, so that :meth:`recent` can give them
        again; forget those delivered more than ``window`` seconds ago and all but the
        ``keep`` latest."""
        raise NotImplementedError

    def recent(self, since: float, limit: int) -> list[str]:
        """JSON payloads of the videos delivered at or after ``since``, latest first."""
        raise NotImplementedError

    def enqueue(self, subscription_id: str, items: t.Sequence[tuple[str, str]], now: float) -> None:
        """Put (video id, JSON payload) pairs in the subscription's outbox, in this order
        (the order they will be delivered in), in the same transaction."""
        raise NotImplementedError


class Store:
    """Durable state. Every method is safe to call from several threads."""

    backend: t.ClassVar[str]

    def feed(self, key: FeedKey) -> contextlib.AbstractContextManager[FeedTransaction]:
        """Lock the feed for a read-modify-write (creating nothing until ``create``).

        :raises StoreUnavailable: when the lock cannot be had in time.
        """
        raise NotImplementedError

    def peek(self, key: FeedKey, video_ids: t.Iterable[str]) -> tuple[FeedState | None, set[str]]:
        """Read the feed's state and which of ``video_ids`` it has seen, without locking.

        For judgements the locked decision makes again: it may report a seen id as unseen
        (past the first few hundred asked), never an unseen one as seen."""
        raise NotImplementedError

    # -- subscriptions ------------------------------------------------------------------------

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
        """Store the subscription, its tenant's sealed key and its feed's baseline at once.

        :param target_key: what counts as the subscription's target for ``max_per_target``
            (default: its URL as given).
        :raises LimitReached: when the tenant already has ``max_per_tenant`` subscriptions,
            or ``max_per_target`` with this target key; counted and added atomically, so
            concurrent calls cannot exceed a limit. Nothing is stored then.
        """
        raise NotImplementedError

    def count_subscriptions(self, tenant: str, target_key: str | None = None) -> int:
        """How many subscriptions the tenant has (to the target with ``target_key``, if
        given)."""
        raise NotImplementedError

    def subscriptions(self, tenant: str | None = None) -> list[Subscription]:
        """All subscriptions, or one tenant's, oldest first."""
        raise NotImplementedError

    def subscription(self, subscription_id: str) -> Subscription | None:
        raise NotImplementedError

    def has_subscriptions(self) -> bool:
        """Whether any subscription exists (cheap: read at start-up)."""
        raise NotImplementedError

    def remove_subscription(self, subscription_id: str) -> bool:
        """Remove it with its feed and its undelivered outbox; remove the tenant's sealed key
        with its last subscription. Returns whether it existed."""
        raise NotImplementedError

    def tenant_key(self, tenant: str) -> bytes | None:
        """The tenant's sealed upstream key, if it has subscriptions."""
        raise NotImplementedError

    # -- the secret key: a check value, and everything sealed with it ------------------------

    def key_check(self) -> bytes | None:
        """The sealed check value written by :meth:`put_key_check`, if any."""
        raise NotImplementedError

    def put_key_check(self, blob: bytes, *, replacing: bytes | None) -> bool:
        """Write the check value: only if there is none (``replacing=None``), or only if it is
        still ``replacing``. Returns whether it was written."""
        raise NotImplementedError

    def sealed_values(self) -> list[Sealed]:
        """Every sealed tenant key and signing secret."""
        raise NotImplementedError

    def reseal(self, changes: t.Sequence[tuple[Sealed, bytes]], key_check: bytes) -> int:
        """In one transaction, replace each sealed value by its new blob (unless it changed
        since it was read) and the check value by ``key_check``. Returns how many values
        were replaced."""
        raise NotImplementedError

    # -- watches: who polls which handle ------------------------------------------------------

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
        """Claim up to ``limit`` watches due for a poll and not claimed by another worker
        (unless its claim expired or ``is_stale`` says that worker is gone). A watch is due
        ``min_gap`` seconds after its last poll, later when the release deferred it (a quiet
        handle, see :meth:`release_watches`), or at once when it was never polled. Workers
        running cycles at once split the due watches; each is claimed by one."""
        raise NotImplementedError

    def release_watch(
        self,
        key: WatchKey,
        owner: str,
        *,
        polled_at: float,
        found_new: bool = False,
        failed: bool = False,
        lasting: bool = False,
        defer: t.Callable[[float], float] | None = None,
        backoff: t.Callable[[float], float] | None = None,
    ) -> None:
        """:meth:`release_watches` for one poll (``lasting``: it failed for a lasting reason)."""
        self.release_watches(
            owner,
            [(key, polled_at)],
            found_new=[key] if found_new else (),
            failed=[key] if failed or lasting else (),
            lasting=[key] if lasting else (),
            defer=defer,
            backoff=backoff,
        )

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
        """Record each (key, polled_at) poll (successful or not) and release its claim, in one
        transaction where the backend allows it (a claim another owner holds now is left
        alone).

        Each watch remembers when it was last *active*: when a poll found new videos on it
        (keys in ``found_new``) or it gained a subscription. ``defer(quiet)`` says how many
        seconds beyond the claim's ``min_gap`` a watch quiet for ``quiet`` seconds waits
        before it is due again (default: none). A failed poll (keys in ``failed``) saw
        nothing: it leaves the activity as it was. Of those, the ones in ``lasting`` failed
        for a reason a retry soon would meet again: the watch remembers since when its polls
        fail so, and ``backoff(failing_for)`` says how many seconds beyond ``min_gap`` it
        waits. Any other failure defers nothing. A poll that works ends the back-off.
        """
        for key, polled_at in polls:
            self.release_watch(
                key,
                owner,
                polled_at=polled_at,
                found_new=key in found_new,
                failed=key in failed,
                lasting=key in lasting,
                defer=defer,
                backoff=backoff,
            )

    # -- outbox -------------------------------------------------------------------------------

    def next_deliveries(self, now: float, subscription_id: str | None = None) -> list[Delivery]:
        """For each subscription (or only the one given), its oldest pending delivery, if that
        one is due by ``now``. Later ones wait, so each target gets its videos in order."""
        raise NotImplementedError

    def claim(
        self,
        delivery_id: int,
        owner: str,
        *,
        now: float,
        lease: float,
        is_stale: t.Callable[[str], bool],
    ) -> Delivery | None:
        """Claim a pending delivery for ``lease`` seconds. A claim held by another owner is
        taken over only once expired or when ``is_stale(owner)`` says its worker is gone.
        Returns the claimed delivery, or None when it is not available."""
        raise NotImplementedError

    def delivered(self, delivery_id: int) -> None:
        """Record success: the delivery leaves the outbox."""
        raise NotImplementedError

    def retry_later(self, delivery_id: int, *, at: float, status: int | None, error: str) -> None:
        """Record a failed attempt; release the claim until ``at``."""
        raise NotImplementedError

    def dead_letter(self, delivery_id: int, *, status: int | None, error: str) -> None:
        """Record the last failed attempt and give up: the delivery becomes a dead letter."""
        raise NotImplementedError

    def dead_letters(self, tenant: str | None = None) -> list[Delivery]:
        raise NotImplementedError

    def replay(
        self, delivery_ids: t.Sequence[int] | None, *, tenant: str | None, now: float
    ) -> int:
        """Put dead letters (the given ones, or all) back in the outbox, due now, with their
        attempts reset. Returns how many."""
        raise NotImplementedError

    def ping(self) -> None:
        """Return when the store answers; raise :class:`StoreUnavailable` otherwise."""
        raise NotImplementedError

    def migrate(self) -> int:
        """Apply the schema migrations not applied yet, once however many workers start
        together; applying them again changes nothing.

        :return: the schema version the store is at.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
