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
from ..store import FeedKey, FeedState, Observed

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
    videos = _fetch(provider, store, feed, since=since, max_pages=settings.max_pages)
    observed = [Observed(v["id"], v["created_at_timestamp"]) for v in videos]
    now = time.time()
    with store.feed(feed) as tx:
        if tx.state is None:
            tx.create(floor=_baseline_floor(videos, since))
            tx.remember(observed, now)
            fresh = [v for v in videos if since is not None and v["created_at_timestamp"] >= since]
        else:
            floor = tx.state.floor
            known = tx.seen(o.video_id for o in observed)
            fresh = [
                v for v in videos if v["id"] not in known and v["created_at_timestamp"] > floor
            ]
            tx.remember(observed, now)
        tx.prune(settings.seen_ids_per_feed)
    return _newest_first(_unique(fresh))


def _fetch(
    provider: VideoLister, store: Store, feed: FeedKey, *, since: int | None, max_pages: int
) -> list[Video]:
    """Read pages until they overlap what the feed knows (or ``since``), at most ``max_pages``.

    Pinned videos sit on top of page 1 whatever their age, so overlap is judged by the last
    video of a page: once it is known (or older than the floor), the pages after it are too.
    """
    videos: list[Video] = []
    cursor: str | None = None
    for _ in range(max_pages):
        page = provider.list_videos(feed.handle, cursor)
        for video in page.videos:
            if video.get("created_at_timestamp") is None:
                raise ProviderInvalidResponse(
                    f"{provider.label} returned video {video['id']} without a posting time."
                )
        videos.extend(page.videos)
        if not page.has_more or not page.cursor or not page.videos:
            break
        last = page.videos[-1]
        state, known = store.peek(feed, [last["id"]])
        if state is None:
            if since is None or last["created_at_timestamp"] < since:
                break
        elif last["id"] in known or last["created_at_timestamp"] <= state.floor:
            break
        cursor = page.cursor
    return videos


def _baseline_floor(videos: list[Video], since: int | None) -> int:
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


__all__ = ["FeedKey", "FeedState", "PollSettings", "poll", "sample"]
