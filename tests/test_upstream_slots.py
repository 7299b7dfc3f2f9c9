"""Upstream slots across processes: on one machine (a SQLite store): what `connector serve`'s
workers, its scheduler and `connector poll` from cron share. API Direct's contract allows 3
simultaneous requests (seed 001); several processes together must not exceed that."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pathlib
import signal
import time
import typing as t

import pytest

from connector.errors import ProviderRateLimited
from connector.providers.limits import FileSlots

KEY = ("apidirect", "video", "key-fingerprint")
LIMIT = 3


def _hold_and_count(slots: str, holding: str, seconds: float, rounds: int) -> None:
    """Child process: three threads each take a slot ``rounds`` times; while holding one, a
    thread writes a marker and records how many markers exist."""
    import concurrent.futures

    limits = FileSlots(slots)

    def one(thread: int) -> None:
        for n in range(rounds):
            with limits.hold(KEY, LIMIT, wait=30):
                marker = pathlib.Path(holding, f"held-{os.getpid()}-{thread}-{n}")
                marker.touch()
                seen = len(list(pathlib.Path(holding).glob("held-*")))
                pathlib.Path(holding, f"seen-{os.getpid()}-{thread}-{n}.txt").write_text(str(seen))
                time.sleep(seconds)
                marker.unlink()

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        list(pool.map(one, range(3)))


def test_processes_together_never_hold_more_slots_than_the_limit(tmp_path: pathlib.Path) -> None:
    holding = tmp_path / "holding"
    holding.mkdir()
    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(target=_hold_and_count, args=(str(tmp_path / "slots"), str(holding), 0.05, 3))
        for _ in range(3)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    seen = [int(p.read_text()) for p in holding.glob("seen-*.txt")]
    assert len(seen) == 27  # 3 processes × 3 threads × 3 rounds, none refused
    # Nine threads wanted a slot at once: three held one at a time, never more.
    assert max(seen) == LIMIT


def _hold_forever(slots: str, ready: t.Any) -> None:
    with FileSlots(slots).hold(KEY, 1, wait=5):
        ready.set()
        time.sleep(60)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_slot_held_by_a_process_that_dies_frees_at_once(tmp_path: pathlib.Path) -> None:
    slots = str(tmp_path / "slots")
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    holder = spawn.Process(target=_hold_forever, args=(slots, ready))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(ProviderRateLimited), FileSlots(slots).hold(KEY, 1, wait=0.2):
            pass  # taken by the other process
    finally:
        os.kill(t.cast(int, holder.pid), signal.SIGKILL)  # no release, no clean-up
        holder.join(10)
    with FileSlots(slots).hold(KEY, 1, wait=0.5):
        pass


@pytest.mark.postgres
def _advisory_locks(postgres_url: str) -> int:
    """Advisory locks held in this test's own database (others run beside it)."""
    import psycopg

    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
        return int(t.cast(tuple[int], row)[0])


@pytest.fixture
def two_workers(postgres_url: str) -> t.Iterator[tuple[t.Any, t.Any]]:
    """The PostgreSQL slots of two workers: a store, so a pool, each."""
    from connector.providers.limits import PostgresSlots
    from connector.store.postgres import PostgresStore

    workers = [PostgresStore(postgres_url), PostgresStore(postgres_url)]
    try:
        yield PostgresSlots(workers[0].pool), PostgresSlots(workers[1].pool)
    finally:
        for store in workers:
            store.close()


def test_postgres_slots_take_one_lock_and_wake_a_waiter_when_one_frees(postgres_url: str) -> None:
    """The one-statement take locks one slot, not every free one; a holder waiting while
    all are taken (first in line) gets one as soon as it is released."""
    import threading

    import psycopg

    from connector.providers.limits import PostgresSlots
    from connector.store.postgres import PostgresStore

    store = PostgresStore(postgres_url)
    slots = PostgresSlots(store.pool)
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)

    def advisory_locks() -> int:
        with psycopg.connect(url) as watcher:
            row = watcher.execute(  # this test's own database: others run beside it
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            return int(t.cast(tuple[int], row.fetchone())[0])

    try:
        with slots.hold(KEY, 5, wait=1):
            assert advisory_locks() == 1
        assert advisory_locks() == 0
        # Both slots held by other processes' sessions (here: two plain connections).
        others = [psycopg.connect(url, autocommit=True) for _ in range(2)]
        from connector.providers.limits import _slot_lock

        for number, other in enumerate(others):
            other.execute("SELECT pg_advisory_lock(%s, %s)", (_slot_lock(KEY), number))
        got: list[float] = []

        def waiter() -> None:
            with slots.hold(KEY, 2, wait=10):
                got.append(time.monotonic())

        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.6)  # waiting in line all along
        assert not got
        released = time.monotonic()
        others[0].close()  # its process died: the slot frees
        others[1].close()
        thread.join(10)
        assert got and got[0] - released < 0.4
    finally:
        store.close()


def test_postgres_slots_a_waiter_hears_a_slot_another_worker_frees(
    two_workers: tuple[t.Any, t.Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder that frees a slot announces it: the line's first takes it at once, not at
    its next look (made 30 s here, longer than it may wait)."""
    import threading

    from connector.providers.limits import PostgresSlots

    monkeypatch.setattr(PostgresSlots, "RECHECK", 30.0)
    theirs, mine = two_workers
    holding, release = threading.Event(), threading.Event()
    got: list[float] = []

    def holder() -> None:
        with theirs.hold(KEY, 1, wait=5):
            holding.set()
            release.wait(20)

    def waiter() -> None:
        with mine.hold(KEY, 1, wait=20):
            got.append(time.monotonic())

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    try:
        threads[0].start()
        assert holding.wait(10)
        threads[1].start()
        time.sleep(0.5)  # in line, listening
        assert not got
        released = time.monotonic()
        release.set()
        threads[1].join(25)
        assert got and got[0] - released < 5
    finally:
        release.set()
        for thread in threads:
            thread.join(25)


def test_postgres_slots_of_two_workers_together_never_exceed_the_limit(
    two_workers: tuple[t.Any, t.Any], postgres_url: str
) -> None:
    """Two workers (a pool each), three threads each, limit 3: together they hold at most
    three slots at once, and do reach three."""
    import concurrent.futures
    import threading

    from connector.providers.limits import PostgresSlots

    first, second = two_workers
    count_lock = threading.Lock()
    holding, most = 0, 0

    def one(limits: PostgresSlots) -> None:
        nonlocal holding, most
        for _ in range(8):
            with limits.hold(KEY, LIMIT, wait=30):
                with count_lock:
                    holding += 1
                    most = max(most, holding)
                time.sleep(0.02)
                with count_lock:
                    holding -= 1

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        list(pool.map(one, [first] * 3 + [second] * 3))
    assert most == LIMIT
    # Every slot freed once its last holder is done: none left passed on to nobody.
    assert _advisory_locks(postgres_url) == 0


def test_postgres_slots_a_wait_that_times_out_leaves_the_pooled_connection_clean(
    postgres_url: str,
) -> None:
    """Given up first in line, or while queueing behind the first: the pooled connection
    goes back listening to nothing, with no lock and no lock timeout left on it."""
    import psycopg

    from connector.providers.limits import PostgresSlots, _slot_lock
    from connector.store.postgres import PostgresStore

    store = PostgresStore(postgres_url, pool_size=1)  # the one connection hold() uses
    slots = PostgresSlots(store.pool)
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    others = [psycopg.connect(url, autocommit=True) for _ in range(3)]

    def state() -> tuple[object, ...]:
        with store.pool.connection() as conn:
            return (
                conn.execute("SELECT pg_listening_channels()").fetchall(),
                conn.execute("SHOW lock_timeout").fetchone(),
                conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND pid = pg_backend_pid()"
                ).fetchone(),
            )

    clean = state()
    try:
        for number, other in enumerate(others[:2]):  # every slot taken
            other.execute("SELECT pg_advisory_lock(%s, %s)", (_slot_lock(KEY), number))
        with pytest.raises(ProviderRateLimited), slots.hold(KEY, 2, wait=0.3):
            pass  # first in line, and no slot frees
        assert state() == clean == ([], ("0",), (0,))
        others[2].execute(  # someone else is first in line
            "SELECT pg_advisory_lock(%s, %s)", (_slot_lock(KEY), PostgresSlots.TURNSTILE)
        )
        with pytest.raises(ProviderRateLimited), slots.hold(KEY, 2, wait=0.3):
            pass
        assert state() == clean
    finally:
        for other in others:
            other.close()
        store.close()


def test_postgres_slots_pass_a_slot_to_a_waiting_thread_of_the_same_worker(
    postgres_url: str,
) -> None:
    """Freeing and taking a slot are two round trips: a holder whose worker has another
    thread waiting passes the slot on instead (nothing announced); the last frees it."""
    import threading

    import psycopg

    from connector.providers.limits import PostgresSlots
    from connector.store.postgres import PostgresStore

    store = PostgresStore(postgres_url)
    slots = PostgresSlots(store.pool)
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    watcher = psycopg.connect(url, autocommit=True)
    watcher.execute(f"LISTEN {PostgresSlots.CHANNEL}")
    first_in, let_go = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with slots.hold(KEY, 1, wait=10):
            order.append("first")
            first_in.set()
            let_go.wait(10)

    def second() -> None:
        with slots.hold(KEY, 1, wait=10):
            order.append("second")
            freed.extend(n.payload for n in watcher.notifies(timeout=0.3))

    freed: list[str] = []
    try:
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        threads[0].start()
        assert first_in.wait(10)
        threads[1].start()
        time.sleep(0.3)  # the second waits for the first's slot
        let_go.set()
        for thread in threads:
            thread.join(10)
        assert order == ["first", "second"]
        assert freed == []  # passed on: not freed in between
        after = [n.payload for n in watcher.notifies(timeout=2, stop_after=1)]
        assert len(after) == 1  # freed once, by the last holder
    finally:
        let_go.set()
        watcher.close()
        store.close()


def test_postgres_slots_passed_on_go_back_to_other_workers_in_turn(
    two_workers: tuple[t.Any, t.Any], postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy worker passes a slot between its threads at most MAX_TURNS times, then frees
    it: another worker waiting for it gets it long before the busy one runs out of work."""
    import concurrent.futures
    import threading

    from connector.providers.limits import PostgresSlots

    monkeypatch.setattr(PostgresSlots, "MAX_TURNS", 2)
    busy, other = two_workers
    done = 0
    count_lock = threading.Lock()
    busy_started = threading.Event()
    got_at: list[int] = []

    def busy_thread() -> None:
        nonlocal done
        for _ in range(20):
            with busy.hold(KEY, 1, wait=30):
                busy_started.set()
                time.sleep(0.01)
            with count_lock:
                done += 1

    def other_worker() -> None:
        assert busy_started.wait(10)
        with other.hold(KEY, 1, wait=30):
            got_at.append(done)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(busy_thread) for _ in range(3)]
        futures.append(pool.submit(other_worker))
        for future in futures:
            future.result()
    assert got_at and got_at[0] < 20  # of the busy worker's 60 holds
    assert _advisory_locks(postgres_url) == 0


def test_postgres_slots_two_freed_at_once_for_one_waiter_pass_on_only_one(
    postgres_url: str,
) -> None:
    """Two holders finish before their worker's one waiter wakes: one slot passes to it, the
    other is freed, not left spare with nobody to take it (held from every worker). The
    order is forced by holding the slots' lock while both finish."""
    import threading

    from connector.providers.limits import PostgresSlots, _slot_lock
    from connector.store.postgres import PostgresStore

    store = PostgresStore(postgres_url)
    slots = PostgresSlots(store.pool)
    lock = _slot_lock(KEY)
    deadline = time.monotonic() + 10
    first, second = (slots._acquire(KEY, lock, 2, deadline) for _ in range(2))
    served: list[bool] = []

    def waiter() -> None:
        with slots.hold(KEY, 2, wait=10):
            served.append(True)

    thread = threading.Thread(target=waiter)
    try:
        thread.start()
        while slots._keys[KEY].waiting < 1:
            time.sleep(0.01)
        with slots._changed:  # re-entrant: both releases run before the waiter wakes
            slots._release(KEY, lock, first)
            slots._release(KEY, lock, second)
        thread.join(10)
        assert served == [True]
        assert slots._keys[KEY].spare == [] and slots._keys[KEY].active == 0
        assert _advisory_locks(postgres_url) == 0
    finally:
        thread.join(10)
        store.close()


def test_postgres_slots_never_pass_on_a_slot_whose_session_postgresql_ended(
    two_workers: tuple[t.Any, t.Any], postgres_url: str
) -> None:
    """A holder's session ends under it (PostgreSQL restarted, or an operator ran
    pg_terminate_backend): its lock is gone and another worker takes that slot. The holder's
    waiting thread must not be handed the dead slot, or two calls would run on a limit of
    one; it waits in line for the other worker's slot instead."""
    import threading

    import psycopg

    from connector.providers.limits import _slot_lock

    worker, other = two_workers
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    inside: list[str] = []
    overlapped: list[tuple[str, ...]] = []
    enter_lock = threading.Lock()
    first_in, let_first_go, other_in, let_other_go = (threading.Event() for _ in range(4))

    @contextlib.contextmanager
    def counted(name: str) -> t.Iterator[None]:
        with enter_lock:
            if inside:
                overlapped.append((*inside, name))
            inside.append(name)
        try:
            yield
        finally:
            with enter_lock:
                inside.remove(name)

    def first() -> None:
        with worker.hold(KEY, 1, wait=10), counted("first"):
            first_in.set()
            let_first_go.wait(10)

    def second() -> None:  # waits in the same worker for first's slot
        with worker.hold(KEY, 1, wait=10), counted("second"):
            pass

    def other_worker() -> None:
        with other.hold(KEY, 1, wait=10), counted("other"):
            other_in.set()
            let_other_go.wait(10)

    threads = [threading.Thread(target=f) for f in (first, second, other_worker)]
    try:
        threads[0].start()
        assert first_in.wait(10)
        threads[1].start()
        while worker._keys[KEY].waiting < 1:
            time.sleep(0.01)
        with psycopg.connect(url, autocommit=True) as admin:
            ended = admin.execute(
                # A two-key advisory lock shows its keys as classid and objid (objsubid 2).
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND objsubid = 2 AND classid::bigint = %s AND objid = 0 AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())",
                (_slot_lock(KEY) & 0xFFFFFFFF,),
            ).fetchall()
        assert ended == [(True,)]
        threads[2].start()  # the slot is free in PostgreSQL: the other worker takes it
        assert other_in.wait(10)
        time.sleep(0.1)  # the session's end has reached the first holder's socket
        let_first_go.set()
        threads[0].join(10)
        time.sleep(0.3)  # the second, if handed the dead slot, would run now
        let_other_go.set()
        for thread in threads[1:]:
            thread.join(10)
        # The first holder's call was under way when its session ended: that one overlap
        # nothing prevents. The second must not add another.
        assert overlapped == [("first", "other")]
        assert _advisory_locks(postgres_url) == 0
    finally:
        let_first_go.set()
        let_other_go.set()
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join(10)
