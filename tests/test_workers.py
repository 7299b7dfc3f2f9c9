"""Several workers on one PostgreSQL: every due handle polled once per cycle, every new
video delivered exactly once per subscription."""

from __future__ import annotations

import collections
import os
import random
import subprocess
import typing as t

import pytest

from connector.sandbox import World, base_urls
from connector.serving import BackgroundServer
from connector.store.activity import Activity

from .conftest import KEY
from .receiver import Receiver
from .servers import CONNECTOR

pytestmark = pytest.mark.postgres

SECRET_KEY = "workers-test-secret-key-7c1a5e9f3b28d04"
HANDLES = [f"worker.handle{i}" for i in range(12)]
WORKERS = 4


@pytest.fixture
def receiver() -> t.Iterator[tuple[Receiver, BackgroundServer]]:
    receiver = Receiver()
    with BackgroundServer(receiver.app) as server:
        yield receiver, server


def test_four_workers_split_the_handles_and_deliver_each_video_once(
    postgres_url: str,
    sandbox_url: str,
    world: World,
    make_app: t.Any,
    receiver: tuple[Receiver, BackgroundServer],
) -> None:
    hooks, server = receiver
    settings = {
        "DATABASE_URL": postgres_url,
        "SECRET_KEY": SECRET_KEY,
        "ALLOW_PRIVATE_TARGETS": True,
        # Far longer than a round of four starting worker processes takes on a busy
        # machine: a handle polled early in a round is not due again before the round ends.
        # The test makes every handle due before each round instead of waiting the gap out.
        "POLL_MIN_GAP": 600.0,
        "POLL_BATCH": 2,
    }
    app = make_app(**settings)
    client = app.test_client()
    paths = []
    for handle in HANDLES:
        for copy in ("a", "b"):
            path = f"{handle}/{copy}"
            response = client.post(
                "/v1/hooks",
                json={"target_url": f"{server.url}/{path}", "handle": handle},
                headers={"Authorization": f"Bearer {KEY}"},
            )
            assert response.status_code == 201, response.json
            hooks.expect(path, response.json["secret"])
            paths.append(path)
    store = app.extensions["connector"].store
    watches = {s.watch for s in store.subscriptions()}
    assert len(watches) == len(HANDLES)

    env = {
        **os.environ,
        **{
            f"CONNECTOR_{k}": str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in settings.items()
        },
        **{f"CONNECTOR_{k}": v for k, v in base_urls(sandbox_url).items()},
    }
    world.latency["profile-videos"] = 0.2  # long enough for the workers to overlap
    rng = random.Random(3)
    posted: dict[str, list[str]] = collections.defaultdict(list)
    worked: list[int] = []
    for _ in range(3):
        for handle in rng.sample(HANDLES, 8):
            for _ in range(rng.randrange(1, 4)):
                posted[handle].append(world.post_video(handle).id)
        for watch in watches:  # due again, as once POLL_MIN_GAP has passed
            Activity(store).make_due(watch)
        before = len(world.requests("profile-videos"))
        workers = [
            subprocess.Popen([str(CONNECTOR), "poll"], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(WORKERS)
        ]
        outputs = [w.communicate(timeout=120)[0] for w in workers]
        assert all(w.returncode == 0 for w in workers), outputs
        fetched = collections.Counter(
            r.body["handle"] for r in world.requests("profile-videos")[before:]
        )
        assert fetched == {handle: 1 for handle in HANDLES}, "each due handle polled once"
        counts = [dict(p.split("=") for p in out.split()) for out in outputs]
        assert sum(int(c["watched"]) for c in counts) == len(HANDLES)
        worked.append(sum(1 for c in counts if int(c["watched"]) > 0))
    app.extensions["connector"].close()
    assert max(worked) >= 2, "the workers shared the handles"

    for path in paths:
        handle = path.split("/")[0]
        received = hooks.all(path)
        assert all(r.verified for r in received)
        assert [r.body["id"] for r in received] == posted[handle], path
        assert len({r.webhook_id for r in received}) == len(received), "exactly once"
