"""Fewer paid upstream calls: identical lookups in flight share one call, answers are kept
briefly per tenant, errors never are. Counted from the requests the sandbox upstream records,
with the connector served by a threaded WSGI server on loopback and the sandbox answering
slowly enough that the calls overlap."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import threading
import typing as t

import httpx
import pytest

from connector import deadlines
from connector.config import Settings
from connector.errors import (
    ConfigError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from connector.providers import Capability, Provider, VideoPage
from connector.providers.cache import CachedProvider, LookupCache
from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import KEY, fault

OTHER_KEY = "sk_test_fedcba9876543210"
LATENCY = 0.3
CALLERS = 10


class Clock:
    """A clock the test moves on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def serve(make_app: t.Any) -> t.Iterator[t.Callable[..., str]]:
    """Serve the connector on 127.0.0.1 in a threaded server (a thread for every caller at
    once); returns its URL. ``clock`` replaces the cache's clock."""
    with contextlib.ExitStack() as servers:

        def start(clock: Clock | None = None, **settings: t.Any) -> str:
            app = make_app(**settings)
            if clock is not None:
                s = app.extensions["connector"].settings
                app.extensions["connector"].lookups = LookupCache(
                    max_entries=s.lookup_cache_size,
                    lookup_ttl=s.lookup_cache_ttl,
                    feed_ttl=s.feed_cache_ttl,
                    clock=clock,
                    count=app.extensions["connector"].metrics.lookup,
                )
            return servers.enter_context(BackgroundServer(app)).url

        yield start


def slow(world: World, *endpoints: str) -> None:
    for endpoint in endpoints:
        world.latency[endpoint] = LATENCY


def at_once(url: str, calls: list[tuple[str, str, dict[str, t.Any]]]) -> list[httpx.Response]:
    """Send every (key, path, body) at the same moment; the answers in that order."""
    start = threading.Barrier(len(calls))

    def send(key: str, path: str, body: dict[str, t.Any]) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=30) as http:
            start.wait()
            return http.post(path, json=body, headers={"Authorization": f"Bearer {key}"})

    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: send(*call), calls))


def video_ids(world: World, count: int) -> list[str]:
    profile = world.profile("creator")
    assert profile is not None
    return [video.id for video in profile.videos[:count]]


# -- against the sandbox over real HTTP ------------------------------------------------------


def test_concurrent_identical_lookups_make_one_upstream_call(
    serve: t.Callable[..., str], world: World
) -> None:
    url = serve()
    slow(world, "video")
    [video_id] = video_ids(world, 1)
    answers = at_once(url, [(KEY, "/v1/actions/get-video", {"video_id": video_id})] * CALLERS)
    assert [a.status_code for a in answers] == [200] * CALLERS
    assert all(a.json() == answers[0].json() for a in answers)
    assert len(world.requests("video")) == 1
    # Kept for CONNECTOR_LOOKUP_CACHE_TTL: the next identical lookup costs nothing either.
    assert at_once(url, [(KEY, "/v1/actions/get-video", {"video_id": video_id})])[0].is_success
    assert len(world.requests("video")) == 1
    # The operator sees what was saved: 1 call, the others shared in flight, 1 kept answer.
    metrics = httpx.get(f"{url}/metrics").text
    for result, count in (("call", 1), ("shared", CALLERS - 1), ("hit", 1)):
        assert f'connector_lookups_total{{result="{result}"}} {count}.0' in metrics, result


def test_concurrent_profile_lookups_make_one_upstream_call(
    serve: t.Callable[..., str], world: World
) -> None:
    url = serve()
    slow(world, "profile")
    # Handles are normalized before they key anything: these all name one account.
    spellings = ["creator", "@creator", " Creator ", "@CREATOR", "creator"]
    answers = at_once(url, [(KEY, "/v1/actions/get-profile", {"handle": h}) for h in spellings])
    assert [a.status_code for a in answers] == [200] * len(spellings)
    assert len(world.requests("profile")) == 1


def test_two_tenants_never_share_an_answer(serve: t.Callable[..., str], world: World) -> None:
    url = serve()
    slow(world, "video")
    [video_id] = video_ids(world, 1)
    body = {"video_id": video_id}
    answers = at_once(
        url, [(KEY, "/v1/actions/get-video", body), (OTHER_KEY, "/v1/actions/get-video", body)] * 5
    )
    assert [a.status_code for a in answers] == [200] * 10
    sent = world.requests("video")
    assert len(sent) == 2
    assert {r.authorization for r in sent} == {f"Bearer {KEY}", f"Bearer {OTHER_KEY}"}


def test_different_videos_are_separate_calls(serve: t.Callable[..., str], world: World) -> None:
    url = serve()
    slow(world, "video")
    ids = video_ids(world, 3)
    answers = at_once(
        url, [(KEY, "/v1/actions/get-video", {"video_id": i}) for i in ids for _ in range(3)]
    )
    assert [a.json()["id"] for a in answers] == [i for i in ids for _ in range(3)]
    assert sorted(r.body["url"].rsplit("/", 1)[1] for r in world.requests("video")) == sorted(ids)


def test_an_upstream_error_reaches_every_waiter_and_is_not_kept(
    serve: t.Callable[..., str], world: World
) -> None:
    url = serve()
    slow(world, "video")
    [video_id] = video_ids(world, 1)
    fault(world, endpoint="video", status=500)
    call = (KEY, "/v1/actions/get-video", {"video_id": video_id})
    answers = at_once(url, [call] * CALLERS)
    # Waiters get the error of the call they waited on rather than each calling again.
    assert {a.status_code for a in answers} == {502}
    assert len({a.json()["code"] for a in answers}) == 1
    assert len(world.requests("video")) == 1
    # Nothing was kept: the next lookup goes upstream, and its answer is kept.
    assert at_once(url, [call])[0].status_code == 200
    assert at_once(url, [call])[0].status_code == 200
    assert len(world.requests("video")) == 2


def test_a_shared_rate_limit_keeps_its_retry_after(
    serve: t.Callable[..., str], world: World
) -> None:
    url = serve()
    slow(world, "profile")
    fault(world, endpoint="profile", status=429, retry_after=7)
    answers = at_once(url, [(KEY, "/v1/actions/get-profile", {"handle": "creator"})] * 4)
    assert {a.status_code for a in answers} == {429}
    assert {a.headers["Retry-After"] for a in answers} == {"7"}
    assert len(world.requests("profile")) == 1


def test_ttl_zero_sends_every_lookup_upstream(serve: t.Callable[..., str], world: World) -> None:
    url = serve(LOOKUP_CACHE_TTL=0)
    slow(world, "video")
    [video_id] = video_ids(world, 1)
    answers = at_once(url, [(KEY, "/v1/actions/get-video", {"video_id": video_id})] * 4)
    assert [a.status_code for a in answers] == [200] * 4
    assert len(world.requests("video")) == 4


def test_answers_expire_after_the_ttl(serve: t.Callable[..., str], world: World) -> None:
    clock = Clock()
    url = serve(clock, LOOKUP_CACHE_TTL=30)
    [video_id] = video_ids(world, 1)
    call = (KEY, "/v1/actions/get-video", {"video_id": video_id})
    assert at_once(url, [call])[0].status_code == 200
    clock.now += 29.9
    assert at_once(url, [call])[0].status_code == 200
    assert len(world.requests("video")) == 1
    clock.now += 0.2
    assert at_once(url, [call])[0].status_code == 200
    assert len(world.requests("video")) == 2


def test_the_trigger_feed_is_read_upstream_every_poll_by_default(
    serve: t.Callable[..., str], world: World
) -> None:
    url = serve()
    slow(world, "profile-videos")
    polls = [
        (KEY, "/v1/triggers/new-video", {"handle": "creator", "consumer": f"zap-{n}"})
        for n in range(3)
    ]
    assert {a.status_code for a in at_once(url, polls)} == {200}
    assert len(world.requests("profile-videos")) == 3


def test_a_kept_first_page_keeps_each_feeds_dedup(
    serve: t.Callable[..., str], world: World
) -> None:
    clock = Clock()
    url = serve(clock, FEED_CACHE_TTL=30)
    slow(world, "profile-videos")
    polls = [
        (KEY, "/v1/triggers/new-video", {"handle": "creator", "consumer": f"zap-{n}"})
        for n in range(3)
    ]
    baseline = at_once(url, polls)
    assert [a.json() for a in baseline] == [[], [], []]
    assert len(world.requests("profile-videos")) == 1
    # A video posted while the page is kept shows up once it expires, to each feed once.
    posted = world.post_video("creator")
    assert [a.json() for a in at_once(url, polls)] == [[], [], []]
    assert len(world.requests("profile-videos")) == 1
    clock.now += 30
    first = at_once(url, polls)
    assert [[v["id"] for v in a.json()] for a in first] == [[posted.id]] * 3
    assert [a.json() for a in at_once(url, polls)] == [[], [], []]
    assert len(world.requests("profile-videos")) == 2


# -- the cache itself --------------------------------------------------------------------------


def test_errors_are_never_kept() -> None:
    cache = LookupCache(max_entries=10)
    calls = 0

    def failing() -> str:
        nonlocal calls
        calls += 1
        raise ProviderUnavailable("down")

    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            cache.get_or_call(("t", "k"), 30, failing)
    assert calls == 2 and len(cache) == 0
    assert cache.get_or_call(("t", "k"), 30, lambda: "up") == "up"
    assert cache.get_or_call(("t", "k"), 30, failing) == "up"


def test_waiters_get_their_own_copy_of_the_error() -> None:
    cache = LookupCache(max_entries=10)
    started, release = threading.Event(), threading.Event()

    def limited() -> str:
        started.set()
        release.wait(5)
        raise ProviderRateLimited("slow down", retry_after=9, details={"provider": "x"})

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        leader = pool.submit(cache.get_or_call, ("t", "k"), 30, limited)
        assert started.wait(5)
        waiters = [pool.submit(cache.get_or_call, ("t", "k"), 30, limited) for _ in range(3)]
        while cache.shared < 3:
            threading.Event().wait(0.01)
        release.set()
        errors = [f.exception(5) for f in (leader, *waiters)]
    assert all(isinstance(e, ProviderRateLimited) for e in errors)
    assert len({id(e) for e in errors}) == 4
    assert {(e.message, e.retry_after, str(e)) for e in errors} == {  # type: ignore[union-attr]
        ("slow down", 9, "slow down")
    }
    assert cache.calls == 1


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = LookupCache(max_entries=3)
    for n in range(3):
        cache.get_or_call(("t", n), 30, functools.partial(int, n))
    cache.get_or_call(("t", 0), 30, lambda: -1)  # used again: now the most recent
    cache.get_or_call(("t", 3), 30, lambda: 3)
    assert len(cache) == 3
    assert cache.get_or_call(("t", 0), 30, lambda: -1) == 0
    assert cache.get_or_call(("t", 1), 30, lambda: -1) == -1  # the least recent went first


def test_each_caller_gets_its_own_copy_of_an_answer() -> None:
    cache = LookupCache(max_entries=3)
    first = cache.get_or_call(("t", "k"), 30, lambda: {"tags": ["a"]})
    first["tags"].append("changed")
    assert cache.get_or_call(("t", "k"), 30, lambda: {}) == {"tags": ["a"]}


class _Lister(Provider):
    """A provider answering feed pages from memory, or failing."""

    capabilities = frozenset({Capability.PROFILE_VIDEOS})

    def __init__(self, name: str, *, fails: bool = False) -> None:
        super().__init__(t.cast(t.Any, None), api_key=f"key-{name}", request_source="API")
        self.name = name  # type: ignore[misc]
        self.label = name  # type: ignore[misc]
        self.fails = fails
        self.asked: list[str | None] = []

    def list_videos(self, handle: str, cursor: str | None = None) -> VideoPage:
        self.asked.append(cursor)
        if self.fails:
            raise ProviderUnavailable("down")
        return VideoPage(
            [{"id": f"{self.name}-{cursor}"}], cursor=f"{self.name}-next", has_more=True
        )


def test_a_kept_first_page_sends_the_next_page_to_the_provider_that_issued_it() -> None:
    cache = LookupCache(max_entries=10, feed_ttl=30)
    first, second = _Lister("first", fails=True), _Lister("second")
    CachedProvider([first, second], cache=cache, tenant="t").list_videos("creator")
    first.fails = False  # the first provider is back; the kept page came from the second
    later = CachedProvider([first, second], cache=cache, tenant="t")
    assert later.list_videos("creator").cursor == "second-next"
    assert later.list_videos("creator", "second-next").videos == [{"id": "second-second-next"}]
    assert first.asked == [None] and second.asked == [None, "second-next"]


def test_keys_name_the_providers_and_their_keys_without_the_keys() -> None:
    cache = LookupCache(max_entries=10, lookup_ttl=30)
    one, other = _Lister("one"), _Lister("other")
    mine = CachedProvider([one, other], cache=cache, tenant="t")
    reordered = CachedProvider([other, one], cache=cache, tenant="t")
    assert mine._scope != reordered._scope
    assert "key-one" not in repr(mine._scope)


def test_cache_settings_are_read_and_checked() -> None:
    settings = Settings.load(
        environ={
            "CONNECTOR_LOOKUP_CACHE_TTL": "0",
            "CONNECTOR_FEED_CACHE_TTL": "5",
            "CONNECTOR_LOOKUP_CACHE_SIZE": "50",
        }
    )
    assert (settings.lookup_cache_ttl, settings.feed_cache_ttl) == (0, 5)
    assert settings.lookup_cache_size == 50
    defaults = Settings.load(environ={})
    assert (defaults.lookup_cache_ttl, defaults.feed_cache_ttl) == (30, 0)
    with pytest.raises(ConfigError, match="CONNECTOR_LOOKUP_CACHE_TTL"):
        Settings.load(environ={"CONNECTOR_LOOKUP_CACHE_TTL": "-1"})
    with pytest.raises(ConfigError, match="CONNECTOR_LOOKUP_CACHE_SIZE"):
        Settings.load(environ={"CONNECTOR_LOOKUP_CACHE_SIZE": "0"})


def test_a_waiter_gives_up_at_its_own_deadline() -> None:
    cache = LookupCache(max_entries=10)
    started, release = threading.Event(), threading.Event()

    def stalled() -> str:
        started.set()
        release.wait(5)
        return "late"

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        leader = pool.submit(cache.get_or_call, ("t", "k"), 30, stalled)
        assert started.wait(5)
        with deadlines.within(0.1), pytest.raises(ProviderTimeout):
            cache.get_or_call(("t", "k"), 30, stalled)
        release.set()
        assert leader.result(5) == "late"
    assert cache.get_or_call(("t", "k"), 30, stalled) == "late"
    assert cache.calls == 1
