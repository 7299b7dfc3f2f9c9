"""Fewer paid upstream calls: identical lookups share one call, and answers are kept briefly.

Two lookups are identical when they have the same tenant, the same providers and keys in the
same order, the same operation and the same (already normalized) argument; nothing is ever
shared across tenants. Everything here lives in one process: each gunicorn worker or Lambda
instance keeps its own answers.

A call that fails is never kept. The callers that were waiting on it get the same error
rather than each retrying: retrying would turn one failure under load (a rate limit, an
outage) into as many paid calls as there were waiters, and the error is as fresh as any
answer they would have shared.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import hashlib
import threading
import time
import typing as t

from .. import deadlines
from ..errors import ProviderTimeout
from .failover import FailoverProvider

if t.TYPE_CHECKING:
    from ..links import VideoRef
    from .base import Provider, VideoPage

R = t.TypeVar("R")
Key = tuple[t.Hashable, ...]


@dataclasses.dataclass
class _Flight:
    """A call in flight that other callers with the same key wait on."""

    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    value: t.Any = None
    error: BaseException | None = None


class LookupCache:
    """Answers kept for a while (least recently used dropped first beyond ``max_entries``),
    and the calls in flight; thread-safe, shared by every request of one app.

    :param lookup_ttl: seconds a video or profile lookup is kept (0: never shared).
    :param feed_ttl: seconds a feed's first page is kept (0: never shared).
    :param clock: seconds, monotonic (tests give their own to move time on).
    :param count: told of each shared lookup's result: "call" (went upstream), "hit" (an
        answer kept) or "shared" (waited for a call in flight); the metrics count them.
    """

    def __init__(
        self,
        *,
        max_entries: int,
        lookup_ttl: float = 0.0,
        feed_ttl: float = 0.0,
        clock: t.Callable[[], float] = time.monotonic,
        count: t.Callable[[str], None] = lambda result: None,
    ) -> None:
        self.max_entries = max_entries
        self.lookup_ttl = lookup_ttl
        self.feed_ttl = feed_ttl
        self._clock = clock
        self._count = count
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[Key, tuple[float, t.Any]] = collections.OrderedDict()
        self._flights: dict[Key, _Flight] = {}
        #: Upstream calls made, answers reused from the cache, and answers shared in flight.
        self.calls = self.hits = self.shared = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get_or_call(self, key: Key, ttl: float, call: t.Callable[[], R]) -> R:
        """What ``call`` answers, reused for ``ttl`` seconds; while it runs, other callers
        with ``key`` wait for its answer or its error. ``ttl`` 0 or less calls every time.

        Each caller gets its own copy of the answer, so none can change another's.

        :raises ProviderTimeout: when the request's deadline passes while waiting.
        :raises: whatever ``call`` raised, for the caller that made it and those waiting.
        """
        if ttl <= 0:
            return call()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._clock():
                self._entries.move_to_end(key)
                self.hits += 1
                self._count("hit")
                return t.cast(R, copy.deepcopy(entry[1]))
            if entry is not None:
                del self._entries[key]
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self.calls += 1
                self._count("call")
            else:
                self.shared += 1
                self._count("shared")
        if not leading:
            return t.cast(R, _wait(flight))
        try:
            value = call()
        except BaseException as exc:
            flight.error = exc
            with self._lock:
                del self._flights[key]
            raise
        else:
            flight.value = copy.deepcopy(value)
            with self._lock:
                # Kept and no longer in flight in one step: a caller arriving now finds it.
                self._entries[key] = (self._clock() + ttl, flight.value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
                del self._flights[key]
            return value
        finally:
            flight.done.set()


def _wait(flight: _Flight) -> t.Any:
    # The caller that makes the call is bound by the upstream timeout, so without a deadline
    # of its own a waiter needs none either.
    if not flight.done.wait(deadlines.remaining()):
        raise ProviderTimeout(
            "The same lookup was already under way upstream and did not finish within this "
            "request's time; try again."
        )
    if flight.error is not None:
        raise _copy(flight.error) from flight.error.__cause__
    return copy.deepcopy(flight.value)


def _copy(error: BaseException) -> BaseException:
    """A new exception like ``error``, so that waiters raising it in their own threads do not
    all write to the one traceback (``__init__`` is skipped: subclasses take other arguments)."""
    clone = type(error).__new__(type(error), *error.args)
    clone.__dict__.update(error.__dict__)
    return clone


class CachedProvider(FailoverProvider):
    """A :class:`FailoverProvider` whose lookups go through a :class:`LookupCache`.

    The key names the tenant, each provider with a digest of its key (never the key), the
    operation and its argument. Only a feed's first page is kept: later pages follow a
    cursor, which belongs to the provider that issued it, so a kept first page remembers
    which provider that was.
    """

    def __init__(
        self,
        providers: t.Sequence[Provider],
        *,
        cache: LookupCache,
        tenant: str,
    ) -> None:
        super().__init__(providers)
        self.cache = cache
        self._scope = (tenant, tuple((p.name, _digest(p.api_key)) for p in self.providers))

    def get_video(self, ref: VideoRef) -> dict[str, t.Any]:
        return self.cache.get_or_call(
            (*self._scope, "video", ref),
            self.cache.lookup_ttl,
            lambda: FailoverProvider.get_video(self, ref),
        )

    def get_profile(self, handle: str) -> dict[str, t.Any]:
        return self.cache.get_or_call(
            (*self._scope, "profile", handle),
            self.cache.lookup_ttl,
            lambda: FailoverProvider.get_profile(self, handle),
        )

    def list_videos(self, handle: str, cursor: str | None = None) -> VideoPage:
        if cursor is not None or self.cache.feed_ttl <= 0:
            return super().list_videos(handle, cursor)
        name, page = self.cache.get_or_call(
            (*self._scope, "videos", handle), self.cache.feed_ttl, lambda: self._first_page(handle)
        )
        self._paging = next(p for p in self.providers if p.name == name)
        return page

    def _first_page(self, handle: str) -> tuple[str, VideoPage]:
        page = super().list_videos(handle)
        assert self._paging is not None
        return self._paging.name, page


def _digest(api_key: str) -> str:
    return hashlib.sha256(b"tiktok-connector/lookup/v1\x00" + api_key.encode()).hexdigest()[:32]


__all__ = ["CachedProvider", "LookupCache"]
