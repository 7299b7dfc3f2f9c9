"""The new-video trigger's dedup, against the sandbox over real HTTP."""

from __future__ import annotations

import concurrent.futures
import random
import sqlite3
import typing as t

import httpx
import pytest

from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import KEY, fault

PATH = "/v1/triggers/new-video"


def poll(http: t.Any, handle: str = "creator", **body: t.Any) -> list[dict[str, t.Any]]:
    headers = body.pop("headers", {})
    response = http.post(PATH, json={"handle": handle, **body}, headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()
    assert isinstance(items, list)
    return items


def ids(items: list[dict[str, t.Any]]) -> list[str]:
    return [item["id"] for item in items]


def test_first_poll_sets_a_baseline_and_returns_nothing(live: httpx.Client, world: World) -> None:
    assert poll(live) == []
    assert poll(live) == []
    # A baseline reads one page only.
    assert len(world.requests("profile-videos")) == 2


def test_a_new_video_is_returned_once(live: httpx.Client, world: World) -> None:
    poll(live)
    video = world.post_video("creator")
    first = poll(live)
    assert ids(first) == [video.id]
    assert first[0]["author_handle"] == "creator"
    assert first[0]["created_at_timestamp"] == video.create_time
    assert poll(live) == []


def test_many_polls_with_videos_arriving_deliver_each_video_exactly_once(
    live: httpx.Client, world: World
) -> None:
    rng = random.Random(7)
    poll(live)
    posted: list[str] = []
    delivered: list[str] = []
    for _ in range(25):
        for _ in range(rng.randrange(0, 4)):
            posted.append(world.post_video("creator").id)
        items = poll(live)
        stamps = [item["created_at_timestamp"] for item in items]
        assert stamps == sorted(stamps, reverse=True), "newest first"
        delivered.extend(ids(items))
    assert sorted(delivered) == sorted(posted)
    assert len(set(delivered)) == len(delivered)


def test_each_consumer_platform_and_key_is_its_own_feed(live: httpx.Client, world: World) -> None:
    scopes: list[dict[str, t.Any]] = [
        {},
        {"consumer": "zap-1"},
        {"consumer": "zap-2"},
        {"consumer": "zap-1", "headers": {"X-Request-Source": "MAKE_DOT_COM"}},
        {"consumer": "zap-1", "headers": {"Authorization": "Bearer another-key"}},
    ]
    for scope in scopes:
        assert poll(live, **dict(scope)) == []
    video = world.post_video("creator")
    for scope in scopes:
        assert ids(poll(live, **dict(scope))) == [video.id], scope
    for scope in scopes:
        assert poll(live, **dict(scope)) == []


def test_empty_consumer_is_the_same_feed_as_no_consumer(live: httpx.Client, world: World) -> None:
    poll(live)
    video = world.post_video("creator")
    assert ids(poll(live, consumer="")) == [video.id]
    assert poll(live) == []


def test_handle_spelling_does_not_split_a_feed(live: httpx.Client, world: World) -> None:
    poll(live, "Creator")
    video = world.post_video("creator")
    assert ids(poll(live, " @CREATOR ")) == [video.id]
    assert poll(live, "creator") == []


def test_sample_returns_the_latest_videos_and_changes_nothing(
    live: httpx.Client, world: World
) -> None:
    newest = [v.id for v in world.profile("creator").videos[:3]]  # type: ignore[union-attr]
    assert ids(poll(live, sample=True)) == newest
    assert ids(poll(live, sample="true")) == newest
    assert poll(live) == []  # still the first poll: a baseline
    video = world.post_video("creator")
    assert ids(poll(live, sample=True))[0] == video.id
    assert ids(poll(live)) == [video.id]  # the sample did not consume it


def test_since_on_the_first_poll_returns_videos_posted_since(
    live: httpx.Client, world: World
) -> None:
    videos = world.profile("creator").videos  # type: ignore[union-attr]
    since = videos[14].create_time  # the 15th newest: on page 2
    items = poll(live, since=since)
    assert ids(items) == [v.id for v in videos[:15]]
    assert poll(live) == []
    video = world.post_video("creator")
    assert ids(poll(live, since=since)) == [video.id]  # since only matters on the first poll


def test_since_accepts_iso_8601(live: httpx.Client, world: World) -> None:
    videos = world.profile("creator").videos  # type: ignore[union-attr]
    items = poll(live, consumer="iso", since=poll(live, sample=True)[1]["created_at"])
    assert ids(items) == [v.id for v in videos[:2]]


def test_backfill_after_downtime_pages_until_it_meets_seen_videos(
    live: httpx.Client, world: World
) -> None:
    poll(live)
    posted = [world.post_video("creator").id for _ in range(25)]
    calls_before = len(world.requests("profile-videos"))
    items = poll(live)
    assert ids(items) == posted[::-1]
    feed_calls = world.requests("profile-videos")[calls_before:]
    assert len(feed_calls) == 3  # 10 + 10 + (5 new, 5 seen)
    assert "maxCursor" not in feed_calls[0].body
    assert feed_calls[1].body["maxCursor"] and feed_calls[2].body["maxCursor"]


def test_backfill_stops_at_the_page_cap(make_app: t.Any, world: World) -> None:
    client = make_app(BACKFILL_MAX_PAGES=2).test_client()
    headers = {"Authorization": f"Bearer {KEY}"}
    client.post(PATH, json={"handle": "creator"}, headers=headers)
    posted = [world.post_video("creator").id for _ in range(25)]
    calls_before = len(world.requests("profile-videos"))
    response = client.post(PATH, json={"handle": "creator"}, headers=headers)
    assert [v["id"] for v in response.json] == posted[::-1][:20]
    assert len(world.requests("profile-videos")) - calls_before == 2


def test_a_failure_on_page_two_records_nothing(live: httpx.Client, world: World) -> None:
    poll(live)
    posted = [world.post_video("creator").id for _ in range(15)]
    fault(world, endpoint="profile-videos", status=500, page=2)
    failed = live.post(PATH, json={"handle": "creator"})
    assert failed.status_code == 502
    assert ids(poll(live)) == posted[::-1]
    assert poll(live) == []


@pytest.mark.parametrize(("upstream", "status"), [(503, 429), (401, 401), (403, 402)])
def test_a_failed_poll_is_retried_in_full(
    live: httpx.Client, world: World, upstream: int, status: int
) -> None:
    poll(live)
    video = world.post_video("creator")
    fault(world, endpoint="profile-videos", status=upstream)
    assert live.post(PATH, json={"handle": "creator"}).status_code == status
    assert ids(poll(live)) == [video.id]


def test_a_failed_first_poll_sets_no_baseline(live: httpx.Client, world: World) -> None:
    fault(world, endpoint="profile-videos", malformed="shape")
    assert live.post(PATH, json={"handle": "creator"}).status_code == 502
    assert poll(live) == []
    video = world.post_video("creator")
    assert ids(poll(live)) == [video.id]


def test_concurrent_polls_never_return_the_same_video_twice(
    live: httpx.Client, world: World
) -> None:
    poll(live)
    # Upstream latency, so that the polls' reads really overlap and they meet at the lock.
    world.latency["profile-videos"] = 0.1
    delivered: list[str] = []
    posted: list[str] = []
    for _ in range(3):
        posted.extend(world.post_video("creator").id for _ in range(4))
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _: poll(live), range(8)))
        for items in results:
            delivered.extend(ids(items))
    assert sorted(delivered) == sorted(posted)
    assert world.max_in_flight["profile-videos"] > 1, "the polls never overlapped"


def test_state_survives_a_restart_of_the_connector(make_app: t.Any, world: World) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    with BackgroundServer(make_app()) as first:
        assert (
            httpx.post(first.url + PATH, json={"handle": "creator"}, headers=headers).json() == []
        )
    video = world.post_video("creator")
    with BackgroundServer(make_app()) as second:
        response = httpx.post(second.url + PATH, json={"handle": "creator"}, headers=headers)
        assert [v["id"] for v in response.json()] == [video.id]
    with BackgroundServer(make_app()) as third:
        assert (
            httpx.post(third.url + PATH, json={"handle": "creator"}, headers=headers).json() == []
        )


def test_a_pinned_old_video_is_not_new(live: httpx.Client, world: World) -> None:
    poll(live)
    old = world.profile("creator").videos[25]  # type: ignore[union-attr]
    world.pin_video("creator", old.id)
    assert poll(live) == []
    video = world.post_video("creator")
    assert ids(poll(live)) == [video.id]
    # Pinned on top of page 1, the old video must not stop the backfill either.
    posted = [world.post_video("creator").id for _ in range(12)]
    assert ids(poll(live)) == posted[::-1]


def test_deleted_videos_do_not_surface_older_ones_as_new(live: httpx.Client, world: World) -> None:
    poll(live)
    for video in world.profile("creator").videos[:6]:  # type: ignore[union-attr]
        world.delete_video("creator", video.id)
    assert poll(live) == []


def test_seen_ids_are_bounded_per_feed_without_redelivery(
    make_app: t.Any, world: World, db_url: str
) -> None:
    client = make_app(SEEN_IDS_PER_FEED=12).test_client()
    headers = {"Authorization": f"Bearer {KEY}"}

    def run() -> list[str]:
        response = client.post(PATH, json={"handle": "creator"}, headers=headers)
        assert response.status_code == 200
        return [v["id"] for v in response.json]

    run()
    delivered: list[str] = []
    posted: list[str] = []
    for _ in range(8):
        posted.extend(world.post_video("creator").id for _ in range(4))
        delivered.extend(run())
    assert sorted(delivered) == sorted(posted)
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM seen_videos").fetchone()
    assert rows <= 12


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"handle": ""},
        {"handle": "no spaces allowed"},
        {"handle": "ok", "since": "yesterday"},
        {"handle": "ok", "sample": "maybe"},
        {"handle": "ok", "consumer": "x" * 201},
        {"handle": "ok", "unknown": 1},
    ],
)
def test_bad_trigger_input_is_400(live: httpx.Client, world: World, body: dict[str, t.Any]) -> None:
    response = live.post(PATH, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert world.requests() == []


def test_the_trigger_also_answers_get_with_query_parameters(
    live: httpx.Client, world: World
) -> None:
    def get(**params: t.Any) -> httpx.Response:
        return live.get(PATH, params={"handle": "creator", **params})

    assert get().json() == []
    assert len(get(sample="true").json()) == 3
    video = world.post_video("creator")
    assert ids(get().json()) == [video.id]
    assert ids(poll(live)) == [], "GET and POST share the feed"
    assert get(handle="bad handle").status_code == 400
