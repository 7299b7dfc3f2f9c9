"""GET /metrics: Prometheus' text format, read back with prometheus_client's own parser."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connector.errors import StoreUnavailable
from connector.sandbox import World
from connector.serving import BackgroundServer

from .conftest import fault
from .operator_console import Console, visible
from .servers import free_port, sandbox_process, wait_until_up

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(http: httpx.Client, **headers: str) -> Samples:
    answer = http.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` having ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def test_metrics_parse_and_move_when_a_poll_runs(console: Console, world: World) -> None:
    console.subscribe("metered")
    before = scrape(console.browser)
    assert value(before, "connector_poll_cycles_total") == 0
    assert value(before, "connector_subscriptions") == 1
    assert value(before, "connector_store_up") == 1
    world.post_video("creator")
    world.post_video("creator")
    console.cycle()
    after = scrape(console.browser)
    assert value(after, "connector_poll_cycles_total") == 1
    assert value(after, "connector_poll_cycle_duration_seconds_count") == 1
    assert value(after, "connector_poll_handles_total", result="ok") == 1
    assert value(after, "connector_videos_detected_total") == 2
    assert value(after, "connector_deliveries_total", outcome="delivered") == 2
    assert value(after, "connector_outbox_deliveries", state="pending") == 0
    reads = dict(provider="dumplingai", outcome="ok", request_source="ZAPIER")
    assert value(after, "connector_upstream_requests_total", **reads) == 2, "baseline and poll"
    assert value(after, "connector_upstream_request_duration_seconds_count", **reads) == 2
    assert (
        value(
            after, "connector_http_requests_total", route="/v1/hooks", method="POST", status="201"
        )
        == 1
    )
    assert (
        value(after, "connector_http_requests_total", route="/metrics", method="GET", status="200")
        == 1
    )
    assert (
        value(after, "connector_build_info", version="0.1.0", store="sqlite", sandbox="false") == 1
    )


def test_the_console_shows_the_figures_metrics_count(console: Console, world: World) -> None:
    console.sign_in()
    console.subscribe("same")
    fault(world, endpoint="profile-videos", status=500)
    console.cycle()  # the read fails upstream
    console.cycle()
    samples = scrape(console.browser)
    calls = total(samples, "connector_upstream_requests_total", provider="dumplingai")
    failures = total(
        samples,
        "connector_upstream_requests_total",
        provider="dumplingai",
        outcome="upstream_error",
    )
    assert (calls, failures) == (3, 1)
    overview = console.text("/console/")
    assert re.search(r"DumplingAI dumplingai default 3 33%", overview), overview
    assert value(samples, "connector_poll_handles_total", result="failed") == 1
    assert value(samples, "connector_poll_cycles_total") == 2
    handles = console.text("/console/handles")
    assert "DumplingAI" in handles and "upstream_unavailable" in handles, "the watch's last error"
    assert value(samples, "connector_watched_handles_backing_off") == 0, "a 5xx is passing"


def test_handles_backing_off_are_counted(console: Console, world: World) -> None:
    console.subscribe("kept", handle="kept.one")
    console.subscribe("gone", handle="gone.one")
    # Deleted after the subscription: upstream's documented 404 from then on.
    fault(world, endpoint="profile-videos", handle="gone.one", status=404, times=10)
    console.cycle()
    samples = scrape(console.browser)
    assert value(samples, "connector_watched_handles") == 2
    assert value(samples, "connector_watched_handles_backing_off") == 1
    console.sign_in()
    assert "1 backing off" in console.text("/console/")


def test_dead_letters_are_counted(console: Console, world: World) -> None:
    console.subscribe("refusing")
    world.post_video("creator")
    console.receiver.script("refusing", (400, 0.0))
    console.cycle()
    samples = scrape(console.browser)
    assert value(samples, "connector_dead_letters_total") == 1
    assert value(samples, "connector_deliveries_total", outcome="dead") == 1
    assert value(samples, "connector_outbox_deliveries", state="dead") == 1


@pytest.mark.parametrize("console", [{"METRICS_TOKEN": "scrape-Zr8vT2kQ"}], indirect=True)
def test_a_metrics_token_keeps_others_out(console: Console) -> None:
    assert console.browser.get("/metrics").status_code == 401
    wrong = console.browser.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "connector_" not in wrong.text
    assert scrape(console.browser, Authorization="Bearer scrape-Zr8vT2kQ")


def test_store_errors_are_counted_and_never_fail_what_is_recorded(
    console: Console, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.subscribe("kept")
    metrics = console.rt.metrics

    def unavailable(*args: t.Any, **kwargs: t.Any) -> None:
        raise StoreUnavailable("The store is busy; nothing was recorded.")

    monkeypatch.setattr(metrics.activity, "record_cycle", unavailable)
    monkeypatch.setattr(metrics.activity, "record_attempt", unavailable)
    world.post_video("creator")
    assert console.cycle()["delivered"] == 1, "the cycle went on without its log"
    monkeypatch.setattr(console.rt.store, "subscriptions", unavailable)
    assert console.api.get("/v1/hooks").status_code == 503
    samples = scrape(console.browser)
    assert value(samples, "connector_store_errors_total", where="poll cycle log") == 1
    assert value(samples, "connector_store_errors_total", where="attempt log") == 1
    assert value(samples, "connector_store_errors_total", where="request") == 1


def test_multiprocess_mode_merges_every_worker(tmp_path: Path) -> None:
    """Under gunicorn each worker is a process: with PROMETHEUS_MULTIPROC_DIR, whichever
    worker answers /metrics counts every worker's requests."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    worker = textwrap.dedent(
        f"""
        from connector import create_app
        app = create_app({{"DATABASE_URL": "sqlite:///{tmp_path / "c.db"}"}})
        client = app.test_client()
        assert client.get("/health").status_code == 200
        import sys
        if sys.argv[1] == "scrape":
            sys.stdout.write(client.get("/metrics").get_data(as_text=True))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    for role in ("serve", "serve", "scrape"):
        done = subprocess.run(
            [sys.executable, "-c", worker, role],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    families = {f.name: f for f in text_string_to_metric_families(done.stdout)}
    health = [
        s
        for s in families["connector_http_requests"].samples
        if s.labels.get("route") == "/health" and s.name.endswith("_total")
    ]
    assert [s.value for s in health] == [3.0], "three processes answered /health"
    assert "connector_outbox_deliveries" in families, "the store's gauges come along"
    assert len(list(folder.iterdir())) >= 3


def test_metrics_answers_on_a_plain_live_server(make_app: t.Callable[..., t.Any]) -> None:
    with BackgroundServer(make_app()) as server, httpx.Client(base_url=server.url) as http:
        samples = scrape(http)
        assert value(samples, "connector_store_up") == 1
        assert "Overview" not in visible(http.get("/metrics").text)


def test_connector_serve_reports_every_workers_counts_whichever_answers(tmp_path: Path) -> None:
    """`connector serve` runs a worker per core (two here at least): a scrape answered by
    any one of them counts what all of them served."""
    import concurrent.futures

    port = free_port()
    server = sandbox_process(tmp_path, port, WORKERS="2", POLL_INTERVAL="0")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health", server, seconds=30)
        waits = 1  # wait_until_up's successful call
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            # New connections, many at once: both workers take some.
            statuses = list(pool.map(lambda _: httpx.get(f"{url}/health").status_code, range(100)))
        assert statuses == [200] * 100
        for _ in range(6):  # each on a new connection: either worker may answer
            with httpx.Client(base_url=url) as http:
                counted = total(scrape(http), "connector_http_requests_total", route="/health")
            assert counted >= 100 + waits, "a scrape reports every worker's requests"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
