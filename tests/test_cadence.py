"""Quiet handles are polled less often, and so are handles whose polls keep failing for a
lasting reason: the cadence rules, the store's claims and releases, the schema migration,
and poll cycles against the sandbox upstream (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import time
import typing as t

import httpx
import pytest

from connector.errors import (
    ConnectorError,
    ProviderAuthFailed,
    ProviderInvalidResponse,
    ProviderNotFound,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
    StoreUnavailable,
)
from connector.hooks.cadence import (
    GRACE,
    backoff,
    deferral,
    is_lasting,
    next_poll_at,
    poll_delay,
    retry_delay,
)
from connector.sandbox import World
from connector.serving import BackgroundServer
from connector.store import Store, WatchKey, open_store
from connector.store.activity import Activity

from .conftest import KEY, fault
from .operator_console import serve_console
from .receiver import Receiver
from .records import add, subscription
from .test_hooks import HOOK_SETTINGS, Hooks

BASE = 30.0
MAX = 3600.0
DAY = 86400.0
DEFER = deferral(BASE, MAX)
BACKOFF = backoff(BASE, MAX)


# -- the rule ---------------------------------------------------------------------------------


def test_a_handle_active_within_the_grace_is_polled_at_the_base_gap() -> None:
    for quiet in (0.0, 1.0, 600.0, GRACE):
        assert poll_delay(quiet, base_gap=BASE, max_delay=MAX) == BASE
    assert poll_delay(-DAY, base_gap=BASE, max_delay=MAX) == BASE, "a clock step slows nothing"


def test_a_long_quiet_handle_waits_the_maximum_and_no_longer() -> None:
    assert BASE < poll_delay(GRACE + 60, base_gap=BASE, max_delay=MAX) < MAX
    for quiet in (25 * 3600.0, 7 * DAY, 365 * DAY, 1e12):
        assert poll_delay(quiet, base_gap=BASE, max_delay=MAX) == MAX
    assert poll_delay(30 * DAY, base_gap=BASE, max_delay=6 * 3600) == 6 * 3600


def test_the_wait_never_shrinks_as_quiet_grows() -> None:
    waits = [poll_delay(q * 61.7, base_gap=BASE, max_delay=MAX) for q in range(3000)]
    assert all(a <= b for a, b in zip(waits, waits[1:], strict=False))
    assert waits[0] == BASE and waits[-1] == MAX and len(set(waits)) > 100


def test_a_maximum_at_most_the_base_gap_turns_the_adaptation_off() -> None:
    for maximum in (BASE, 10.0, 0.0):
        assert poll_delay(30 * DAY, base_gap=BASE, max_delay=maximum) == BASE
    assert poll_delay(30 * DAY, base_gap=0.0, max_delay=0.0) == 0.0


def test_next_poll_at_counts_quiet_from_the_last_activity() -> None:
    assert next_poll_at(5000.0, None, base_gap=BASE, max_delay=MAX) == 5000.0 + BASE
    assert next_poll_at(5000.0, 4000.0, base_gap=BASE, max_delay=MAX) == 5000.0 + BASE
    assert next_poll_at(3 * DAY, 0.0, base_gap=BASE, max_delay=MAX) == 3 * DAY + MAX
    assert DEFER(3 * DAY) == MAX - BASE and DEFER(0.0) == 0.0


def test_a_lasting_failure_waits_as_long_again_as_the_polls_have_been_failing() -> None:
    assert retry_delay(0.0, base_gap=BASE, max_delay=MAX) == BASE, "first failure: base gap"
    assert retry_delay(-DAY, base_gap=BASE, max_delay=MAX) == BASE, "a clock step"
    assert retry_delay(BASE, base_gap=BASE, max_delay=MAX) == BASE
    assert retry_delay(250.0, base_gap=BASE, max_delay=MAX) == 250.0
    assert retry_delay(7 * DAY, base_gap=BASE, max_delay=MAX) == MAX
    assert retry_delay(7 * DAY, base_gap=BASE, max_delay=BASE) == BASE, "adaptation off"
    assert BACKOFF(0.0) == 0.0 and BACKOFF(250.0) == 250.0 - BASE and BACKOFF(DAY) == MAX - BASE


@pytest.mark.parametrize(
    ("error", "lasting"),
    [
        # The documented answers for an account that is gone or private (404), a revoked
        # key (401) and spent credits (402): see the providers' contracts and errors.py.
        (ProviderNotFound("TikTok profile not found for handle: gone"), True),
        (ProviderAuthFailed("API key is invalid or missing."), True),
        (ProviderOutOfCredits("Insufficient credits. Please top up your account."), True),
        # What a retry may well get past.
        # A 400 after subscribing: most likely a later page's cursor upstream let expire.
        (ProviderRejectedInput("Invalid cursor"), False),
        (ProviderTimeout("did not answer in time"), False),
        (ProviderUnavailable("upstream 503"), False),
        (ProviderRateLimited("slow down", retry_after=30), False),
        (ProviderInvalidResponse("not JSON"), False),
        (StoreUnavailable("the store is down"), False),
        (ConnectorError("unexpected"), False),
    ],
)
def test_only_failures_a_retry_would_repeat_back_off(error: ConnectorError, lasting: bool) -> None:
    assert is_lasting(error) is lasting


# -- the store --------------------------------------------------------------------------------

T = 3 * DAY  # the subscriptions below were added at t=1: by T their handles are long quiet


@pytest.fixture
def store(any_db_url: str) -> t.Iterator[Store]:
    opened = open_store(any_db_url)
    yield opened
    opened.close()


def claim(store: Store, now: float, owner: str = "w") -> list[str]:
    return sorted(k.handle for k in store.claim_watches(owner, now=now, lease=60, min_gap=BASE))


def watch(handle: str) -> WatchKey:
    return WatchKey("tenant-a", "", handle)


def test_a_quiet_watch_is_due_only_once_its_longer_delay_has_passed(store: Store) -> None:
    add(store, subscription("sub_q", handle="quiet"))
    add(store, subscription("sub_b", handle="busy"))
    assert claim(store, T) == ["busy", "quiet"]
    store.release_watches(
        "w", [(watch("quiet"), T), (watch("busy"), T)], found_new=[watch("busy")], defer=DEFER
    )
    assert claim(store, T + BASE) == ["busy"]
    store.release_watch(watch("busy"), "w", polled_at=T + BASE, defer=DEFER)
    assert claim(store, T + MAX - 1) == ["busy"]
    store.release_watch(watch("busy"), "w", polled_at=T + MAX - 1, defer=DEFER)
    assert claim(store, T + MAX) == ["quiet"]


def test_a_failed_poll_never_pushes_the_next_poll_further_out(store: Store) -> None:
    add(store, subscription("sub_q", handle="quiet"))
    assert claim(store, T) == ["quiet"]
    store.release_watch(watch("quiet"), "w", polled_at=T, failed=True, defer=DEFER)
    assert claim(store, T + BASE) == ["quiet"], "a failure is retried after the base gap"
    # It kept the handle's quiet (since t=1) as it was: the next poll that works slows it.
    store.release_watch(watch("quiet"), "w", polled_at=T + BASE, defer=DEFER)
    assert claim(store, T + 2 * BASE) == []
    assert claim(store, T + BASE + MAX) == ["quiet"]


def fail_lastingly(store: Store, handle: str, at: float) -> None:
    assert claim(store, at) == [handle]
    store.release_watch(watch(handle), "w", polled_at=at, lasting=True, backoff=BACKOFF)


def test_a_handle_failing_for_a_lasting_reason_waits_twice_as_long_each_time(
    store: Store,
) -> None:
    add(store, subscription("sub_g", handle="gone"))
    assert claim(store, T) == ["gone"]
    at, waits = T, []
    for _ in range(12):
        store.release_watch(watch("gone"), "w", polled_at=at, lasting=True, backoff=BACKOFF)
        due = at + 1.0
        while not claim(store, due):  # the first second it is due again: claimed then
            due += 1.0
        waits.append(due - at)
        at = due
    assert waits[:5] == [BASE, BASE, 2 * BASE, 4 * BASE, 8 * BASE]
    assert waits[-1] == MAX and max(waits) == MAX, waits


def test_a_transient_failure_neither_ends_nor_lengthens_a_back_off(store: Store) -> None:
    add(store, subscription("sub_g", handle="gone"))
    fail_lastingly(store, "gone", T)
    fail_lastingly(store, "gone", T + BASE)
    fail_lastingly(store, "gone", T + 2 * BASE)
    assert claim(store, T + 4 * BASE - 1) == []
    assert claim(store, T + 4 * BASE) == ["gone"]
    store.release_watch(watch("gone"), "w", polled_at=T + 4 * BASE, failed=True, backoff=BACKOFF)
    assert claim(store, T + 5 * BASE) == ["gone"], "a timeout is retried after the base gap"
    store.release_watch(watch("gone"), "w", polled_at=T + 5 * BASE, lasting=True, backoff=BACKOFF)
    # Failing since T: the wait goes on growing from there.
    assert claim(store, T + 10 * BASE - 1) == []
    assert claim(store, T + 10 * BASE) == ["gone"]


def test_a_poll_that_works_ends_the_back_off(store: Store) -> None:
    add(store, subscription("sub_g", handle="back"))
    for at in (T, T + BASE, T + 2 * BASE, T + 4 * BASE):
        fail_lastingly(store, "back", at)
    assert claim(store, T + 8 * BASE) == ["back"]
    store.release_watch(watch("back"), "w", polled_at=T + 8 * BASE, found_new=True, defer=DEFER)
    fail_lastingly(store, "back", T + 9 * BASE)
    assert claim(store, T + 10 * BASE) == ["back"], "failing anew: the base gap first"


def test_a_new_subscription_ends_the_back_off(store: Store) -> None:
    add(store, subscription("sub_1", handle="gone"))
    for at in (T, T + BASE, T + 2 * BASE, T + 4 * BASE, T + 8 * BASE):
        fail_lastingly(store, "gone", at)
    assert claim(store, T + 9 * BASE) == []
    store.add_subscription(  # say, with the subscriber's new key
        subscription("sub_2", handle="gone"),
        tenant_key=b"\x01sealed-key",
        baseline=[],
        floor=0,
        now=T + 8 * BASE + 1,
    )
    fail_lastingly(store, "gone", T + 9 * BASE)
    assert claim(store, T + 10 * BASE) == ["gone"], "failing anew: the base gap first"


def test_a_new_subscription_brings_a_slowed_watch_back_to_the_base_gap(store: Store) -> None:
    add(store, subscription("sub_1", handle="quiet"))
    assert claim(store, T) == ["quiet"]
    store.release_watch(watch("quiet"), "w", polled_at=T, defer=DEFER)
    assert claim(store, T + BASE) == []
    store.add_subscription(
        subscription("sub_2", handle="quiet"),
        tenant_key=b"\x01sealed-key",
        baseline=[],
        floor=0,
        now=T + 10,
    )
    assert claim(store, T + BASE) == ["quiet"]
    store.release_watch(watch("quiet"), "w", polled_at=T + BASE, defer=DEFER)
    assert claim(store, T + 2 * BASE) == ["quiet"], "active since it gained a subscriber"


def test_make_due_polls_a_slowed_watch_at_the_next_cycle(store: Store) -> None:
    add(store, subscription("sub_q", handle="quiet"))
    assert claim(store, T) == ["quiet"]
    store.release_watch(watch("quiet"), "w", polled_at=T, defer=DEFER)
    assert claim(store, T + 60) == []
    Activity(store).make_due(watch("quiet"))
    assert claim(store, T + 60) == ["quiet"]


def test_migrating_from_the_previous_schema_keeps_every_watch_due_as_before(
    any_db_url: str,
) -> None:
    if any_db_url.startswith("sqlite"):
        from connector.store.sqlite import SQLiteStore as Backend
    else:
        from connector.store.postgres import PostgresStore as Backend  # type: ignore[assignment]

    class Previous(Backend):
        MIGRATIONS = Backend.MIGRATIONS[:6]

    old = Previous(any_db_url)
    assert old.migrate() == 6
    with old._transaction() as sql:
        sql.many(
            "INSERT INTO watches (tenant, provider, handle, last_polled_at) VALUES (?, ?, ?, ?)",
            [
                ("tenant-a", "", "never", None),
                ("tenant-a", "", "long.ago", 100.0),
                ("tenant-a", "", "recent", T - 10),
            ],
        )
    old.close()
    store = open_store(any_db_url)
    try:
        assert store.migrate() == 8
        assert claim(store, T, owner="a") == ["long.ago", "never"]
        assert claim(store, T + BASE - 10, owner="b") == ["recent"]
        # Nothing known about their activity yet: the first poll starts counting the quiet.
        store.release_watch(watch("recent"), "b", polled_at=T + 30, defer=DEFER)
        assert claim(store, T + 30 + BASE, owner="c") == ["recent"]
    finally:
        store.close()


# -- poll cycles against the sandbox upstream -------------------------------------------------

MAX_DELAY = 2.0  # seconds: short enough to wait for in a test


@contextlib.contextmanager
def serving_hooks(
    make_app: t.Callable[..., t.Any], root: str, receiver: Receiver, **settings: t.Any
) -> t.Iterator[Hooks]:
    app = make_app(**{**HOOK_SETTINGS, **settings}, POLL_MAX_DELAY=MAX_DELAY)
    with (
        BackgroundServer(app) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        ) as http,
    ):
        yield Hooks(app, http, receiver, root)
    app.extensions["connector"].store.close()


@pytest.fixture
def hooks(
    make_app: t.Callable[..., t.Any],
    any_db_url: str,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
) -> t.Iterator[Hooks]:
    with serving_hooks(
        make_app, receiver_server[1].url, receiver, DATABASE_URL=any_db_url
    ) as serving:
        yield serving


def quiet_for(app: t.Any, handle: str, seconds: float) -> None:
    """As if nothing new had shown on ``handle`` for ``seconds`` before now."""
    store = app.extensions["connector"].store
    with store._transaction() as sql:
        sql.run("UPDATE watches SET active_at = active_at - ? WHERE handle = ?", (seconds, handle))


def polled(world: World, handle: str) -> int:
    return sum(1 for r in world.requests("profile-videos") if handle in str(r.body))


def test_a_quiet_handle_is_skipped_until_its_delay_passes_an_active_one_every_cycle(
    hooks: Hooks, world: World
) -> None:
    hooks.subscribe("busy", handle="busy.one")
    hooks.subscribe("quiet", handle="quiet.one")
    quiet_for(hooks.app, "quiet.one", 2 * DAY)
    assert hooks.cycle()["watched"] == 2
    slowed_at = time.time()
    quiet_reads = polled(world, "quiet.one")
    for _ in range(3):
        world.post_video("busy.one")
        report = hooks.cycle()
        assert report["watched"] == 1 and report["queued"] == 1
    assert polled(world, "quiet.one") == quiet_reads
    assert time.time() < slowed_at + MAX_DELAY, "the cycles above ran within the delay"
    time.sleep(slowed_at + MAX_DELAY - time.time() + 0.05)
    assert hooks.cycle()["watched"] == 2
    assert polled(world, "quiet.one") == quiet_reads + 1
    assert len(hooks.receiver.all("busy")) == 3


def test_a_new_video_on_a_slowed_handle_is_delivered_once_and_speeds_it_up(
    hooks: Hooks, world: World
) -> None:
    hooks.subscribe("slowed", handle="quiet.two")
    quiet_for(hooks.app, "quiet.two", 2 * DAY)
    assert hooks.cycle()["watched"] == 1
    slowed_at = time.time()
    video = world.post_video("quiet.two").id
    assert hooks.cycle()["watched"] == 0
    assert hooks.receiver.all("slowed") == []
    time.sleep(max(0.0, slowed_at + MAX_DELAY - time.time() + 0.05))
    report = hooks.cycle()
    assert report["watched"] == 1 and report["queued"] == 1 and report["delivered"] == 1
    for _ in range(3):  # active again: read every cycle, nothing delivered twice
        report = hooks.cycle()
        assert report["watched"] == 1 and report["queued"] == 0
    assert [b["id"] for b in hooks.receiver.bodies("slowed")] == [video]


def test_make_due_lets_the_next_cycle_read_a_slowed_handle(hooks: Hooks, world: World) -> None:
    hooks.subscribe("made-due", handle="quiet.three")
    quiet_for(hooks.app, "quiet.three", 2 * DAY)
    hooks.cycle()
    video = world.post_video("quiet.three").id
    assert hooks.cycle()["watched"] == 0
    store = hooks.app.extensions["connector"].store
    (key,) = {s.watch for s in store.subscriptions()}
    Activity(store).make_due(key)
    report = hooks.cycle()
    assert report["watched"] == 1 and report["delivered"] == 1
    assert [b["id"] for b in hooks.receiver.bodies("made-due")] == [video]


def test_the_console_shows_when_a_slowed_or_backing_off_handle_is_next_read(
    make_app: t.Callable[..., t.Any],
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
    world: World,
) -> None:
    with serve_console(make_app, receiver, receiver_server[1].url) as console:
        console.sign_in()
        console.subscribe("shown", handle="quiet.four")
        console.subscribe("gone", handle="gone.four")
        quiet_for(console.app, "quiet.four", 2 * DAY)
        fault(world, endpoint="profile-videos", handle="gone.four", status=404, times=10)
        console.cycle()  # gone.four's first failure: retried after the base gap (0 s here)
        with console.rt.store._transaction() as sql:  # as if failing for two days
            sql.run("UPDATE watches SET failing_since = failing_since - ?", (2 * DAY,))
        console.cycle()
        rows = console.text("/console/handles")
        assert "@quiet.four" in rows and "in 60 min · slowed" in rows
        assert "@gone.four" in rows and "in 60 min · backing off: failing" in rows
        assert "TikTok profile not found for handle: gone.four" in rows
        quiet = next(s.watch for s in console.rt.store.subscriptions() if s.handle == "quiet.four")
        Activity(console.rt.store).make_due(quiet)
        assert "due (next cycle)" in console.text("/console/handles")


GAP = 0.4  # seconds: the base gap of the cycles below


def watch_row(app: t.Any, handle: str) -> tuple[float, float, float | None]:
    """(last polled at, gap from, failing since) of ``handle``'s watch."""
    with app.extensions["connector"].store._transaction(write=False) as sql:
        row = sql.one(
            "SELECT last_polled_at, gap_from, failing_since FROM watches WHERE handle = ?",
            (handle,),
        )
    return row[0], row[1], row[2]


def reads_at(world: World, handle: str) -> list[float]:
    return [r.at for r in world.requests("profile-videos") if handle in str(r.body)]


def test_a_deleted_account_is_read_less_and_less_often_until_it_answers_again(
    make_app: t.Callable[..., t.Any],
    any_db_url: str,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
    world: World,
) -> None:
    with serving_hooks(
        make_app, receiver_server[1].url, receiver, DATABASE_URL=any_db_url, POLL_MIN_GAP=GAP
    ) as hooks:
        hooks.subscribe("gone", handle="gone.one")
        hooks.subscribe("alive", handle="alive.one")
        # The account is deleted after the subscription: upstream answers its documented
        # 404 "TikTok profile not found for handle" (the profile-videos contract).
        fault(world, endpoint="profile-videos", handle="gone.one", status=404, times=1000)
        start = time.time()
        while time.time() < start + 2.7:
            hooks.cycle()
            time.sleep(0.02)
        gone = [at for at in reads_at(world, "gone.one") if at >= start]
        alive = [at for at in reads_at(world, "alive.one") if at >= start]
        # Read at 0, 0.4, 0.8 and 1.6 s (each wait as long as the failures so far), while
        # the live account is read every 0.4 s.
        assert len(alive) >= 6 and 3 <= len(gone) <= 4, (gone, alive)
        waits = [b - a for a, b in zip(gone, gone[1:], strict=False)]
        assert waits[-1] >= 1.5 * waits[0], waits
        last, gap_from, since = watch_row(hooks.app, "gone.one")
        assert since is not None and since < last
        assert gap_from + GAP - last == pytest.approx(min(MAX_DELAY, last - since))
        assert hooks.receiver.all("gone") == []

        # The account is back (say it was private for a while): the read due next works,
        # finds what was posted meanwhile, and the handle is read every base gap again.
        world.clear_faults()
        video = world.post_video("gone.one").id
        time.sleep(max(0.0, gap_from + GAP - time.time()) + 0.05)
        report = hooks.cycle()
        assert report["failed"] == 0 and report["delivered"] == 1
        last, gap_from, since = watch_row(hooks.app, "gone.one")
        assert since is None and gap_from == last
        assert [b["id"] for b in hooks.receiver.bodies("gone")] == [video]
