"""Several worker processes, with threads, on one PostgreSQL store, as the README runs them:
`connector serve` (granian) and gunicorn."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import httpx
import pytest

from connector.sandbox import World, base_urls

from .conftest import KEY
from .servers import CONNECTOR, free_port, wait_until_up

pytestmark = pytest.mark.postgres

GUNICORN = Path(sys.executable).parent / "gunicorn"
PATH = "/v1/triggers/new-video"


SERVERS = ["connector serve", "gunicorn"]


@pytest.fixture(params=SERVERS)
def workers(
    request: pytest.FixtureRequest, postgres_url: str, sandbox_url: str, tmp_path: Path
) -> t.Iterator[str]:
    with served(request.param, postgres_url, sandbox_url, tmp_path) as base:
        yield base


def _command(server: str, port: int, log: Path) -> list[str]:
    """Three workers of four threads each, the way the README starts the server."""
    if server == "connector serve":
        return [str(CONNECTOR), "serve", "--port", str(port), "--workers", "3", "--threads", "4"]
    if not GUNICORN.exists():
        pytest.skip("gunicorn is not installed (the [server] extra)")
    return [
        str(GUNICORN),
        *("--workers", "3", "--threads", "4", "--bind", f"127.0.0.1:{port}"),
        *("--error-logfile", str(log), "connector.wsgi:app"),
    ]


@contextlib.contextmanager
def served(
    server: str, postgres_url: str, sandbox_url: str, tmp_path: Path, **settings: str
) -> t.Iterator[str]:
    """``server`` as the README runs it: workers with threads, stopped with SIGTERM."""
    port = free_port()
    env = {
        **os.environ,
        "CONNECTOR_DATABASE_URL": postgres_url,
        **{f"CONNECTOR_{k}": v for k, v in base_urls(sandbox_url).items()},
        "CONNECTOR_POLL_INTERVAL": "0",
        **{f"CONNECTOR_{k}": v for k, v in settings.items()},
    }
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            _command(server, port, log), cwd=tmp_path, env=env, stdout=output, stderr=output
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(
            f"{base}/health",
            process,
            seconds=30,
            output=lambda: log.read_text() if log.exists() else "",
        )
        yield base
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, log.read_text()


def test_workers_never_return_a_video_twice(workers: str, world: World) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    # A new connection per poll (no keep-alive), so that every worker takes some.
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=workers, headers=headers, timeout=30, limits=fresh) as http:
        assert http.get("/health").json()["store"] == "postgresql"
        assert http.post(PATH, json={"handle": "creator"}).json() == []
        world.latency["profile-videos"] = 0.1  # the nine polls of a round really overlap
        delivered: list[str] = []
        posted: list[str] = []
        for _ in range(3):
            posted.extend(world.post_video("creator").id for _ in range(3))
            with concurrent.futures.ThreadPoolExecutor(max_workers=9) as pool:
                responses = list(
                    pool.map(lambda _: http.post(PATH, json={"handle": "creator"}), range(9))
                )
            for response in responses:
                assert response.status_code == 200, response.text
                delivered.extend(v["id"] for v in response.json())
        assert sorted(delivered) == sorted(posted)
        assert world.max_in_flight["profile-videos"] >= 3, "the polls ran at once"


@pytest.mark.parametrize("server", SERVERS)
def test_a_stopped_worker_writes_the_usage_it_batched(
    server: str, postgres_url: str, sandbox_url: str, tmp_path: Path, world: World
) -> None:
    from connector.store import open_store
    from connector.store.activity import Activity

    headers = {"Authorization": f"Bearer {KEY}", "X-Request-Source": "ZAPIER"}
    with (
        served(server, postgres_url, sandbox_url, tmp_path, USAGE_FLUSH_INTERVAL="3600") as base,
        httpx.Client(base_url=base, headers=headers, timeout=30) as http,
    ):
        for handle in ("one", "two", "three", "four"):
            assert http.post("/v1/actions/get-profile", json={"handle": handle}).is_success
        store = open_store(postgres_url)
        assert Activity(store).usage(0) == [], "batched, not written per request"
    # The server's graceful stop (SIGTERM) has ended every worker: each wrote its batch.
    usage = Activity(store).usage(0)
    store.close()
    assert {(u.provider, u.request_source, u.outcome) for u in usage} == {
        ("dumplingai", "ZAPIER", "ok")
    }
    assert sum(u.calls for u in usage) == 4
