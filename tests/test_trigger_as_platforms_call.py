"""The new-video trigger fed what platforms really send, and held to their limits.

Ids and types as each platform's runtime produces them, the per-poll time budget, ``limit``
and ``include_recent`` (a dropped answer recovered for callers that dedup by id), all over
real HTTP against the sandbox upstream.
"""

from __future__ import annotations

import time
import typing as t

import httpx
import pytest

from connector.callers import tenant_for
from connector.sandbox import World
from connector.serving import BackgroundServer
from connector.store import FeedKey

from .conftest import KEY

PATH = "/v1/triggers/new-video"


def poll(http: httpx.Client, handle: str = "creator", **body: t.Any) -> list[dict[str, t.Any]]:
    response = http.post(PATH, json={"handle": handle, **body})
    assert response.status_code == 200, response.text
    items = response.json()
    assert isinstance(items, list)
    return items


def ids(items: list[dict[str, t.Any]]) -> list[str]:
    return [item["id"] for item in items]


# -- ids and types --------------------------------------------------------------------------


def test_a_numeric_zap_id_is_the_same_feed_as_its_text(live: httpx.Client, world: World) -> None:
    # Zapier: bundle.meta.zap.id is a number (zapier-platform-core's request-client test feeds
    # meta.zap.id = 987 and expects 987), and a whole-string "{{bundle.meta.zap.id}}" keeps
    # that raw type, so the body carries "consumer": 987.
    assert poll(live, consumer=987) == []
    video = world.post_video("creator")
    assert ids(poll(live, consumer="987")) == [video.id]
    assert poll(live, consumer=987) == []
    # Another zap is another feed.
    assert poll(live, consumer=988) == []


def test_zapier_editor_values_are_accepted(live: httpx.Client, world: World) -> None:
    # Zapier: while a zap is set up there may be no zap at all, and "{{bundle.meta.zap.id}}"
    # renders to ""; bundle.meta.isLoadingSample arrives as a boolean (zapier-platform-core,
    # src/tools/create-app-tester.js builds meta with isLoadingSample: false).
    sample = poll(live, consumer="", sample=True)
    assert len(sample) == 3
    assert poll(live, consumer="", sample=False) == []
    assert poll(live, consumer="", sample="") == []


def test_make_numeric_scenario_ids_and_nulls_are_accepted(live: httpx.Client, world: World) -> None:
    # Make: IML keeps the type of a whole-string expression, so "{{scenario.id}}" sends a
    # number; an unmapped optional field may come as null.
    assert poll(live, consumer=2345678, since=None, limit=None, sample=None) == []
    video = world.post_video("creator")
    assert ids(poll(live, consumer=2345678, include_recent=None)) == [video.id]


def test_n8n_string_workflow_ids_are_accepted(live: httpx.Client, world: World) -> None:
    # n8n: a workflow id is a 16-character string (packages/cli, generateNanoId for
    # WorkflowEntity ids), sent as text by the node's String(this.getWorkflow().id).
    assert poll(live, consumer="4fUcJ2vX0DyQm1Bp") == []
    video = world.post_video("creator")
    assert ids(poll(live, consumer="4fUcJ2vX0DyQm1Bp")) == [video.id]


@pytest.mark.parametrize(
    "body",
    [
        {"consumer": True},
        {"consumer": 1.5},
        {"consumer": ["zap"]},
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"include_recent": "maybe"},
    ],
)
def test_inputs_no_platform_sends_are_400(live: httpx.Client, body: dict[str, t.Any]) -> None:
    response = live.post(PATH, json={"handle": "creator", **body})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_input"


def test_a_hook_takes_a_numeric_consumer(make_app: t.Any, world: World) -> None:
    # Make: "{{webhook.id}}" is a number at run time; Zapier's "{{bundle.meta.zap.id}}" too.
    app = make_app(SECRET_KEY="platforms-test-key-0f6e3b9d21a7c", ALLOW_PRIVATE_TARGETS=True)
    client = app.test_client()
    response = client.post(
        "/v1/hooks",
        json={"target_url": "https://hooks.example.com/1", "handle": "creator", "consumer": 98765},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 201, response.json
    assert response.json["consumer"] == "98765"


# -- limit ----------------------------------------------------------------------------------


def test_limit_returns_the_oldest_new_videos_and_keeps_the_rest(
    live: httpx.Client, world: World
) -> None:
    poll(live, limit=2)
    posted = [world.post_video("creator").id for _ in range(7)]
    first = poll(live, limit=3)
    assert ids(first) == [posted[2], posted[1], posted[0]]  # the oldest three, newest first
    assert ids(poll(live, limit=3)) == [posted[5], posted[4], posted[3]]
    assert ids(poll(live, limit=3)) == [posted[6]]
    assert poll(live, limit=3) == []


def test_limit_spans_pages_and_loses_nothing(live: httpx.Client, world: World) -> None:
    poll(live)
    posted = [world.post_video("creator").id for _ in range(23)]  # three pages of new videos
    delivered: list[str] = []
    for _ in range(6):
        delivered.extend(reversed(ids(poll(live, limit=5))))
    assert delivered == posted


def test_limit_applies_to_a_since_poll(live: httpx.Client, world: World) -> None:
    posted = world.post_video("creator")
    later = world.post_video("creator", create_time=posted.create_time + 60)
    first = poll(live, since=posted.create_time, limit=1)
    assert ids(first) == [posted.id]
    assert ids(poll(live, limit=1)) == [later.id]
    assert poll(live, limit=1) == []


def test_limit_caps_a_sample(live: httpx.Client) -> None:
    assert len(poll(live, sample=True, limit=1)) == 1


# -- a dropped answer -----------------------------------------------------------------------


def _drop_answer(url: str, body: dict[str, t.Any]) -> None:
    """Send a poll and give up before its answer, as a platform does at its timeout (Zapier
    30 s, Make 40 s): the upstream is slower than this client waits."""
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{url}{PATH}",
            json=body,
            headers={"Authorization": f"Bearer {KEY}", "X-Request-Source": "ZAPIER"},
            timeout=httpx.Timeout(5.0, read=0.3),
        )


def _wait_until_seen(app: t.Any, feed: FeedKey, video_id: str) -> None:
    store = app.extensions["connector"].store
    for _ in range(100):
        if video_id in store.peek(feed, [video_id])[1]:
            return
        time.sleep(0.05)
    raise AssertionError("the connector never recorded the dropped poll")


def _a_video_whose_answer_was_dropped(
    app: t.Any,
    world: World,
    url: str,
    http: httpx.Client,
    body: dict[str, t.Any],
    feed: FeedKey,
) -> t.Any:
    """Start ``feed`` with a baseline, post a video, and lose the poll's answer that the
    connector committed it in (the client gave up while upstream was slow)."""
    assert http.post(PATH, json=body).json() == []
    video = world.post_video("creator")
    world.latency["profile-videos"] = 1.0
    _drop_answer(url, body)
    _wait_until_seen(app, feed, video.id)
    world.latency.clear()
    return video


def test_a_dropped_answer_is_recovered_for_a_platform_that_dedups_by_id(
    app: t.Any, world: World
) -> None:
    # Zapier deduplicates polling results by id per zap (stack notes; Zapier's "How
    # deduplication works"): a model of it is the set of ids this zap has already seen.
    zap_seen: set[str] = set()
    triggered: list[str] = []
    body = {"handle": "creator", "consumer": 987, "include_recent": True}
    feed = FeedKey(tenant_for(KEY), "ZAPIER", "987", "creator")
    headers = {"Authorization": f"Bearer {KEY}", "X-Request-Source": "ZAPIER"}
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, headers=headers) as zap:
        video = _a_video_whose_answer_was_dropped(app, world, server.url, zap, body, feed)
        later = world.post_video("creator")
        for _ in range(3):
            for item in zap.post(PATH, json=body).json():
                if item["id"] not in zap_seen:
                    zap_seen.add(item["id"])
                    triggered.append(item["id"])
    assert triggered == [later.id, video.id]


def test_a_dropped_answer_is_not_repeated_for_a_caller_without_dedup(
    app: t.Any, world: World
) -> None:
    body = {"handle": "creator", "consumer": "curl"}
    feed = FeedKey(tenant_for(KEY), "ZAPIER", "curl", "creator")
    headers = {"Authorization": f"Bearer {KEY}", "X-Request-Source": "ZAPIER"}
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, headers=headers) as cli:
        _a_video_whose_answer_was_dropped(app, world, server.url, cli, body, feed)
        assert cli.post(PATH, json=body).json() == []  # at most once: lost with the answer


def test_recent_videos_are_bounded_and_come_after_the_new_ones(
    make_app: t.Any, world: World
) -> None:
    app = make_app(RECENT_MAX=3)
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        poll(http, include_recent=True)
        first = [world.post_video("creator").id for _ in range(2)]
        assert ids(poll(http, include_recent=True)) == first[::-1]
        second = [world.post_video("creator").id for _ in range(2)]
        answer = ids(poll(http, include_recent=True))
        # New videos first, then the latest deliveries, within RECENT_MAX in all stored.
        assert answer[:2] == second[::-1]
        assert answer[2:] == [first[1]]
        # With limit, the answer stays within it, new videos first.
        third = world.post_video("creator").id
        assert ids(poll(http, include_recent=True, limit=2)) == [third, second[1]]


# -- the time budget ------------------------------------------------------------------------


def test_a_slow_backfill_answers_within_the_budget_and_loses_nothing(
    make_app: t.Any, world: World
) -> None:
    app = make_app(POLL_BUDGET=3.0, UPSTREAM_TIMEOUT=2.0, BACKFILL_MAX_PAGES=6)
    with (
        BackgroundServer(app) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        ) as http,
    ):
        poll(http)
        posted = [world.post_video("creator").id for _ in range(45)]  # five pages
        world.latency["profile-videos"] = 0.7
        delivered: list[str] = []
        polls = 0
        while len(delivered) < len(posted) and polls < 8:
            started = time.monotonic()
            delivered.extend(ids(poll(http)))
            # The budget is a contract with the platform (Zapier's 30 s), not a speed goal:
            # 3 s, and at most one upstream read past it.
            assert time.monotonic() - started < 3.0 + 2.0
            polls += 1
        world.latency.clear()
        delivered.extend(ids(poll(http)))
    assert polls > 1, "the budget should have cut the first catch-up short"
    assert sorted(delivered) == sorted(posted)
    assert len(delivered) == len(set(delivered))


def test_a_poll_whose_first_page_misses_the_budget_is_504_and_records_nothing(
    make_app: t.Any, world: World
) -> None:
    app = make_app(POLL_BUDGET=1.5, UPSTREAM_TIMEOUT=5.0)
    with (
        BackgroundServer(app) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        ) as http,
    ):
        poll(http)
        video = world.post_video("creator")
        world.latency["profile-videos"] = 2.5
        response = http.post(PATH, json={"handle": "creator"})
        assert response.status_code == 504
        assert response.json()["code"] == "upstream_timeout"
        world.latency.clear()
        assert ids(poll(http)) == [video.id]
