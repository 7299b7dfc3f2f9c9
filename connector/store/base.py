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


@dataclasses.dataclass(frozen=True)
class Observed:
    """A video seen in the upstream feed during a poll."""

    video_id: str
    created_at: int


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


class Store:
    """Durable state. Every method is safe to call from several threads."""

    backend: t.ClassVar[str]

    def feed(self, key: FeedKey) -> contextlib.AbstractContextManager[FeedTransaction]:
        """Lock the feed for a read-modify-write (creating nothing until ``create``).

        :raises StoreUnavailable: when the lock cannot be had in time.
        """
        raise NotImplementedError

    def peek(self, key: FeedKey, video_ids: t.Iterable[str]) -> tuple[FeedState | None, set[str]]:
        """Read the feed's state and which of ``video_ids`` it has seen, without locking."""
        raise NotImplementedError

    def ping(self) -> None:
        """Return when the store answers; raise :class:`StoreUnavailable` otherwise."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
