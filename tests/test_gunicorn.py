"""Several gunicorn worker processes, with threads, on one PostgreSQL store, as the README
runs them."""

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
from .servers import free_port, wait_until_up

pytestmark = pytest.mark.postgres

GUNICORN = Path(sys.executable).parent / "gunicorn"
PATH = "/v1/triggers/new-video"


@pytest.fixture
def gunicorn(postgres_url: str, sandbox_url: str, tmp_path: Path) -> t.Iterator[str]:
    with served(postgres_url, sandbox_url, tmp_path) as base:
        yield base


@contextlib.contextmanager
def served(postgres_url: str, sandbox_url: str, tmp_path: Path, **settings: str) -> t.Iterator[str]:
    """gunicorn as the README runs it: workers with threads (gthread), stopped with SIGTERM."""
    if not GUNICORN.exists():
        pytest.skip("gunicorn is not installed (the [server] extra)")
    port = free_port()
    env = {
        **os.environ,
        "CONNECTOR_DATABASE_URL": postgres_url,
        **{f"CONNECTOR_{k}": v for k, v in base_urls(sandbox_url).items()},
        **{f"CONNECTOR_{k}": v for k, v in settings.items()},
    }
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "--workers",
            "3",
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--error-logfile",
            str(log),
            "connector.wsgi:app",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
        process.wait(timeout=30)


def test_workers_never_return_a_video_twice(gunicorn: str, world: World) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=gunicorn, headers=headers, timeout=30) as http:
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


def test_a_stopped_worker_writes_the_usage_it_batched(
    postgres_url: str, sandbox_url: str, tmp_path: Path, world: World
) -> None:
    from connector.store import open_store
    from connector.store.activity import Activity

    headers = {"Authorization": f"Bearer {KEY}", "X-Request-Source": "ZAPIER"}
    with (
        served(postgres_url, sandbox_url, tmp_path, USAGE_FLUSH_INTERVAL="3600") as base,
        httpx.Client(base_url=base, headers=headers, timeout=30) as http,
    ):
        for handle in ("one", "two", "three", "four"):
            assert http.post("/v1/actions/get-profile", json={"handle": handle}).is_success
        store = open_store(postgres_url)
        assert Activity(store).usage(0) == [], "batched, not written per request"
    # gunicorn's graceful stop (SIGTERM) has ended every worker: each wrote its batch.
    usage = Activity(store).usage(0)
    store.close()
    assert {(u.provider, u.request_source, u.outcome) for u in usage} == {
        ("dumplingai", "ZAPIER", "ok")
    }
    assert sum(u.calls for u in usage) == 4
