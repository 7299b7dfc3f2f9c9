"""The "new video posted" trigger: polling dedup of aweme_ids per feed.

A poll reads the profile feed (paging back after downtime), then, in one store transaction
that locks the feed, decides what is new and records it. Upstream is read before the
transaction, so a poll that fails on any page records nothing; deciding and recording
together means two concurrent polls of one feed never return the same video.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

from ..errors import ProviderInvalidResponse
from ..store import FeedKey, FeedTransaction, Observed

if t.TYPE_CHECKING:
    from ..providers.base import VideoLister
    from ..store import Store

Video = dict[str, t.Any]


@dataclasses.dataclass(frozen=True)
class PollSettings:
    max_pages: int = 5
    seen_ids_per_feed: int = 1000
    sample_size: int = 3


def sample(provider: VideoLister, handle: str, size: int) -> list[Video]:
    """The latest ``size`` videos, newest first; reads no state and writes none."""
    page = provider.list_videos(handle)
    return _newest_first(page.videos)[:size]


def poll(
    provider: VideoLister,
    store: Store,
    feed: FeedKey,
    *,
    since: int | None = None,
    settings: PollSettings | None = None,
) -> list[Video]:
    """Videos of ``feed.handle`` never returned to ``feed`` before, newest first.

    The first poll records a baseline and returns nothing, or, with ``since``, the videos
    posted at or after that Unix time.

    :raises ProviderError: from upstream, with nothing recorded.
    :raises StoreUnavailable: with nothing recorded.
    """
    settings = settings or PollSettings()
    videos = fetch(provider, store, [feed], since=since, max_pages=settings.max_pages)
    with store.feed(feed) as tx:
        return decide(tx, videos, since=since, keep=settings.seen_ids_per_feed)


def decide(
    tx: FeedTransaction, videos: list[Video], *, since: int | None = None, keep: int = 1000
) -> list[Video]:
    """Within a locked feed: which of ``videos`` are new to it (newest first), recorded as seen.

    A feed without a baseline gets one: nothing is new then, except videos posted at or
    after ``since`` when given.
    """
    observed = [Observed(v["id"], v["created_at_timestamp"]) for v in videos]
    now = time.time()
    if tx.state is None:
        tx.create(floor=baseline_floor(videos, since))
        fresh = [v for v in videos if since is not None and v["created_at_timestamp"] >= since]
    else:
        floor = tx.state.floor
        known = tx.seen(o.video_id for o in observed)
        fresh = [v for v in videos if v["id"] not in known and v["created_at_timestamp"] > floor]
    tx.remember(observed, now)
    tx.prune(keep)
    return _newest_first(_unique(fresh))


def fetch(
    provider: VideoLister,
    store: Store,
    feeds: t.Sequence[FeedKey],
    *,
    since: int | None = None,
    max_pages: int = 5,
) -> list[Video]:
    """Read the handle's pages until they overlap what every one of ``feeds`` knows (or reach
    ``since`` for a feed without a baseline), at most ``max_pages``.

    One read serves every feed watching the handle. Pinned videos sit on top of page 1
    whatever their age, so overlap is judged by the last video of a page: once a feed knows
    it (or it is older than the feed's floor), the pages after it hold nothing new for it.
    """
    handle = feeds[0].handle
    videos: list[Video] = []
    cursor: str | None = None
    for _ in range(max_pages):
        page = provider.list_videos(handle, cursor)
        for video in page.videos:
            if video.get("created_at_timestamp") is None:
                raise ProviderInvalidResponse(
                    f"{provider.label} returned video {video['id']} without a posting time."
                )
        videos.extend(page.videos)
        if not page.has_more or not page.cursor or not page.videos:
            break
        last = page.videos[-1]
        if not any(_needs_older(store, feed, last, since) for feed in feeds):
            break
        cursor = page.cursor
    return videos


def _needs_older(store: Store, feed: FeedKey, last: Video, since: int | None) -> bool:
    state, known = store.peek(feed, [last["id"]])
    if state is None:
        return since is not None and last["created_at_timestamp"] >= since
    return last["id"] not in known and last["created_at_timestamp"] > state.floor


def baseline_floor(videos: list[Video], since: int | None) -> int:
    """The floor for a new feed: what the baseline pages reach back to.

    Everything older than the last video read was never recorded, so it must never count
    as new (it would surface if newer videos were deleted). A since-poll also covers
    everything before ``since``.
    """
    if not videos:
        return 0 if since is None else since - 1
    reached = videos[-1]["created_at_timestamp"] - 1
    return reached if since is None else min(reached, since - 1)


def _unique(videos: list[Video]) -> list[Video]:
    return list({v["id"]: v for v in videos}.values())


def _newest_first(videos: list[Video]) -> list[Video]:
    return sorted(videos, key=lambda v: (v.get("created_at_timestamp") or 0, v["id"]), reverse=True)


__all__ = ["PollSettings", "baseline_floor", "decide", "fetch", "poll", "sample"]
