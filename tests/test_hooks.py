"""Instant triggers: subscriptions, the poll cycle, signed delivery, retries, dead letters."""

from __future__ import annotations

import dataclasses
import time
import typing as t

import httpx
import pytest

from connector.hooks.delivery import RetryPolicy
from connector.hooks.poller import run_cycle
from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import KEY, fault
from .receiver import Receiver

SECRET_KEY = "hooks-test-secret-key-4f9c2b7e81d3a6f05c"  # strong enough: see crypto.py
HOOK_SETTINGS = {
    "SECRET_KEY": SECRET_KEY,
    "ALLOW_PRIVATE_TARGETS": True,
    "DELIVERY_TIMEOUT": 1.0,
    "DELIVERY_FIRST_RETRY": 0.01,
    "DELIVERY_MAX_DELAY": 0.05,
    "POLL_MIN_GAP": 0,
}


@pytest.fixture
def hook_app(make_app: t.Any) -> t.Any:
    return make_app(**HOOK_SETTINGS)


@pytest.fixture
def http(hook_app: t.Any) -> t.Iterator[httpx.Client]:
    with (
        BackgroundServer(hook_app) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        ) as client,
    ):
        yield client


class Hooks:
    """Subscribes receiver paths and runs cycles against one connector app."""

    def __init__(self, app: t.Any, http: httpx.Client, receiver: Receiver, root: str) -> None:
        self.app, self.http, self.receiver, self.root = app, http, receiver, root

    def subscribe(self, path: str, handle: str = "creator", **extra: t.Any) -> dict[str, t.Any]:
        headers = extra.pop("headers", {})
        response = self.http.post(
            "/v1/hooks",
            json={"target_url": f"{self.root}/{path}", "handle": handle, **extra},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        created = response.json()
        self.receiver.expect(path, created["secret"])
        return created

    def cycle(self) -> dict[str, int]:
        return run_cycle(self.app.extensions["connector"].poll_context).as_dict()

    def pending(self) -> int:
        store = self.app.extensions["connector"].store
        return len(store.next_deliveries(time.time() + 10**9))

    def cycles_until(self, done: t.Callable[[], bool], limit: int = 60) -> None:
        for _ in range(limit):
            self.cycle()
            if done():
                return
            time.sleep(0.02)
        raise AssertionError("not done after the cycle limit")


@pytest.fixture
def hooks(
    hook_app: t.Any,
    http: httpx.Client,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
) -> Hooks:
    return Hooks(hook_app, http, receiver, receiver_server[1].url)


def test_subscribe_answers_id_and_secret_once(hooks: Hooks, world: World) -> None:
    created = hooks.subscribe("a", consumer="zap-1", headers={"User-Agent": "Zapier"})
    assert created["id"].startswith("sub_")
    assert created["secret"].startswith("whsec_")
    assert created["platform"] == "ZAPIER" and created["handle"] == "creator"
    assert created["consumer"] == "zap-1" and created["event"] == "new_video"
    listed = hooks.http.get("/v1/hooks").json()
    assert [h["id"] for h in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert hooks.http.get(f"/v1/hooks/{created['id']}").json()["target_url"].endswith("/a")
    # The baseline was read at once: one upstream call, tagged with the platform.
    (call,) = world.requests("profile-videos")
    assert call.body["requestSource"] == "ZAPIER"


def test_new_videos_reach_every_subscriber_once_in_order(hooks: Hooks, world: World) -> None:
    paths = ["one", "two", "three"]
    for path in paths:
        hooks.subscribe(path)
    assert hooks.cycle()["queued"] == 0
    posted = [world.post_video("creator").id for _ in range(3)]
    report = hooks.cycle()
    assert report["queued"] == 9 and report["delivered"] == 9
    for path in paths:
        received = hooks.receiver.all(path)
        assert all(r.verified for r in received), "signed with the subscription's secret"
        assert [r.body["id"] for r in received] == posted, "each once, oldest first"
        assert set(received[0].body) >= {"id", "url", "author_handle", "created_at"}
    later = world.post_video("creator").id
    hooks.cycle()
    hooks.cycle()
    for path in paths:
        assert [b["id"] for b in hooks.receiver.bodies(path)] == [*posted, later]


def test_one_upstream_read_per_handle_per_cycle(hooks: Hooks, world: World) -> None:
    for index in range(5):
        hooks.subscribe(f"many{index}")
    hooks.subscribe("other", handle="someone.else")
    before = len(world.requests("profile-videos"))
    world.post_video("creator")
    report = hooks.cycle()
    calls = world.requests("profile-videos")[before:]
    assert sorted(c.body["handle"] for c in calls) == ["creator", "someone.else"]
    assert report["watched"] == 2 and report["queued"] == 5


def test_each_tenant_sees_and_deletes_only_its_own(hooks: Hooks) -> None:
    mine = hooks.subscribe("mine")
    other = {"Authorization": "Bearer another-tenant-key"}
    assert hooks.http.get("/v1/hooks", headers=other).json() == []
    assert hooks.http.get(f"/v1/hooks/{mine['id']}", headers=other).status_code == 404
    gone = hooks.http.delete(f"/v1/hooks/{mine['id']}", headers=other)
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    assert hooks.http.delete(f"/v1/hooks/{mine['id']}").status_code == 200
    assert hooks.http.delete(f"/v1/hooks/{mine['id']}").status_code == 404
    assert hooks.http.get("/v1/hooks").json() == []


def test_unsubscribed_targets_get_nothing_more(hooks: Hooks, world: World) -> None:
    kept, dropped = hooks.subscribe("kept"), hooks.subscribe("dropped")
    hooks.http.delete(f"/v1/hooks/{dropped['id']}")
    world.post_video("creator")
    hooks.cycle()
    assert len(hooks.receiver.bodies("kept")) == 1 and hooks.receiver.all("dropped") == []
    assert kept["id"]


@pytest.mark.parametrize("failure", [(500, 0.0), (429, 0.0), (503, 0.0), (200, 1.5)])
def test_failed_deliveries_are_retried_until_delivered(
    hooks: Hooks, world: World, failure: tuple[int, float]
) -> None:
    hooks.subscribe("flaky")
    video = world.post_video("creator")
    hooks.receiver.script("flaky", failure, failure)
    hooks.cycle()
    assert hooks.pending() == 1
    hooks.cycles_until(lambda: hooks.pending() == 0)
    attempts = hooks.receiver.all("flaky")
    assert len(attempts) == 3
    assert len({a.webhook_id for a in attempts}) == 1, "retries keep the webhook-id"
    assert all(a.verified and a.body["id"] == video.id for a in attempts)


def test_a_failing_target_does_not_hold_up_others_and_keeps_its_order(
    hooks: Hooks, world: World
) -> None:
    hooks.subscribe("slow")
    hooks.subscribe("fast")
    posted = [world.post_video("creator").id for _ in range(2)]
    hooks.receiver.script("slow", (500, 0.0), (500, 0.0))
    hooks.cycle()
    assert [b["id"] for b in hooks.receiver.bodies("fast")] == posted
    assert hooks.receiver.bodies("slow") == []
    assert len(hooks.receiver.all("slow")) == 1, "the newer video waits for the older one"
    hooks.cycles_until(lambda: len(hooks.receiver.bodies("slow")) == 2)
    assert [b["id"] for b in hooks.receiver.bodies("slow")] == posted


def test_persistent_failure_is_dead_lettered_then_replayed(
    make_app: t.Any, http: httpx.Client, receiver: Receiver, receiver_server: t.Any, world: World
) -> None:
    app = make_app(**{**HOOK_SETTINGS, "DELIVERY_MAX_AGE": 0.3})
    hooks = Hooks(app, http, receiver, receiver_server[1].url)
    hooks.subscribe("down")
    video = world.post_video("creator")
    hooks.receiver.script("down", *[(500, 0.0)] * 100)
    hooks.cycles_until(lambda: bool(http.get("/v1/hooks/dead-letters").json()))
    (dead,) = http.get("/v1/hooks/dead-letters").json()
    assert dead["video_id"] == video.id and dead["last_status"] == 500
    assert dead["attempts"] >= 2
    assert (
        http.get("/v1/hooks/dead-letters", headers={"Authorization": "Bearer other"}).json() == []
    )
    hooks.receiver.script("down")
    assert http.post("/v1/hooks/dead-letters/replay", json={}).json() == {"replayed": 1}
    hooks.cycle()
    assert [b["id"] for b in hooks.receiver.bodies("down")] == [video.id]
    assert http.get("/v1/hooks/dead-letters").json() == []


def test_client_errors_are_retried_a_few_times_then_dead_lettered(
    hooks: Hooks, world: World
) -> None:
    hooks.subscribe("bad")
    world.post_video("creator")
    hooks.receiver.script("bad", *[(400, 0.0)] * 10)
    hooks.cycles_until(lambda: bool(hooks.http.get("/v1/hooks/dead-letters").json()))
    assert len(hooks.receiver.all("bad")) == 3  # DELIVERY_CLIENT_ERROR_ATTEMPTS


def test_410_gone_unsubscribes(hooks: Hooks, world: World) -> None:
    gone = hooks.subscribe("gone")
    world.post_video("creator")
    hooks.receiver.script("gone", (410, 0.0))
    report = hooks.cycle()
    assert report["unsubscribed"] == 1
    assert hooks.http.get(f"/v1/hooks/{gone['id']}").status_code == 404
    world.post_video("creator")
    hooks.cycle()
    assert len(hooks.receiver.all("gone")) == 1


def test_a_failed_upstream_read_queues_nothing_and_is_caught_up(hooks: Hooks, world: World) -> None:
    hooks.subscribe("catch")
    posted = [world.post_video("creator").id for _ in range(12)]
    fault(world, endpoint="profile-videos", status=500, page=2)
    assert hooks.cycle()["failed"] == 1
    assert hooks.receiver.all("catch") == []
    hooks.cycle()
    assert [b["id"] for b in hooks.receiver.bodies("catch")] == posted


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"target_url": "ftp://example.com/x"}, "target_refused"),
        ({"target_url": "http://example.com/x"}, "target_refused"),
        ({"target_url": "https://127.0.0.1/x"}, "target_refused"),
        ({"target_url": "https://localhost/x"}, "target_refused"),
        ({"target_url": "https://10.1.2.3/x"}, "target_refused"),
        ({"target_url": "https://169.254.169.254/latest/meta-data"}, "target_refused"),
        ({"target_url": "https://[::1]/x"}, "target_refused"),
        ({"target_url": "https://user:pw@example.com/x"}, "target_refused"),
        ({"target_url": "not a url"}, "target_refused"),
        ({"target_url": "https://example.com/x", "event": "new_like"}, "invalid_input"),
        ({}, "invalid_input"),
    ],
)
def test_unsafe_or_invalid_targets_are_refused(
    make_app: t.Any, world: World, body: dict[str, t.Any], code: str
) -> None:
    app = make_app(SECRET_KEY=SECRET_KEY)  # private targets not allowed
    response = app.test_client().post(
        "/v1/hooks", json={"handle": "creator", **body}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert response.status_code == 400
    assert response.json["code"] == code
    assert world.requests() == []


def test_a_target_turning_private_is_refused_at_delivery(
    hooks: Hooks, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks.subscribe("rebound")
    world.post_video("creator")
    rt = hooks.app.extensions["connector"]
    monkeypatch.setattr(
        rt, "settings", dataclasses.replace(rt.settings, allow_private_targets=False)
    )
    report = hooks.cycle()
    assert report["dead"] == 1
    assert hooks.receiver.all("rebound") == []
    (dead,) = hooks.http.get("/v1/hooks/dead-letters").json()
    assert "http://" in dead["last_error"] or "non-public" in dead["last_error"]


def test_subscribing_needs_a_secret_key(make_app: t.Any, world: World) -> None:
    app = make_app(ALLOW_PRIVATE_TARGETS=True)
    response = app.test_client().post(
        "/v1/hooks",
        json={"target_url": "https://example.com/x", "handle": "creator"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 503
    assert "CONNECTOR_SECRET_KEY" in response.json["error"]


def test_a_missing_handle_fails_at_subscribe(hooks: Hooks) -> None:
    response = hooks.http.post(
        "/v1/hooks", json={"target_url": f"{hooks.root}/x", "handle": "missing_person"}
    )
    assert response.status_code == 404
    assert hooks.http.get("/v1/hooks").json() == []


def test_keys_and_secrets_are_sealed_at_rest_and_removed_with_the_last_subscription(
    hooks: Hooks, db_url: str
) -> None:
    import pathlib
    import sqlite3

    first, second = hooks.subscribe("k1"), hooks.subscribe("k2")
    path = db_url.removeprefix("sqlite:///")
    files = [pathlib.Path(path), pathlib.Path(path + "-wal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert KEY.encode() not in raw
    assert first["secret"].encode() not in raw and first["secret"][6:].encode() not in raw
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM tenant_keys").fetchone() == (1,)
    hooks.http.delete(f"/v1/hooks/{first['id']}")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM tenant_keys").fetchone() == (1,)
    hooks.http.delete(f"/v1/hooks/{second['id']}")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM tenant_keys").fetchone() == (0,)


def test_a_restart_needs_the_same_secret_key(hooks: Hooks, make_app: t.Any) -> None:
    from connector.errors import ConfigError

    hooks.subscribe("r")
    with pytest.raises(ConfigError, match="CONNECTOR_SECRET_KEY must be set"):
        make_app()
    other_key = "another-strong-secret-key-7d1e9a0c35b2f8"
    # A different key is refused at start-up, not found out by every delivery failing later.
    with pytest.raises(ConfigError, match="CONNECTOR_SECRET_KEY is not the key") as refused:
        make_app(**{**HOOK_SETTINGS, "SECRET_KEY": other_key})
    assert other_key not in str(refused.value) and SECRET_KEY not in str(refused.value)
    same = make_app(**HOOK_SETTINGS)
    assert run_cycle(same.extensions["connector"].poll_context).failed == 0


def test_sample_for_load_sample_steps(hooks: Hooks, world: World) -> None:
    items = hooks.http.post("/v1/hooks/sample", json={"handle": "creator"}).json()
    assert [i["id"] for i in items] == [v.id for v in world.profile("creator").videos[:3]]  # type: ignore[union-attr]


def test_retry_delays_grow_with_jitter_and_honour_retry_after() -> None:
    import random

    policy = RetryPolicy(first_retry=10, max_delay=3600)
    rng = random.Random(1)
    first = [policy.delay(1, None, rng) for _ in range(50)]
    assert all(5 <= d <= 10 for d in first) and len(set(first)) > 1
    assert all(40 <= policy.delay(4, None, rng) <= 80 for _ in range(50))
    assert policy.delay(1, 120, rng) == 120
    assert policy.delay(30, None, rng) <= 3600


def test_a_subscribers_key_upstream_echoes_in_a_poll_cycle_is_kept_out_of_logs_and_the_store(
    hooks: Hooks, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cycle polls with a key it unsealed, which no request carries: upstream text quoting
    it must not reach the log or the watch's last error (shown in the operator console)."""
    hooks.subscribe("echo")
    fault(world, endpoint="profile-videos", status=401, echo_key=True, times=5)
    report = hooks.cycle()
    assert report["failed"] == 1
    logged = capsys.readouterr().err
    assert "API key received" in logged and KEY not in logged
    store = hooks.app.extensions["connector"].store
    with store._transaction(write=False) as sql:  # what the console reads
        (last_error,) = sql.one("SELECT last_error FROM watches")
    assert "[redacted]" in last_error and KEY not in last_error
