"""A bounded fault-injection soak: many poll cycles over many handles while upstream fails,
stalls and sends hostile data, and `connector poll` processes are killed at random points.

At the end every subscription and every polling feed has received every video exactly once:
each video under one ``webhook-id`` (a receiver may see a retried delivery of it, which it
drops by that id, as Standard Webhooks receivers do), and each feed each video in one answer.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

import pytest

from connector import create_app
from connector.sandbox import Fault, World, base_urls
from connector.serving import BackgroundServer

from .conftest import KEY
from .receiver import Receiver
from .servers import CONNECTOR

pytestmark = pytest.mark.slow

SECRET_KEY = "soak-test-secret-key-3c8e1f5a9b2d7064"
HANDLES = [f"soak{n}" for n in range(8)]
ROUNDS = 24
# Hostile items upstream may put on a feed: no usable posting time or id.
HOSTILE = [
    {"aweme_id": "7000000000000000001", "create_time": 10**20},
    {"aweme_id": "7000000000000000002", "create_time": "NaN"},
    {"aweme_id": "not-an-id", "create_time": 1767000000},
]


def _env(db_url: str, sandbox_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")},
        "CONNECTOR_DATABASE_URL": db_url,
        "CONNECTOR_SECRET_KEY": SECRET_KEY,
        "CONNECTOR_ALLOW_PRIVATE_TARGETS": "true",
        "CONNECTOR_UPSTREAM_TIMEOUT": "1",
        "CONNECTOR_DELIVERY_TIMEOUT": "2",
        "CONNECTOR_DELIVERY_FIRST_RETRY": "0.01",
        "CONNECTOR_DELIVERY_MAX_DELAY": "0.05",
        "CONNECTOR_POLL_MIN_GAP": "0",
        **{f"CONNECTOR_{k}": v for k, v in base_urls(sandbox_url).items()},
    }


def _poll_process(env: dict[str, str], rng: random.Random) -> None:
    """One `connector poll`, killed (SIGKILL) at a random point in one round out of three."""
    process = subprocess.Popen(
        [str(CONNECTOR), "poll"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if rng.random() < 1 / 3:
        time.sleep(rng.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def _script_faults(world: World, rng: random.Random) -> None:
    world.clear_faults()
    for _ in range(rng.randrange(0, 4)):
        handle = rng.choice(HANDLES)
        times = rng.randrange(1, 4)
        kind = rng.choice(["error", "rate", "slow", "malformed", "page2"])
        if kind == "error":
            world.add_fault(
                Fault(endpoint="profile-videos", status=500, handle=handle, times=times)
            )
        elif kind == "rate":
            world.add_fault(
                Fault(endpoint="profile-videos", status=503, handle=handle, times=times)
            )
        elif kind == "slow":
            world.add_fault(Fault(endpoint="profile-videos", delay=1.5, handle=handle, times=times))
        elif kind == "malformed":
            world.add_fault(
                Fault(endpoint="profile-videos", malformed="json", handle=handle, times=times)
            )
        else:
            world.add_fault(
                Fault(endpoint="profile-videos", status=502, page=2, handle=handle, times=times)
            )


def test_many_cycles_with_faults_and_kills_deliver_every_video_exactly_once(
    world: World,
    sandbox_url: str,
    db_url: str,
    receiver_server: tuple[Receiver, BackgroundServer],
) -> None:
    rng = random.Random(20261202)
    receiver, server = receiver_server
    env = _env(db_url, sandbox_url)
    app = create_app({k.removeprefix("CONNECTOR_"): v for k, v in env.items() if "CONNECTOR_" in k})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {KEY}"}

    paths: dict[str, str] = {}
    for handle in HANDLES:
        path = f"soak/{handle}"
        created = client.post(
            "/v1/hooks",
            json={"target_url": f"{server.url}/{path}", "handle": handle},
            headers=headers,
        )
        assert created.status_code == 201 and created.json is not None, created.json
        receiver.expect(path, created.json["secret"])
        paths[handle] = path
        assert (
            client.post("/v1/triggers/new-video", json={"handle": handle}, headers=headers).json
            == []
        )
    for item in HOSTILE:
        world.add_raw_item(HANDLES[0], json.dumps(item))

    posted: dict[str, set[str]] = {h: set() for h in HANDLES}
    polled: dict[str, list[str]] = {h: [] for h in HANDLES}

    def poll_feeds() -> None:
        for handle in HANDLES:
            answer = client.post("/v1/triggers/new-video", json={"handle": handle}, headers=headers)
            if answer.status_code == 200 and answer.json is not None:
                polled[handle].extend(v["id"] for v in answer.json)
            else:
                assert answer.status_code in (429, 502, 504), answer.json

    for _ in range(ROUNDS):
        for _ in range(rng.randrange(1, 6)):
            handle = rng.choice(HANDLES)
            posted[handle].add(world.post_video(handle).id)
        _script_faults(world, rng)
        _poll_process(env, rng)
        poll_feeds()

    # Calm weather: everything pending gets through.
    world.clear_faults()
    for _ in range(4):
        _poll_process(env, random.Random(0))  # never killed
        poll_feeds()

    for handle in HANDLES:
        received = [r for r in receiver.all(paths[handle]) if r.verified and r.status == 200]
        by_video: dict[str, set[str]] = {}
        for item in received:
            by_video.setdefault(item.body["id"], set()).add(item.webhook_id)
        assert set(by_video) == posted[handle], handle
        assert all(len(ids) == 1 for ids in by_video.values()), handle
        assert sorted(polled[handle]) == sorted(posted[handle]), handle
    assert sum(len(v) for v in posted.values()) > 40  # the soak did post enough to mean something
