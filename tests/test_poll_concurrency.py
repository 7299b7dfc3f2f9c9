"""A poll cycle reads watched handles concurrently, within the configured and documented limits."""

from __future__ import annotations

import os
import subprocess
import time
import typing as t

import httpx
import pytest

from connector.hooks.poller import run_cycle
from connector.providers.dumplingai import DumplingAIProvider
from connector.sandbox import World, base_urls
from connector.serving import BackgroundServer
from connector.store.activity import Activity

from .conftest import KEY, fault
from .receiver import Receiver
from .servers import CONNECTOR

SETTINGS = {
    "SECRET_KEY": "poll-concurrency-secret-key-8d2f61c94b7a3e05",
    "ALLOW_PRIVATE_TARGETS": True,
    "POLL_MIN_GAP": 0,
    "DELIVERY_TIMEOUT": 1.0,
}
HANDLES = [f"creator{n}" for n in range(8)]


def watch(app: t.Any, receiver_server: tuple[Receiver, BackgroundServer], world: World) -> None:
    """Subscribe one receiver path per handle, then forget the subscribe-time reads."""
    receiver, server = receiver_server
    with receiver.lock:
        receiver.received.clear()
        receiver.scripts.clear()
        receiver.secrets.clear()
    with (
        BackgroundServer(app) as served,
        httpx.Client(
            base_url=served.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        ) as http,
    ):
        for handle in HANDLES:
            answer = http.post(
                "/v1/hooks", json={"target_url": f"{server.url}/{handle}", "handle": handle}
            )
            assert answer.status_code == 201, answer.text
            receiver.expect(handle, answer.json()["secret"])
    world.max_in_flight.clear()


def test_a_cycle_reads_handles_at_once_up_to_poll_concurrency(
    make_app: t.Any, receiver_server: tuple[Receiver, BackgroundServer], world: World
) -> None:
    app = make_app(**SETTINGS, POLL_CONCURRENCY=3)
    watch(app, receiver_server, world)
    world.latency["profile-videos"] = 0.2
    report = run_cycle(app.extensions["connector"].poll_context)
    assert (report.watched, report.failed) == (len(HANDLES), 0)
    assert 2 <= world.max_in_flight["profile-videos"] <= 3


def test_a_cycle_reads_and_opens_a_tenants_key_once_however_many_readers_ask(
    make_app: t.Any,
    receiver_server: tuple[Receiver, BackgroundServer],
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every handle here is one tenant's: the cycle's readers all start by asking for its
    key. A slow store read makes them ask at once (each read its own before)."""
    app = make_app(**SETTINGS, POLL_CONCURRENCY=8)
    watch(app, receiver_server, world)
    store = app.extensions["connector"].store
    reads: list[str] = []
    read_key = store.tenant_key

    def slow_read(tenant: str) -> bytes | None:
        reads.append(tenant)
        time.sleep(0.1)
        return read_key(tenant)

    monkeypatch.setattr(store, "tenant_key", slow_read)
    world.latency["profile-videos"] = 0.2
    report = run_cycle(app.extensions["connector"].poll_context)
    assert (report.watched, report.failed) == (len(HANDLES), 0)
    assert world.max_in_flight["profile-videos"] >= 2  # the readers did overlap
    assert len(reads) == 1


def test_a_providers_documented_limit_caps_the_cycle(
    make_app: t.Any,
    receiver_server: tuple[Receiver, BackgroundServer],
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(DumplingAIProvider, "concurrency_limit", 2)
    app = make_app(**SETTINGS, POLL_CONCURRENCY=10)
    watch(app, receiver_server, world)
    world.latency["profile-videos"] = 0.1
    report = run_cycle(app.extensions["connector"].poll_context)
    assert (report.watched, report.failed) == (len(HANDLES), 0)
    assert world.max_in_flight["profile-videos"] <= 2


def test_cycles_of_several_processes_share_poll_concurrency(
    any_db_url: str,
    sandbox_url: str,
    make_app: t.Any,
    receiver_server: tuple[Receiver, BackgroundServer],
    world: World,
) -> None:
    """`connector serve`'s scheduler, `connector poll` from cron and other machines' workers
    on one store: together they read at most POLL_CONCURRENCY handles at once from one
    provider, as one process would (the issue: "shared across processes")."""
    # A long gap: a handle one process polled is not due again for another that starts
    # later; every handle is made due once instead.
    settings = {**SETTINGS, "DATABASE_URL": any_db_url, "POLL_CONCURRENCY": 3, "POLL_MIN_GAP": 600}
    app = make_app(**settings)
    watch(app, receiver_server, world)
    store = app.extensions["connector"].store
    for watched in {s.watch for s in store.subscriptions()}:
        Activity(store).make_due(watched)
    app.extensions["connector"].close()
    world.latency["profile-videos"] = 0.2  # long enough for the processes to overlap
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(
        {
            f"CONNECTOR_{k}": str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in settings.items()
        }
    )
    env.update({f"CONNECTOR_{k}": v for k, v in base_urls(sandbox_url).items()})
    env["CONNECTOR_POLL_BATCH"] = "2"  # each process claims a few handles at a time
    polls = [
        subprocess.Popen([str(CONNECTOR), "poll"], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in polls]
    assert all(p.returncode == 0 for p in polls), outputs
    counts = [dict(part.split("=") for part in out.split()) for out in outputs]
    assert sum(int(c["watched"]) for c in counts) == len(HANDLES)
    assert sum(int(c["failed"]) for c in counts) == 0
    assert 2 <= world.max_in_flight["profile-videos"] <= 3


def test_one_failing_handle_leaves_the_concurrent_others_queued(
    make_app: t.Any, receiver_server: tuple[Receiver, BackgroundServer], world: World
) -> None:
    app = make_app(**SETTINGS, POLL_CONCURRENCY=4)
    watch(app, receiver_server, world)
    world.latency["profile-videos"] = 0.05
    for handle in HANDLES:
        world.post_video(handle)
    fault(world, endpoint="profile-videos", status=500, handle=HANDLES[3])
    report = run_cycle(app.extensions["connector"].poll_context)
    assert (report.watched, report.failed) == (len(HANDLES), 1)
    assert report.queued == len(HANDLES) - 1
    receiver, _ = receiver_server
    assert {h for h in HANDLES if receiver.all(h)} == set(HANDLES) - {HANDLES[3]}
    # The failed handle was released: the next cycle reads it again and catches up.
    again = run_cycle(app.extensions["connector"].poll_context)
    assert (again.failed, again.queued) == (0, 1)
    assert receiver.all(HANDLES[3])


def test_a_handles_news_is_delivered_while_the_cycle_reads_the_others(
    make_app: t.Any, receiver_server: tuple[Receiver, BackgroundServer], world: World
) -> None:
    app = make_app(**SETTINGS, POLL_CONCURRENCY=1)
    watch(app, receiver_server, world)
    world.latency["profile-videos"] = 0.25  # one read at a time: 8 reads take 2 s
    posted = {handle: world.post_video(handle).id for handle in HANDLES}
    report = run_cycle(app.extensions["connector"].poll_context)
    assert (report.watched, report.queued, report.delivery.delivered) == (8, 8, 8)
    receiver, _ = receiver_server
    for handle in HANDLES:
        assert [body["id"] for body in receiver.bodies(handle)] == [posted[handle]]
    first_delivery = min(received.at for received in receiver.received)
    last_read = max(request.at for request in world.requests("profile-videos"))
    assert first_delivery < last_read, "deliveries waited for the whole cycle"


def test_a_delivery_started_early_is_tried_once_per_cycle(
    make_app: t.Any, receiver_server: tuple[Receiver, BackgroundServer], world: World
) -> None:
    app = make_app(**SETTINGS, POLL_CONCURRENCY=1, DELIVERY_FIRST_RETRY=0.01)
    watch(app, receiver_server, world)
    world.latency["profile-videos"] = 0.2  # the cycle outlasts the first retry's delay
    receiver, _ = receiver_server
    receiver.script(HANDLES[0], (500, 0.0), (500, 0.0), (500, 0.0))
    world.post_video(HANDLES[0])
    report = run_cycle(app.extensions["connector"].poll_context)
    assert (report.queued, report.delivery.retried) == (1, 1)
    assert len(receiver.all(HANDLES[0])) == 1, "one attempt per cycle, retry or not"
