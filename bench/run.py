"""The speed bench of issue 11: every measure beside its limit, as a ratio, side by side.

One command: ``python bench/run.py`` (``--quick`` for a smaller run). It starts the sandbox
upstream in its own process (what ``connector sandbox`` serves) behind a
replaying front with 50 ms latency (``bench/replay.py``: the sandbox's answers, replayed at
~0.1 ms of CPU each, so that the emulator does not take the cores the connector is measured
on; a real upstream runs elsewhere), the connector as the
README starts it (``connector serve``: granian, a worker per core) on SQLite, and on a
throwaway PostgreSQL when one is installed (also under gunicorn, the other server the README
shows); prints a table, writes ``bench/results.json`` and, when matplotlib is
installed (``pip install -e '.[bench]'``), ``bench/poll_cycle.png``.

Ratios are what to read: absolute times on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import pathlib
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

ROOT = pathlib.Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port  # noqa: E402 (the repository's root is on the path now)

CONNECTOR = str(pathlib.Path(sys.executable).parent / "connector")
GRANIAN = str(pathlib.Path(sys.executable).parent / "granian")
LATENCY = 0.05
# The production server as the README recommends it: a process per core, threads for the
# waits on upstream (gunicorn runs its gthread workers when given threads).
GUNICORN_WORKERS = 2
GUNICORN = [
    str(pathlib.Path(sys.executable).parent / "gunicorn"),
    *("--workers", str(GUNICORN_WORKERS), "--threads", "16", "connector.wsgi:app"),
]
KEY = "bench-key"
CYCLE_RUNS = 3


def _wait_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def process(
    args: list[str], env: dict[str, str], health: str
) -> t.Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_up(health)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def receiver() -> t.Iterator[str]:
    """A webhook target that answers 200 to everything."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: t.Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def connector_env(upstream: str, database_url: str) -> dict[str, str]:
    from connector.sandbox import base_urls

    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update({f"CONNECTOR_{name}": value for name, value in base_urls(upstream).items()})
    env.update(
        CONNECTOR_DATABASE_URL=database_url,
        CONNECTOR_SECRET_KEY=secrets.token_urlsafe(32),
        CONNECTOR_ALLOW_PRIVATE_TARGETS="true",
        CONNECTOR_POLL_INTERVAL="0",
        CONNECTOR_POLL_MIN_GAP="0",
        CONNECTOR_LOG_LEVEL="WARNING",
        CONNECTOR_MAX_SUBSCRIPTIONS_PER_TENANT="1000",
        # Every measure reads upstream: what is timed is the connector's own cost on a real
        # call, which a kept answer (CONNECTOR_LOOKUP_CACHE_TTL) would hide.
        CONNECTOR_LOOKUP_CACHE_TTL="0",
    )
    return env


# -- measures ---------------------------------------------------------------------------------


def subscribe(base: str, target: str, handles: t.Iterable[str]) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:

        def one(handle: str) -> None:
            answer = client.post(
                "/v1/hooks", json={"target_url": f"{target}/{handle}", "handle": handle}
            )
            answer.raise_for_status()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(one, handles))


def timed_cycles(env: dict[str, str], processes: int) -> tuple[float, float]:
    """Wall time of ``processes`` poll cycles run at once, and the CPU time they used.

    Each is a fresh process that builds the app first, says so, and starts its cycle when
    told: all start together once all are built (building one takes about a second of CPU;
    started as they come, the first cycle would share the cores with the others' start-up
    and read most handles alone). Only the cycles are timed.
    """
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "_cycle"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    spans = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    wall = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    return wall, sum(s["cpu"] for s in spans)


def _cycle() -> None:
    """Child process: build the app from the environment, say "ready", run one cycle when
    a line comes on stdin, print its span."""
    from connector import create_app
    from connector.hooks.poller import run_cycle

    app = create_app()
    print("ready", flush=True)
    sys.stdin.readline()
    start, cpu = time.time(), time.process_time()
    report = run_cycle(app.extensions["connector"].poll_context)
    done = {"start": start, "end": time.time(), "cpu": time.process_time() - cpu}
    print(json.dumps({**done, **report.as_dict()}))


def poll_cycle(
    upstream: str, env: dict[str, str], base: str, target: str, sizes: list[int], processes: int
) -> list[dict[str, t.Any]]:
    rows = []
    have = 0
    for size in sizes:
        _latency(upstream, 0.0)
        subscribe(base, target, [f"bench{n}" for n in range(have, size)])
        have = size
        timed_cycles(env, 1)  # first reads set each new watch's baseline
        _latency(upstream, LATENCY)
        # The median of three cycles: one cycle's time moved by up to 10 % run to run.
        runs = sorted(timed_cycles(env, processes) for _ in range(CYCLE_RUNS))
        seconds, cpu = runs[len(runs) // 2]
        limit = size * LATENCY / 10
        rows.append(
            {
                "handles": size,
                "seconds": seconds,
                "runs": [wall for wall, _ in runs],
                "limit": limit,
                "ratio": seconds / limit,
                "cpu_seconds": cpu,  # the connector's own, all processes together
            }
        )
    _latency(upstream, 0.0)
    return rows


def _latency(upstream: str, seconds: float) -> None:
    for endpoint in ("profile-videos", "video", "profile"):
        httpx.post(
            f"{upstream}/_sandbox/latency", json={"endpoint": endpoint, "seconds": seconds}
        ).raise_for_status()


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of process ``pid`` and its children alive now (gunicorn's
    workers), from /proc; 0 where /proc is missing."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: ppid
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def cpu_seconds_named(name: str) -> float:
    """CPU time (user and system) of every process called ``name`` (PostgreSQL's server
    processes: the store's share of the work)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            if text.split("(", 1)[1].rsplit(")", 1)[0] == name:
                fields = text.rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


def pss_mb(pid: int) -> float:
    """Proportional memory of process ``pid`` and its children together, in MB: each shared
    page (the interpreter, libraries) counted once across them, unlike RSS."""
    total = 0
    for status in pathlib.Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            lines = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
            if int(status.parent.name) == pid or int(lines["PPid"]) == pid:
                rollup = (status.parent / "smaps_rollup").read_text().splitlines()
                pss = next(line for line in rollup if line.startswith("Pss:"))
                total += int(pss.split()[1])
    return total / 1024


def rss_mb(pid: int) -> list[float]:
    """Resident memory of process ``pid`` and of each of its children, in MB (largest
    first): ``connector serve`` with its workers and multiprocessing's resource tracker."""
    sizes = []
    for status in pathlib.Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError, ValueError):
            lines = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
            if int(status.parent.name) == pid or int(lines["PPid"]) == pid:
                sizes.append(int(lines.get("VmRSS", "0 kB").split()[0]) / 1024)
    return sorted(sizes, reverse=True)


async def _poll_feeds(base: str, callers: int, stop: float) -> tuple[list[float], int]:
    """``callers`` keep-alive connections, each polling its own feed until ``stop``: the
    response times, and how many answers were not 200.

    A bare HTTP/1.1 client on asyncio, one thread: the load must cost the machine as
    little as possible, or it measures itself (20 httpx clients on threads took more CPU
    per request than the connector did).
    """
    host, port = base.removeprefix("http://").split(":")
    times: list[float] = []
    errors = 0

    async def caller(n: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        request = (
            f"GET /v1/triggers/new-video?handle=caller{n} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {KEY}\r\n\r\n"
        ).encode()
        first = True  # the feed's baseline poll is not timed
        while first or time.monotonic() < stop:
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            if not first:
                times.append(time.perf_counter() - began)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
                    print(head.split(b"\r\n")[0], file=sys.stderr)
            first = False
        writer.close()

    await asyncio.gather(*(caller(n) for n in range(callers)))
    return times, errors


def trigger_throughput(
    upstream: str,
    base: str,
    callers: int,
    seconds: float,
    pids: tuple[int, int] | None = None,
    processes: int = 1,
    postgres: bool = False,
) -> dict[str, t.Any]:
    """Callers each poll their own feed as fast as they can; nothing new after the first.

    With ``pids`` (the connector's, the upstream's), also the CPU each side spent per request,
    this process's callers included, and the ceiling that allows: the machine's cores shared
    by all three, and for the connector's ``processes`` one core each at most (a Python
    process runs its Python code on one core at a time).
    """
    _latency(upstream, LATENCY)
    before = [cpu_seconds(pid) for pid in pids or ()]
    before += [time.process_time(), cpu_seconds_named("postgres") if postgres else 0.0]
    started = time.monotonic()
    times, errors = asyncio.run(_poll_feeds(base, callers, started + seconds))
    elapsed = time.monotonic() - started
    after = [cpu_seconds(pid) for pid in pids or ()]
    after += [time.process_time(), cpu_seconds_named("postgres") if postgres else 0.0]
    _latency(upstream, 0.0)
    times.sort()
    rate = len(times) / elapsed
    limit = callers / LATENCY
    cpu: dict[str, float] = {}
    if pids:
        # Per request, in ms; the baselines (one per caller) are few enough to ignore.
        spent = [1000 * (b - a) / len(times) for a, b in zip(before, after, strict=True)]
        cpu = {
            "cpu_ms_connector": spent[0],
            "cpu_ms_upstream": spent[1],
            "cpu_ms_callers": spent[2],
            "cpu_ms_postgres": spent[3],
        }
        cpu["ceiling_req_per_s"] = min(
            1000 * (os.cpu_count() or 1) / sum(spent), 1000 * processes / spent[0]
        )
    return {
        **cpu,
        "callers": callers,
        "requests": len(times),
        "errors": errors,
        "req_per_s": rate,
        "limit": limit,
        "ratio": rate / limit,
        "p50_ms": 1000 * times[len(times) // 2],
        "p99_ms": 1000 * times[int(len(times) * 0.99)],
        "p99_over_p50": times[int(len(times) * 0.99)] / times[len(times) // 2],
    }


def seen_ids_cost(database_url: str, polls: int) -> dict[str, t.Any]:
    """One trigger poll with 10,000 seen ids vs 10 (in-process, no upstream latency, so the
    figure is the connector's own work)."""
    from connector.providers.dumplingai import DumplingAIProvider
    from connector.sandbox import World, create_sandbox_app
    from connector.store import FeedKey, Observed, open_store
    from connector.triggers.new_video import PollSettings, poll

    store = open_store(database_url)
    world = World()
    settings = PollSettings(seen_ids_per_feed=20_000)
    transport = httpx.WSGITransport(app=create_sandbox_app(world))
    feeds = {seen: FeedKey("bench", "API", f"seen{seen}", f"seen{seen}") for seen in (10, 10_000)}
    spans: dict[int, list[float]] = {seen: [] for seen in feeds}
    with httpx.Client(transport=transport, base_url="http://sandbox.invalid") as client:
        provider = DumplingAIProvider(client, api_key="bench", request_source="API")
        for seen, feed in feeds.items():
            poll(provider, store, feed, settings=settings)
            with store.feed(feed) as tx:
                tx.remember(
                    [Observed(str(10**18 + n), 1_000_000 + n) for n in range(seen)], time.time()
                )
            poll(provider, store, feed, settings=settings)
        for _ in range(polls):  # interleaved, so both see the same machine
            for seen, feed in feeds.items():
                began = time.perf_counter()
                poll(provider, store, feed, settings=settings)
                spans[seen].append(time.perf_counter() - began)
    results = {seen: statistics.median(times) for seen, times in spans.items()}
    store.close()
    return {
        "ms_10": 1000 * results[10],
        "ms_10000": 1000 * results[10_000],
        "limit": 1.1,
        "ratio": results[10_000] / results[10],
    }


def action_overhead(upstream: str, base: str, floor: str, calls: int) -> dict[str, t.Any]:
    """get-video through the connector vs the same upstream call made directly, and through
    the pass-through app (``bench/passthrough.py``): what one more hop on this server and
    this HTTP client costs by itself, the floor under any connector's figure here."""
    handle = "action0"
    listed = httpx.get(f"{upstream}/_sandbox/profiles/{handle}/videos").json()
    url = listed[0]["url"]
    _latency(upstream, LATENCY)
    headers = {"Authorization": f"Bearer {KEY}"}
    timed: dict[str, list[float]] = {"direct": [], "passthrough": [], "connector": []}
    with (
        httpx.Client(base_url=upstream, headers=headers, timeout=30) as up,
        httpx.Client(base_url=floor, headers=headers, timeout=30) as through,
        httpx.Client(base_url=base, headers=headers, timeout=30) as conn,
    ):
        calls_by_name = {
            "direct": lambda: up.post("/api/v1/get-tiktok-video", json={"url": url}),
            "passthrough": lambda: through.post("/", json={"url": url}),
            "connector": lambda: conn.post("/v1/actions/get-video", json={"url": url}),
        }
        for call in calls_by_name.values():  # each path's connections opened, untimed
            call().raise_for_status()
        for _ in range(calls):  # interleaved, so all three see the same machine
            for name, call in calls_by_name.items():
                began = time.perf_counter()
                call().raise_for_status()
                timed[name].append(time.perf_counter() - began)
    _latency(upstream, 0.0)
    d, f, c = (statistics.median(timed[name]) for name in ("direct", "passthrough", "connector"))
    return {
        "direct_ms": 1000 * d,
        "passthrough_ms": 1000 * f,
        "passthrough_ratio": f / d,
        "connector_ms": 1000 * c,
        "limit": 1.03,
        "ratio": c / d,
    }


# -- the run ------------------------------------------------------------------------------------


def _postgres() -> contextlib.AbstractContextManager[str] | None:
    from tests import postgres

    if os.environ.get("CONNECTOR_TEST_POSTGRES_URL") is None and postgres._bin() is None:
        return None
    return postgres.server()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer handles and shorter runs")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    opts = parser.parse_args()
    sizes = [10, 50] if opts.quick else [25, 100, 300]
    results = _Results(
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        latency_ms=LATENCY * 1000,
        when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    folder = tempfile.mkdtemp(prefix="connector-bench-")
    sandbox_port, up_port, conn_port = free_port(), free_port(), free_port()
    upstream, base = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{conn_port}"
    floor_port = free_port()
    floor = f"http://127.0.0.1:{floor_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sqlite_url = f"sqlite:///{folder}/bench.db"
    env = connector_env(upstream, sqlite_url)
    run_for = 3 if opts.quick else 6
    with (
        receiver() as target,
        process(
            [sys.executable, __file__, "_sandbox", str(sandbox_port)],
            env,
            f"{sandbox_url}/_sandbox/requests",
        ),
        # The sandbox behind its replaying front (bench/replay.py): the upstream the
        # connector and the direct calls see.
        process(
            [sys.executable, str(ROOT / "bench" / "replay.py"), str(up_port), sandbox_url],
            env,
            f"{upstream}/_replay/stats",
        ) as sandbox,
        process([CONNECTOR, "serve", "--port", str(conn_port)], env, f"{base}/health") as serve,
        process(
            [
                *(GRANIAN, "--interface", "wsgi", "--port", str(floor_port)),
                *("--workers", str(os.cpu_count() or 1), "--blocking-threads", "32"),
                *("--working-dir", str(ROOT / "bench"), "passthrough:app"),
            ],
            {**env, "CONNECTOR_BENCH_UPSTREAM": upstream},
            floor,
        ),
    ):
        results["poll_cycle_sqlite"] = poll_cycle(upstream, env, base, target, sizes, 1)
        pids = (serve.pid, sandbox.pid)
        workers = os.cpu_count() or 1  # connector serve's default: a worker per core
        results["trigger_20"] = trigger_throughput(upstream, base, 20, run_for, pids, workers)
        results["trigger_50"] = trigger_throughput(upstream, base, 50, run_for, pids, workers)
        results["action"] = action_overhead(upstream, base, floor, 20 if opts.quick else 40)
        each = rss_mb(serve.pid)
        results["memory"] = {
            "rss_mb": each[0],
            "rss_mb_all": each,
            "pss_mb_total": pss_mb(serve.pid),
            "limit": 80.0,
        }
        results["seen_ids_sqlite"] = seen_ids_cost(
            f"sqlite:///{folder}/seen.db", 50 if opts.quick else 150
        )
        pg = None if opts.no_postgres else _postgres()
        if pg is not None:
            with pg as admin:
                from tests.postgres import new_database

                pg_url = new_database(admin, "bench")
                pg_env = connector_env(upstream, pg_url)
                with process(
                    [CONNECTOR, "serve", "--port", str(pg_port := free_port())],
                    pg_env,
                    f"http://127.0.0.1:{pg_port}/health",
                ) as pg_serve:
                    pg_base = f"http://127.0.0.1:{pg_port}"
                    results["poll_cycle_postgres_4"] = poll_cycle(
                        upstream, pg_env, pg_base, target, [sizes[-1]], 4
                    )
                    # The README's production setup: connector serve on PostgreSQL.
                    results["trigger_20_postgres"] = trigger_throughput(
                        upstream,
                        pg_base,
                        20,
                        run_for,
                        (pg_serve.pid, sandbox.pid),
                        processes=workers,
                        postgres=True,
                    )
                with process(
                    [*GUNICORN, "--bind", f"127.0.0.1:{(gport := free_port())}"],
                    pg_env,
                    f"http://127.0.0.1:{gport}/health",
                ) as gunicorn:
                    results["trigger_20_gunicorn_postgres"] = trigger_throughput(
                        upstream,
                        f"http://127.0.0.1:{gport}",
                        20,
                        run_for,
                        (gunicorn.pid, sandbox.pid),
                        processes=GUNICORN_WORKERS,
                        postgres=True,
                    )
                results["seen_ids_postgres"] = seen_ids_cost(
                    new_database(admin, "bench_seen"), 50 if opts.quick else 150
                )
        results["upstream_answers"] = httpx.get(f"{upstream}/_replay/stats").json()
    pathlib.Path(opts.out).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    plot(results, pathlib.Path(opts.out).with_name("poll_cycle.png"))


class _Results(dict[str, t.Any]):
    """The figures, each shown on stderr as soon as it is measured."""

    def __setitem__(self, key: str, value: t.Any) -> None:
        print(f"{key}: {json.dumps(value)}", file=sys.stderr, flush=True)
        super().__setitem__(key, value)


def table(r: dict[str, t.Any]) -> str:
    lines = [f"machine: {r['machine']}; upstream latency {r['latency_ms']:g} ms; {r['when']}", ""]
    if "upstream_answers" in r:
        answers = r["upstream_answers"]
        lines[-1:-1] = [
            f"upstream: the sandbox behind its replaying front ({answers['passed']} answers"
            f" from the sandbox, {answers['replayed']} replayed)"
        ]
    lines.append("| measure | measured | limit | ratio |")
    lines.append("|---|---|---|---|")
    for key, label in (
        ("poll_cycle_sqlite", "1 process, SQLite"),
        ("poll_cycle_postgres_4", "4 processes, PostgreSQL"),
    ):
        for row in r.get(key, []):
            lines.append(
                f"| poll cycle, {row['handles']} handles, {label} | {row['seconds']:.2f} s"
                f" (median of {', '.join(f'{wall:.2f}' for wall in row.get('runs', []))};"
                f" {row['cpu_seconds']:.2f} s CPU)"
                f" | {row['limit']:.2f} s | {row['ratio']:.2f}× (goal ≤ 1.2×) |"
            )
    for key, server in (
        ("trigger_20", "`connector serve`, SQLite"),
        ("trigger_50", "`connector serve`, SQLite"),
        ("trigger_20_postgres", "`connector serve`, PostgreSQL"),
        ("trigger_20_gunicorn_postgres", "gunicorn 2×16 threads, PostgreSQL"),
    ):
        if key not in r:
            continue
        row = r[key]
        cpu = ""
        if "cpu_ms_connector" in row:
            store = row["cpu_ms_postgres"]
            cpu = (
                f"; CPU/request: connector {row['cpu_ms_connector']:.1f} ms, upstream"
                f" {row['cpu_ms_upstream']:.1f} ms, callers {row['cpu_ms_callers']:.1f} ms"
                + (f", PostgreSQL {store:.1f} ms" if store else "")
                + f" → this machine's ceiling {row['ceiling_req_per_s']:.0f} req/s"
            )
        lines.append(
            f"| trigger endpoint, {row['callers']} callers, {server} |"
            f" {row['req_per_s']:.0f} req/s, p50 {row['p50_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms"
            f" ({row['errors']} errors{cpu}) | {row['limit']:.0f} req/s"
            f" | {row['ratio']:.2f}× (goal ≥ 0.8×), p99/p50 {row['p99_over_p50']:.1f} (goal ≤ 2) |"
        )
    for key, label in (("seen_ids_sqlite", "SQLite"), ("seen_ids_postgres", "PostgreSQL")):
        if key in r:
            row = r[key]
            lines.append(
                f"| poll with 10,000 seen ids vs 10, {label} | {row['ms_10000']:.1f} ms vs"
                f" {row['ms_10']:.1f} ms | same | {row['ratio']:.2f}× (goal ≤ 1.1×) |"
            )
    row = r["action"]
    lines.append(
        f"| get-video through the connector vs direct | {row['connector_ms']:.1f} ms vs"
        f" {row['direct_ms']:.1f} ms | +0 | {row['ratio']:.3f}× (goal ≤ 1.03×) |"
    )
    if "passthrough_ms" in row:
        lines.append(
            f"| the floor: a pass-through app on the same server and client vs direct"
            f" | {row['passthrough_ms']:.1f} ms vs {row['direct_ms']:.1f} ms | +0"
            f" | {row['passthrough_ratio']:.3f}× |"
        )
    row = r["memory"]
    every = " + ".join(f"{mb:.0f}" for mb in row["rss_mb_all"])
    lines.append(
        f"| `connector serve` memory after the throughput runs, largest process"
        f" | {row['rss_mb']:.0f} MB RSS (each process: {every} MB; all together"
        f" {row.get('pss_mb_total', 0):.0f} MB PSS, shared pages counted once)"
        f" | {row['limit']:.0f} MB | {row['rss_mb'] / row['limit']:.2f}× (goal ≤ 1×) |"
    )
    return "\n".join(lines)


def plot(r: dict[str, t.Any], path: pathlib.Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no plot: pip install -e '.[bench]' for matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = r["poll_cycle_sqlite"]
    handles = [row["handles"] for row in rows]
    ax.plot(handles, [row["seconds"] for row in rows], "o-", label="1 process, SQLite")
    ax.plot(handles, [row["limit"] for row in rows], "--", label="limit (10 in flight)")
    for row in r.get("poll_cycle_postgres_4", []):
        ax.plot([row["handles"]], [row["seconds"]], "s", label="4 processes, PostgreSQL")
    ax.set_xlabel("watched handles")
    ax.set_ylabel(f"poll cycle (s), upstream {r['latency_ms']:g} ms")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot: {path}")


def _sandbox(port: int) -> None:
    """Child process: what ``connector sandbox`` serves (a thread per request)."""
    from connector.sandbox import create_sandbox_app
    from connector.serving import BackgroundServer

    BackgroundServer(create_sandbox_app(), "127.0.0.1", port).serve_forever()


if __name__ == "__main__":
    if sys.argv[1:] == ["_cycle"]:
        _cycle()
    elif sys.argv[1:2] == ["_sandbox"]:
        _sandbox(int(sys.argv[2]))
    else:
        main()
