"""The three ways the poll cycle runs (CLI, scheduler, Lambda event), and crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import cli
from connector.sandbox import World, base_urls, create_sandbox_app
from connector.serving import BackgroundServer

from .conftest import scheduled_event, subscribe
from .receiver import Receiver
from .servers import CONNECTOR
from .test_hooks import HOOK_SETTINGS, SECRET_KEY


@pytest.fixture
def sandbox_server() -> t.Iterator[tuple[World, BackgroundServer]]:
    """A sandbox upstream per test here, not the worker's: the poll killed while fetching
    leaves its reads asleep in the sandbox for 30 s, which no later test should wait for or
    find running on in its own sandbox."""
    world = World()
    with BackgroundServer(create_sandbox_app(world)) as server:
        yield world, server


@pytest.fixture
def env(db_url: str, sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings as environment variables, for processes and for create_app()."""
    values = {
        "CONNECTOR_DATABASE_URL": db_url,
        "CONNECTOR_SECRET_KEY": SECRET_KEY,
        "CONNECTOR_ALLOW_PRIVATE_TARGETS": "true",
        "CONNECTOR_DELIVERY_TIMEOUT": "10",
        "CONNECTOR_DELIVERY_FIRST_RETRY": "0.01",
        "CONNECTOR_POLL_MIN_GAP": "0",
        **{f"CONNECTOR_{k}": v for k, v in base_urls(sandbox_url).items()},
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def wait_for(condition: t.Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("kill_while", ["fetching", "delivering"])
def test_a_poll_killed_mid_cycle_loses_nothing(
    make_app: t.Any,
    world: World,
    receiver_server: tuple[Receiver, BackgroundServer],
    env: dict[str, str],
    kill_while: str,
) -> None:
    receiver, server = receiver_server
    path = f"crash-{kill_while}"
    subscribe(make_app(**HOOK_SETTINGS), receiver, server.url, path)
    posted = [world.post_video("creator").id for _ in range(3)]
    if kill_while == "fetching":
        world.latency["profile-videos"] = 30.0
        started = lambda: len(world.requests("profile-videos")) >= 2  # noqa: E731
    else:
        receiver.script(path, (200, 30.0))
        started = lambda: len(receiver.all(path)) == 1  # noqa: E731
    victim = subprocess.Popen([str(CONNECTOR), "poll"], env={**os.environ, **env})
    try:
        wait_for(started)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    world.latency.clear()
    survivor = subprocess.run(
        [str(CONNECTOR), "poll"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert survivor.returncode == 0, survivor.stderr
    received = receiver.all(path)
    first_seen: list[str] = []
    ids_per_video: dict[str, set[str]] = {}
    for item in received:
        assert item.verified
        ids_per_video.setdefault(item.body["id"], set()).add(item.webhook_id)
        if item.body["id"] not in first_seen:
            first_seen.append(item.body["id"])
    assert first_seen == posted, "everything delivered, oldest first"
    assert all(len(ids) == 1 for ids in ids_per_video.values()), "duplicates only as retries"
    assert len(received) <= len(posted) + 1


def test_connector_poll_prints_what_it_did(
    make_app: t.Any,
    world: World,
    receiver_server: tuple[Receiver, BackgroundServer],
    env: dict[str, str],
) -> None:
    receiver, server = receiver_server
    subscribe(make_app(**HOOK_SETTINGS), receiver, server.url, "cli")
    world.post_video("creator")
    result = CliRunner().invoke(cli, ["poll"])
    assert result.exit_code == 0, result.output
    assert "queued=1" in result.output and "delivered=1" in result.output
    assert len(receiver.bodies("cli")) == 1


def test_dead_letters_from_the_cli(
    make_app: t.Any,
    world: World,
    receiver_server: tuple[Receiver, BackgroundServer],
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver, server = receiver_server
    subscribe(make_app(**HOOK_SETTINGS), receiver, server.url, "dlq")
    video = world.post_video("creator")
    receiver.script("dlq", (404, 0.0), (404, 0.0), (404, 0.0))
    monkeypatch.setenv("CONNECTOR_DELIVERY_CLIENT_ERROR_ATTEMPTS", "1")
    runner = CliRunner()
    assert runner.invoke(cli, ["poll"]).exit_code == 0
    listed = runner.invoke(cli, ["dead-letters", "list"])
    assert video.id in listed.output and "404" in listed.output
    assert runner.invoke(cli, ["dead-letters", "replay"]).output.strip() == "replayed=1"
    receiver.script("dlq")
    assert "delivered=1" in runner.invoke(cli, ["poll"]).output
    assert runner.invoke(cli, ["dead-letters", "list"]).output == ""


def test_the_scheduler_in_serve_polls_on_its_interval(
    make_app: t.Any, world: World, receiver_server: tuple[Receiver, BackgroundServer]
) -> None:
    receiver, server = receiver_server
    app = make_app(**HOOK_SETTINGS)
    subscribe(app, receiver, server.url, "scheduled")
    scheduler = app.extensions["connector"].scheduler(0.1).start()
    try:
        video = world.post_video("creator")
        wait_for(lambda: len(receiver.bodies("scheduled")) == 1)
    finally:
        scheduler.stop()
    assert receiver.bodies("scheduled")[0]["id"] == video.id


def test_the_lambda_scheduled_event_runs_a_cycle(
    make_app: t.Any,
    world: World,
    receiver_server: tuple[Receiver, BackgroundServer],
    env: dict[str, str],
) -> None:
    from connector import jobs

    receiver, server = receiver_server
    subscribe(make_app(**HOOK_SETTINGS), receiver, server.url, "lambda")
    video = world.post_video("creator")
    event = scheduled_event("connector-dev-connector.jobs.poll")
    jobs._runtime.cache_clear()
    try:
        first = jobs.poll(event, object())
        again = jobs.poll(event, object())  # EventBridge may deliver an event twice
    finally:
        jobs._runtime.cache_clear()
    assert first["delivered"] == 1 and again["delivered"] == 0
    assert [b["id"] for b in receiver.bodies("lambda")] == [video.id]


def test_zappa_settings_schedule_the_poll() -> None:
    import json

    settings = json.loads((Path(__file__).parent.parent / "zappa_settings.json").read_text())
    for stage in settings.values():
        assert stage["app_function"] == "connector.wsgi.app"
        (event,) = stage["events"]
        assert event["function"] == "connector.jobs.poll"
        assert "-" not in event["function"]
        assert event["expression"].startswith("rate(")
