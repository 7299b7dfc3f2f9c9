"""How fast the new-video dedup runs on each store: polls per second, side by side.

Upstream is the sandbox app called in-process (httpx's WSGI transport), so the numbers
measure the connector's own work: normalizing a page, and the locked decide-and-record
transaction. Run: python bench/poll_store.py [--polls N] [--postgres URL]
Without --postgres it starts a throwaway PostgreSQL like the tests do, when installed.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import sys
import tempfile
import time

import httpx

ROOT = pathlib.Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from connector.providers.dumplingai import DumplingAIProvider  # noqa: E402
from connector.sandbox import World, create_sandbox_app  # noqa: E402
from connector.store import FeedKey, open_store  # noqa: E402
from connector.triggers.new_video import PollSettings, poll  # noqa: E402


def run(url: str, polls: int) -> float:
    """Polls per second over ``polls`` polls of 20 feeds, a new video every 4th poll."""
    world = World()
    store = open_store(url)
    transport = httpx.WSGITransport(app=create_sandbox_app(world))
    with httpx.Client(transport=transport, base_url="http://sandbox.invalid") as client:
        provider = DumplingAIProvider(client, api_key="bench", request_source="API")
        feeds = [FeedKey("bench", "API", f"c{i}", f"bench{i % 5}") for i in range(20)]
        for feed in feeds:  # baselines
            poll(provider, store, feed, settings=PollSettings())
        started = time.perf_counter()
        for n in range(polls):
            feed = feeds[n % len(feeds)]
            if n % 4 == 0:
                world.post_video(feed.handle)
            poll(provider, store, feed, settings=PollSettings())
        elapsed = time.perf_counter() - started
    store.close()
    return polls / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--polls", type=int, default=400)
    parser.add_argument("--postgres", help="postgresql://... of an empty database")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = run(f"sqlite:///{folder}/bench.db", args.polls)
    with contextlib.ExitStack() as stack:
        url = args.postgres
        if url is None:
            sys.path.insert(0, str(ROOT / "tests"))
            try:
                import postgres as pg  # the tests' throwaway server

                admin = stack.enter_context(pg.server())
                url = pg.new_database(admin, "bench")
            except LookupError as exc:
                print(f"postgresql: skipped ({exc})")
        if url is not None:
            results["postgresql"] = run(url, args.polls)
    for name, rate in results.items():
        print(f"{name:<11} {rate:8.1f} polls/s")
    if len(results) == 2:
        print(f"sqlite / postgresql: {results['sqlite'] / results['postgresql']:.2f}x")


if __name__ == "__main__":
    main()
