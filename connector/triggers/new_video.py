"""The "new video posted" trigger: polling dedup of aweme_ids per feed.

A poll reads the profile feed (paging back after downtime), then, in one store transaction
that locks the feed, decides what is new and records it. Upstream is read before the
transaction, so a poll that fails on any page records nothing; deciding and recording
together means two concurrent polls of one feed never return the same video.

A trigger poll runs within a time budget (platforms give a poll 30 to 40 s). A catch-up
that the budget cuts short returns what it read and leaves a :class:`~connector.store.Gap`
in the feed: the next polls read on from there, so nothing is lost and nothing repeated.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import typing as t

from .. import deadlines
from ..errors import ProviderError, ProviderRejectedInput, ProviderTimeout
from ..store import FeedKey, FeedTransaction, Gap, Observed

if t.TYPE_CHECKING:
    from ..providers.base import VideoLister, VideoPage
    from ..store import FeedState, Store

log = logging.getLogger(__name__)

Video = dict[str, t.Any]

#: A page is not started with less time left than this: it would only time out.
MIN_PAGE_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class PollSettings:
    """How far and how long a poll may read, and what it keeps."""

    max_pages: int = 5
    seen_ids_per_feed: int = 1000
    sample_size: int = 3
    #: Seconds a whole trigger poll may take, from the request's arrival to its answer.
    budget: float = 25.0
    #: Part of the budget kept for the store transaction after the last page.
    store_reserve: float = 2.0
    #: What ``include_recent`` adds: videos delivered this many seconds ago at most, and
    #: at most this many.
    recent_window: float = 3600.0
    recent_max: int = 50
    #: Unfinished catch-ups one feed keeps; more would mean upstream is slow for hours.
    max_gaps: int = 5


class Pages:
    """The pages one poll read: whole records for the entries that need them (those new to
    a feed), mapped from the page that listed them."""

    def __init__(self) -> None:
        self._page_of: dict[str, VideoPage] = {}
        #: Ids whose whole record turned out malformed (each logged when mapped).
        self.malformed: set[str] = set()

    def add(self, page: VideoPage, entries: list[Video]) -> None:
        for entry in entries:
            self._page_of.setdefault(entry["id"], page)

    def records(self, entries: list[Video]) -> list[Video]:
        """Whole records of ``entries``, in order, malformed ones left out (logged)."""
        whole = []
        for entry in entries:
            record = self._page_of[entry["id"]].records([entry])
            if record:
                whole.extend(record)
            else:
                self.malformed.add(entry["id"])
        return whole


@dataclasses.dataclass(frozen=True)
class FeedRead:
    """What one poll read of a feed: every video as an entry (id and posting time, upstream
    order), the pages they came from, the feed's gaps before the read and after it, and how
    many items upstream listed were left out for want of an id or posting time."""

    videos: list[Video]
    pages: Pages = dataclasses.field(default_factory=Pages)
    gaps_before: tuple[Gap, ...] = ()
    gaps_after: tuple[Gap, ...] = ()
    skipped: int = 0

    def decide(
        self, tx: FeedTransaction, *, since: int | None, limit: int | None, keep: int
    ) -> list[Video]:
        """:func:`decide` on what this read found, mapping new videos from its pages."""
        return decide(
            tx, self.videos, since=since, limit=limit, keep=keep, records=self.pages.records
        )


@dataclasses.dataclass(frozen=True)
class HandleRead:
    """What one read of a handle for several feeds found (entries, and the pages to map
    their whole records from), and the items left out."""

    videos: list[Video]
    pages: Pages = dataclasses.field(default_factory=Pages)
    skipped: int = 0


class Glimpse:
    """What one poll has read of a feed's state without a lock: the state, and which of the
    videos listed so far the feed knows, each id asked once.

    The judgements made before locking (does a page overlap what is known, is anything new)
    go by it; the locked decision reads again. So an idle poll reads the store once.
    """

    def __init__(self, store: Store, feed: FeedKey) -> None:
        self.store = store
        self.feed = feed
        self.state: FeedState | None = None
        self.known: set[str] = set()
        self._asked: set[str] | None = None  # None until the first read

    def look(self, videos: t.Iterable[Video]) -> tuple[FeedState | None, set[str]]:
        """The state, and the known ones among ``videos`` and those asked before (read
        from the store when any of ``videos`` was not asked yet)."""
        ids = [v["id"] for v in videos]
        missing = ids if self._asked is None else [i for i in ids if i not in self._asked]
        if self._asked is None or missing:
            self.state, known = self.store.peek(self.feed, missing)
            self.known |= known
            self._asked = (self._asked or set()) | set(missing)
        return self.state, self.known


def sample(provider: VideoLister, handle: str, size: int) -> list[Video]:
    """The latest ``size`` videos, newest first; reads no state and writes none."""
    page = provider.list_videos(handle)
    chosen: list[Video] = []
    for entry in _newest_first(page.listed):  # only those shown are mapped whole
        chosen.extend(page.records([entry]))
        if len(chosen) == size:
            break
    return chosen


def poll(
    provider: VideoLister,
    store: Store,
    feed: FeedKey,
    *,
    since: int | None = None,
    limit: int | None = None,
    include_recent: bool = False,
    settings: PollSettings | None = None,
    arrived: float | None = None,
) -> list[Video]:
    """Videos of ``feed.handle`` never returned to ``feed`` before, newest first.

    The first poll records a baseline and returns nothing, or, with ``since``, the videos
    posted at or after that Unix time. With ``limit``, at most that many, the oldest of the
    new ones: the rest stay new for the next polls. With ``include_recent``, the videos the
    feed received lately come again too (for callers that drop repeated ids themselves).
    The poll answers within ``settings.budget`` seconds of ``arrived`` (``time.monotonic()``).

    :raises ProviderError: from upstream, with nothing recorded (a timeout when not even the
        first page could be read in time).
    :raises StoreUnavailable: with nothing recorded.
    """
    settings = settings or PollSettings()
    start = time.monotonic() if arrived is None else arrived
    glimpse = Glimpse(store, feed)
    with deadlines.until(start + settings.budget - settings.store_reserve):
        read = read_feed(provider, glimpse, since=since, settings=settings)
    if not include_recent and _nothing_new(glimpse, read):
        # An idle poll, the usual one, writes nothing and so takes no write lock: what the
        # page holds is already recorded, and recording it again would change nothing that
        # the next writing poll does not redo (it records its whole page before pruning).
        return []
    # The store's lock waits (SQLite's busy timeout) end with the budget too.
    with deadlines.until(start + settings.budget), store.feed(feed) as tx:
        if include_recent:
            answer = _with_recent(tx, read, since, limit, settings)
        else:
            answer = read.decide(tx, since=since, limit=limit, keep=settings.seen_ids_per_feed)
        # Gaps another poll opened meanwhile are kept; those this one read are replaced.
        now_open = tx.state.gaps if tx.state else ()
        opened_meanwhile = tuple(g for g in now_open if g not in read.gaps_before)
        tx.set_gaps((*read.gaps_after, *opened_meanwhile)[: settings.max_gaps])
        return answer


def _nothing_new(glimpse: Glimpse, read: FeedRead) -> bool:
    """Whether a poll's read holds nothing new to ``feed`` and opens or closes no catch-up,
    judged on committed state without a lock (a poll that finds something new locks the
    feed and decides again, so two polls never both return a video)."""
    if read.gaps_before or read.gaps_after:
        return False
    state, known = glimpse.look(read.videos)
    if state is None or state.gaps:
        return False
    return all(v["id"] in known or v["created_at_timestamp"] <= state.floor for v in read.videos)


def read_feed(
    provider: VideoLister,
    glimpse: Glimpse,
    *,
    since: int | None = None,
    settings: PollSettings,
) -> FeedRead:
    """Read one feed's new pages, then its unfinished catch-ups, as far as time allows.

    The first page must be read (else :class:`ProviderTimeout`); a later page that the time
    left cannot cover becomes a gap for the next poll instead.
    """
    feed = glimpse.feed

    def wants_older(page: list[Video]) -> bool:
        return _needs_older(glimpse, page, since)

    read = Pages()
    videos, cut, pages, skipped = _read_pages(
        provider, feed.handle, None, wants_older, settings.max_pages, read
    )
    # The gaps as the feed held them when its first page was judged: the ones this poll
    # reads and replaces (see poll).
    state, _ = glimpse.look(videos)
    gaps_before = state.gaps if state else ()
    gaps: list[Gap] = []
    if cut is not None:
        gaps.append(Gap(cut, settings.max_pages - pages))
    for index, gap in enumerate(gaps_before):
        if _out_of_time():
            gaps.extend(gaps_before[index:])
            break
        try:
            older, cut, pages, skipped_older = _read_pages(
                provider, feed.handle, gap.cursor, wants_older, gap.pages, read
            )
        except ProviderRejectedInput:
            log.warning("dropping a catch-up of %s: upstream refused its cursor", feed.handle)
            continue
        except ProviderError as exc:
            # Keep this gap and the older ones for the next poll; deliver what was read.
            log.info("catch-up of %s postponed: %s", feed.handle, exc.message)
            gaps.extend(gaps_before[index:])
            break
        videos.extend(older)
        skipped += skipped_older
        if cut is not None:
            gaps.append(Gap(cut, gap.pages - pages))
    kept = tuple(g for g in gaps if g.pages > 0)
    if len(kept) > settings.max_gaps:
        log.warning("feed of %s has too many unfinished catch-ups; oldest dropped", feed.handle)
    return FeedRead(videos, read, gaps_before, kept[: settings.max_gaps], skipped)


def read_handle(
    provider: VideoLister,
    store: Store,
    feeds: t.Sequence[FeedKey],
    *,
    since: int | None = None,
    max_pages: int = 5,
) -> HandleRead:
    """Read the handle's pages until they overlap what every one of ``feeds`` knows (or reach
    ``since`` for a feed without a baseline), at most ``max_pages``: the videos as entries,
    the pages to map their whole records from, and how many items were left out.

    One read serves every feed watching the handle (the webhook poll cycle, which has no
    platform waiting on it and so no time budget).
    """

    glimpses = [Glimpse(store, feed) for feed in feeds]

    def wants_older(page: list[Video]) -> bool:
        return any(_needs_older(glimpse, page, since) for glimpse in glimpses)

    read = Pages()
    videos, _, _, skipped = _read_pages(
        provider, feeds[0].handle, None, wants_older, max_pages, read
    )
    return HandleRead(videos, read, skipped)


def _read_pages(
    provider: VideoLister,
    handle: str,
    cursor: str | None,
    wants_older: t.Callable[[list[Video]], bool],
    max_pages: int,
    read: Pages,
) -> tuple[list[Video], str | None, int, int]:
    """(videos, cursor of the first page left unread for want of time, pages read, malformed
    items skipped).

    Pinned videos sit on top of page 1 whatever their age, so overlap is judged by the last
    video of a page: once ``wants_older`` says no for the page, the pages after it hold
    nothing new. The first page is always attempted; each later one only with time left for it.
    """
    videos: list[Video] = []
    skipped = 0
    for pages in range(max_pages):
        if pages and _out_of_time():
            return videos, cursor, pages, skipped
        try:
            page = provider.list_videos(handle, cursor)
        except ProviderTimeout:
            if pages and _out_of_time():
                return videos, cursor, pages, skipped
            raise
        # Providers leave out (and count) items without an id or a posting time: such a
        # video cannot be placed in a feed. Skipped, one bad item blocks nothing.
        timed = [v for v in page.listed if v.get("created_at_timestamp") is not None]
        for video in page.listed:
            if video.get("created_at_timestamp") is None:
                log.warning(
                    "skipped video %s of @%s from %s: no posting time",
                    video["id"],
                    handle,
                    provider.label,
                )
        skipped += page.unlisted + len(page.listed) - len(timed)
        read.add(page, timed)
        videos.extend(timed)
        if not page.has_more or not page.cursor or not timed:
            return videos, None, pages + 1, skipped
        if not wants_older(timed):
            return videos, None, pages + 1, skipped
        cursor = page.cursor
    return videos, None, max_pages, skipped


def _out_of_time() -> bool:
    left = deadlines.remaining()
    return left is not None and left < MIN_PAGE_SECONDS


def decide(
    tx: FeedTransaction,
    videos: list[Video],
    *,
    since: int | None = None,
    limit: int | None = None,
    keep: int = 1000,
    records: t.Callable[[list[Video]], list[Video]] = list,
) -> list[Video]:
    """Within a locked feed: which of ``videos`` are new to it (newest first), recorded as seen.

    A feed without a baseline gets one: nothing is new then, except videos posted at or
    after ``since`` when given. With ``limit``, only the oldest ``limit`` new videos are
    returned and recorded; the newer ones stay new for the next polls, in order.
    ``records`` turns the new entries into whole records (those it leaves out as malformed
    are neither returned nor recorded: a corrected listing may bring them later).
    """
    now = time.time()
    if tx.state is None:
        tx.create(floor=baseline_floor(videos, since))
        fresh = [v for v in videos if since is not None and v["created_at_timestamp"] >= since]
    else:
        floor = tx.state.floor
        known = tx.seen(v["id"] for v in videos)
        fresh = [v for v in videos if v["id"] not in known and v["created_at_timestamp"] > floor]
    fresh = _newest_first(_unique(fresh))
    deferred: set[str] = set()
    if limit is not None and len(fresh) > limit:
        cut = len(fresh) - limit  # the newest ones wait; limit may be 0
        deferred = {v["id"] for v in fresh[:cut]}
        fresh = fresh[cut:]
    whole = records(fresh)
    if len(whole) < len(fresh):
        deferred |= {v["id"] for v in fresh} - {v["id"] for v in whole}
    fresh = whole
    tx.remember(
        [Observed(v["id"], v["created_at_timestamp"]) for v in videos if v["id"] not in deferred],
        now,
    )
    tx.prune(keep)
    return fresh


def _with_recent(
    tx: FeedTransaction,
    read: FeedRead,
    since: int | None,
    limit: int | None,
    settings: PollSettings,
) -> list[Video]:
    """What :func:`decide` finds new, plus what the feed received within the recent window.

    ``since`` is the caller's own position when it sends one on every poll (Make's last
    processed date): recent videos posted after it were never processed there, so
    they come first and count against ``limit``, before newer videos are taken (a lost
    answer is then recovered even behind a backlog). The remaining room is filled with the
    other recent videos, latest delivery first.
    """
    now = time.time()
    recent = [
        json.loads(payload)
        for payload in tx.recent(now - settings.recent_window, settings.recent_max)
    ]
    pending = []
    if since is not None and tx.state is not None:
        # After, not at: the video at the caller's position is the one it processed last.
        pending = _newest_first([v for v in recent if v["created_at_timestamp"] > since])
        if limit is not None:
            pending = pending[len(pending) - limit :] if len(pending) > limit else pending
    room = None if limit is None else limit - len(pending)
    fresh = read.decide(tx, since=since, limit=room, keep=settings.seen_ids_per_feed)
    tx.record_delivered(
        [(Observed(v["id"], v["created_at_timestamp"]), json.dumps(v)) for v in fresh],
        now,
        keep=settings.recent_max,
        window=settings.recent_window,
    )
    answer = fresh + pending
    returned = {v["id"] for v in answer}
    # What the store keeps: the recent_max latest deliveries, this poll's included.
    spare = settings.recent_max - len(answer)
    if limit is not None:
        spare = min(spare, limit - len(answer))
    return answer + [v for v in recent if v["id"] not in returned][: max(spare, 0)]


def _needs_older(glimpse: Glimpse, page: list[Video], since: int | None) -> bool:
    """Whether the pages after ``page`` may hold videos new to the feed: its last video is
    neither known nor older than the feed's floor (the whole page is looked up at once, so
    that judging whether anything is new reads nothing more)."""
    last = page[-1]
    state, known = glimpse.look(page)
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


__all__ = [
    "FeedRead",
    "HandleRead",
    "PollSettings",
    "baseline_floor",
    "decide",
    "poll",
    "read_handle",
    "read_feed",
    "sample",
]
