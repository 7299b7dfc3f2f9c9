"""Upstream calls per day for watched handles, every one polled at the base gap (before) or
polled by the cadence rules of connector/hooks/cadence.py (after), and how late new videos
are read.

A simulated day of poll cycles over a mix of handles that post at random (Poisson) times:
a few post many times a day, most weekly or less, some not at all, and some whose account is
gone (every read fails with upstream's 404). A third run keeps the quiet handles' rule but
retries failed reads after the base gap, as before failing handles backed off. Cycles run every
``--interval`` seconds, as the scheduler inside ``connector serve`` does; a handle is read
by the first cycle at or after it is due, and is due again when the rule says, counted from
that read, exactly as the store's release and claim do it. A simulated warm-up day comes
first, so the day measured starts with every handle already at its own pace.

Run: python bench/cadence.py [--handles N] [--seed S]; writes bench/cadence.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import heapq
import json
import math
import pathlib
import random
import statistics
import sys

ROOT = pathlib.Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from connector.config import Settings  # noqa: E402
from connector.hooks.cadence import GRACE, SLOWDOWN, next_poll_at, retry_delay  # noqa: E402

DAY = 86400.0


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    share: float  # of all handles
    posts_per_day: float
    gone: bool = False  # every read fails for a lasting reason (the account is deleted)


# What a watch list looks like: a few prolific accounts, a body of occasional posters and a
# tail that has gone silent, a few of those deleted (subscriptions outlive the accounts).
MIX = (
    Kind("several a day", 0.03, 8.0),
    Kind("about daily", 0.12, 1.0),
    Kind("about weekly", 0.45, 1 / 7),
    Kind("about monthly", 0.25, 1 / 30),
    Kind("dormant", 0.13, 0.0),
    Kind("deleted", 0.02, 0.0, gone=True),
)


@dataclasses.dataclass
class Handle:
    kind: Kind
    posts: list[float]  # posting times, ascending
    active_at: float  # when a read last found something new (or the subscription began)


def make_handles(count: int, span: float, rng: random.Random) -> list[Handle]:
    handles = []
    for kind in MIX:
        for _ in range(round(count * kind.share)):
            rate = kind.posts_per_day / DAY
            posts, at = [], 0.0
            while rate and (at := at + rng.expovariate(rate)) < span:
                posts.append(at)
            # Before the simulation began the handle posted as it always does: its last post
            # is as old as a Poisson process makes it (long ago for a dormant one).
            last = -rng.expovariate(rate) if rate else -365 * DAY
            handles.append(Handle(kind, posts, last))
    return handles


@dataclasses.dataclass
class Outcome:
    calls: int  # upstream reads within the day measured
    calls_by_kind: dict[str, int]
    delays: list[float]  # seconds from posting to the read that found it, for the day's posts


def simulate(
    handles: list[Handle],
    *,
    interval: float,
    base_gap: float,
    max_delay: float,
    warmup: float,
    read_seconds: float,
    back_off: bool = True,
) -> Outcome:
    """Cycles every ``interval`` seconds from 0; counts what happens in [warmup, warmup+DAY).
    A read is released ``read_seconds`` after its cycle began (the poll's own time). A gone
    handle's failed reads back off (``back_off``) or are retried after the base gap."""
    end = warmup + DAY
    horizon = end + max(base_gap, max_delay) + 2 * interval  # the day's last posts get read
    calls = 0
    by_kind = {kind.name: 0 for kind in MIX}
    delays: list[float] = []
    # (cycle index of the next read, handle index); every handle is due at the first cycle.
    due = [(0, i) for i in range(len(handles))]
    heapq.heapify(due)
    seen = [0] * len(handles)  # posts already read, per handle
    active = [h.active_at for h in handles]
    failing_since: list[float | None] = [None] * len(handles)
    while due:
        cycle, i = heapq.heappop(due)
        now = cycle * interval
        if now > horizon:
            break
        handle = handles[i]
        if warmup <= now < end:
            calls += 1
            by_kind[handle.kind.name] += 1
        fresh = 0
        while seen[i] + fresh < len(handle.posts) and handle.posts[seen[i] + fresh] <= now:
            posted = handle.posts[seen[i] + fresh]
            if warmup <= posted < end:
                delays.append(now - posted)
            fresh += 1
        seen[i] += fresh
        if fresh:
            active[i] = now
        # The store's release and claim: due at next_poll_at, read by the first cycle then.
        released = now + read_seconds
        if handle.kind.gone:
            since = failing_since[i] = failing_since[i] or released
            wait = retry_delay(released - since, base_gap=base_gap, max_delay=max_delay)
            at = released + (wait if back_off else base_gap)
        else:
            at = next_poll_at(released, active[i], base_gap=base_gap, max_delay=max_delay)
        heapq.heappush(due, (max(cycle + 1, math.ceil(at / interval - 1e-9)), i))
    return Outcome(calls, by_kind, delays)


def summary(outcome: Outcome) -> dict[str, object]:
    delays = sorted(outcome.delays)
    return {
        "calls_per_day": outcome.calls,
        "calls_per_day_by_kind": outcome.calls_by_kind,
        "new_videos": len(delays),
        "detection_delay_s": {
            "median": round(statistics.median(delays), 1) if delays else None,
            "p95": round(delays[int(0.95 * (len(delays) - 1))], 1) if delays else None,
            "worst": round(delays[-1], 1) if delays else None,
        },
    }


def main() -> None:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--interval", type=float, default=defaults.poll_interval)
    parser.add_argument("--min-gap", type=float, default=defaults.poll_min_gap)
    parser.add_argument("--max-delay", type=float, default=defaults.poll_max_delay)
    parser.add_argument("--read-seconds", type=float, default=1.0, help="one poll's duration")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "cadence.json")
    args = parser.parse_args()
    handles = make_handles(args.handles, 2 * DAY + 2 * args.max_delay, random.Random(args.seed))
    day = functools.partial(
        simulate,
        handles,
        interval=args.interval,
        base_gap=args.min_gap,
        warmup=DAY,
        read_seconds=args.read_seconds,
    )
    runs = {
        # The adaptation off: every handle at the base gap.
        "before": day(max_delay=args.min_gap),
        "after": day(max_delay=args.max_delay),
        "after, failed reads not backed off": day(max_delay=args.max_delay, back_off=False),
    }
    result = {
        "handles": len(handles),
        "mix": [dataclasses.asdict(kind) for kind in MIX],
        "seed": args.seed,
        "poll_interval_s": args.interval,
        "poll_min_gap_s": args.min_gap,
        "poll_max_delay_s": args.max_delay,
        "read_seconds": args.read_seconds,
        "rule": {"grace_s": GRACE, "slowdown": SLOWDOWN},
        # A new video waits at most the longest delay for the next read to be due, then at
        # most one interval for the cycle that reads it.
        "worst_case_detection_delay_s": max(args.min_gap, args.max_delay) + args.interval,
        **{name: summary(outcome) for name, outcome in runs.items()},
    }
    before, after = runs["before"].calls, runs["after"].calls
    result["calls_saved"] = round(1 - after / before, 4) if before else None
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(
        f"{len(handles)} handles, a cycle every {args.interval:g} s, base gap {args.min_gap:g} s,"
        f" max delay {args.max_delay:g} s"
    )
    print(f"{'':<36}{'calls/day':>12}{'median delay':>15}{'p95 delay':>12}{'worst delay':>13}")
    for name, outcome in runs.items():
        d = summary(outcome)["detection_delay_s"]
        assert isinstance(d, dict)
        print(
            f"{name:<36}{outcome.calls:>12,}{d['median']:>13} s{d['p95']:>10} s{d['worst']:>11} s"
        )
    print(f"calls saved: {result['calls_saved']:.1%}")
    print(f"worst case by construction: {result['worst_case_detection_delay_s']:g} s")
    for kind in MIX:
        b, a = runs["before"].calls_by_kind[kind.name], runs["after"].calls_by_kind[kind.name]
        unbacked = runs["after, failed reads not backed off"].calls_by_kind[kind.name]
        count = round(len(handles) * kind.share)
        print(
            f"  {kind.name:<15} {count:>5} handles: {b / count:>7.1f} -> {a / count:>6.1f}"
            f" calls/day each (without the back-off: {unbacked / count:.1f})"
        )
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
