"""Limits on simultaneous upstream requests, keyed by (provider, endpoint, key): within one
process, across every process of one machine sharing a SQLite store, or across every worker
sharing a PostgreSQL database."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import random
import select
import threading
import time
import typing as t

from ..errors import ProviderRateLimited

if t.TYPE_CHECKING:
    import psycopg
    import psycopg_pool


class SlotLimiter(t.Protocol):
    """Holds one of a limited number of slots per key while an upstream call runs."""

    def hold(
        self, key: t.Hashable, limit: int, wait: float
    ) -> contextlib.AbstractContextManager[None]: ...


class ConcurrencyLimits:
    """Slots within one process: one bounded semaphore per key, created on first use.

    Enough for one process; :class:`PostgresSlots` limits across every worker sharing a
    database.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._semaphores: dict[t.Hashable, threading.BoundedSemaphore] = {}

    @contextlib.contextmanager
    def hold(self, key: t.Hashable, limit: int, wait: float) -> t.Iterator[None]:
        """Hold one of ``limit`` slots for ``key``, waiting up to ``wait`` seconds for one.

        :raises ProviderRateLimited: when none frees up in time.
        """
        with self._lock:
            semaphore = self._semaphores.setdefault(key, threading.BoundedSemaphore(limit))
        if not semaphore.acquire(timeout=wait):
            raise ProviderRateLimited(
                f"Too many simultaneous requests to {key[0] if isinstance(key, tuple) else key}; "
                "none finished in time.",
                retry_after=1,
            )
        try:
            yield
        finally:
            semaphore.release()


class _Taken:
    """Which slot numbers of each key this process's holders hold: a holder tries the
    others first, from a random one, so that holders of one process do not queue on each
    other's slots and those of several processes seldom meet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[t.Hashable, set[int]] = {}

    def candidates(self, key: t.Hashable, limit: int) -> list[int]:
        with self._lock:
            held = self._held.get(key, set())
            free = [number for number in range(limit) if number not in held]
        start = random.randrange(len(free)) if free else 0
        return free[start:] + free[:start]

    def mark(self, key: t.Hashable, number: int) -> None:
        with self._lock:
            self._held.setdefault(key, set()).add(number)

    def unmark(self, key: t.Hashable, number: int) -> None:
        with self._lock:
            self._held[key].discard(number)


def _too_many() -> ProviderRateLimited:
    return ProviderRateLimited(
        "Too many simultaneous requests for this upstream key; none finished in time.",
        retry_after=1,
    )


class FileSlots:
    """Slots across the processes of one machine (``connector serve``'s workers and its
    scheduler, ``connector poll`` from cron): slot ``n`` of a key is an exclusive ``flock``
    on a file in ``directory``, held for the call; the system releases it when its process
    dies. POSIX only (``fcntl``): elsewhere the runtime limits within each process.

    Threads of one process first queue on :class:`ConcurrencyLimits` (they wake as soon as
    a slot frees); each file stays open, so taking a free slot is one system call.
    """

    POLL = 0.02

    def __init__(self, directory: str) -> None:
        import fcntl  # noqa: F401 (fails first where there is none)

        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self._local = ConcurrencyLimits()
        self._lock = threading.Lock()
        # Per slot file: its descriptor, and which thread of this process holds it (a
        # lock is the open file's: two threads would both "hold" it through one file).
        self._files: dict[str, tuple[int, threading.Lock]] = {}

    def _slot(self, name: str) -> tuple[int, threading.Lock]:
        with self._lock:
            slot = self._files.get(name)
            if slot is None:
                path = os.path.join(self.directory, name)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                slot = self._files[name] = (fd, threading.Lock())
            return slot

    @contextlib.contextmanager
    def hold(self, key: t.Hashable, limit: int, wait: float) -> t.Iterator[None]:
        """Hold one of ``limit`` slots for ``key``, waiting up to ``wait`` seconds for one.

        :raises ProviderRateLimited: when none frees up in time.
        """
        import fcntl

        deadline = time.monotonic() + wait
        name = f"{_slot_lock(key) & 0xFFFFFFFF:08x}"
        with self._local.hold(key, limit, wait):
            while True:
                start = random.randrange(limit)
                for number in [*range(start, limit), *range(start)]:
                    fd, mine = self._slot(f"{name}-{number}.lock")
                    if not mine.acquire(blocking=False):
                        continue
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        mine.release()
                        continue
                    try:
                        yield
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                        mine.release()
                    return
                if time.monotonic() >= deadline:
                    raise _too_many()
                time.sleep(self.POLL)


@dataclasses.dataclass
class _PgSlot:
    """A slot this process holds in PostgreSQL: the lock lives on ``conn``'s session."""

    conn: psycopg.Connection[t.Any]
    number: int
    turns: int = 0  # holders of this process it has passed to without a release


@dataclasses.dataclass
class _KeySlots:
    """This process's slots of one key: how many it holds or is getting, the ones waiting
    for a holder of its own, and how many of its threads wait for one of those."""

    active: int = 0
    spare: list[_PgSlot] = dataclasses.field(default_factory=list)
    waiting: int = 0


class PostgresSlots:
    """Slots across every worker on one PostgreSQL database, over the store's pool.

    A slot is a session advisory lock (key, slot number) on a pooled connection, kept for
    the duration of the call; a worker that dies loses its connection and so its slot.
    A process holds at most ``limit`` slots of a key. A holder that finishes while another
    thread of its process waits passes its slot on, lock and connection with it, without a
    word to PostgreSQL (taking and freeing a slot are two round trips, which a poll cycle
    paid on each of its reads); after :attr:`MAX_TURNS` such passes, or when none of its
    threads waits, it frees the slot, so that other workers get their turn.

    A holder takes a free slot in one statement. When every slot is taken, holders of every
    process queue in line inside PostgreSQL (on the key's turnstile lock), and only the
    first of the line looks for a slot: it listens on :attr:`CHANNEL`, where a holder
    announces each slot it frees in the statement that frees it, and looks again every
    :attr:`RECHECK` seconds at the least, for the slots of a worker that died.
    """

    RECHECK = 0.05
    MAX_TURNS = 10
    CHANNEL = "connector_slot_freed"
    TURNSTILE = -1  # the line's lock number; slots are 0 and up

    def __init__(self, pool: psycopg_pool.ConnectionPool[t.Any]) -> None:
        self.pool = pool
        self._taken = _Taken()
        self._changed = threading.Condition()
        self._keys: dict[t.Hashable, _KeySlots] = {}

    @contextlib.contextmanager
    def hold(self, key: t.Hashable, limit: int, wait: float) -> t.Iterator[None]:
        """Hold one of ``limit`` slots for ``key``, waiting up to ``wait`` seconds for one.

        :raises ProviderRateLimited: when none frees up in time.
        """
        lock = _slot_lock(key)
        slot = self._acquire(key, lock, limit, time.monotonic() + wait)
        try:
            yield
        finally:
            self._release(key, lock, slot)

    def _acquire(self, key: t.Hashable, lock: int, limit: int, deadline: float) -> _PgSlot:
        with self._changed:
            mine = self._keys.setdefault(key, _KeySlots())
            while not mine.spare and mine.active >= limit:
                mine.waiting += 1
                try:
                    self._changed.wait(deadline - time.monotonic())
                finally:
                    mine.waiting -= 1
                if not mine.spare and time.monotonic() >= deadline:
                    raise _too_many()
            if mine.spare:
                return mine.spare.pop()
            mine.active += 1
        try:
            return self._take_new(key, lock, limit, deadline)
        except BaseException:
            with self._changed:
                mine.active -= 1
                self._changed.notify()
            raise

    def _take_new(self, key: t.Hashable, lock: int, limit: int, deadline: float) -> _PgSlot:
        """A slot of PostgreSQL's, on a pooled connection of its own."""
        import psycopg_pool

        try:
            conn = self.pool.getconn(timeout=max(0.001, deadline - time.monotonic()))
        except psycopg_pool.PoolTimeout:
            raise _too_many() from None
        try:
            conn.autocommit = True
            number = _take_slot(conn, lock, self._taken.candidates(key, limit))
            if number is None:
                number = self._first_in_line(conn, lock, key, limit, deadline)
        except BaseException:
            _give_back(self.pool, conn)
            raise
        self._taken.mark(key, number)
        return _PgSlot(conn, number)

    def _release(self, key: t.Hashable, lock: int, slot: _PgSlot) -> None:
        import psycopg

        with self._changed:
            mine = self._keys[key]
            # Only to a waiter no slot is passed to yet: a slot left spare with none waiting
            # would stay held, taken from every worker, until this one calls again. Never
            # on a session PostgreSQL ended (a restart, a terminated backend): its lock is
            # gone, another worker may hold that slot now.
            if (
                mine.waiting > len(mine.spare)
                and slot.turns < self.MAX_TURNS
                and _still_open(slot.conn)
            ):
                slot.turns += 1
                mine.spare.append(slot)
                self._changed.notify()
                return
            mine.active -= 1
            self._changed.notify()  # a waiter of this process may take one of its own
        try:
            slot.conn.execute(
                "SELECT pg_advisory_unlock(%s, %s), pg_notify(%s, %s)",
                (lock, slot.number, self.CHANNEL, str(lock)),
            )
        except psycopg.Error:
            pass  # a broken session held no lock any more; the pool drops it
        finally:
            self._taken.unmark(key, slot.number)
            _give_back(self.pool, slot.conn)

    def _first_in_line(
        self,
        conn: psycopg.Connection[t.Any],
        lock: int,
        key: t.Hashable,
        limit: int,
        deadline: float,
    ) -> int:
        import psycopg

        # Joining the line is one round trip, leaving it another: each statement the next
        # first-in-line runs before it listens is time a freed slot may wait for a taker.
        # (Without parameters, psycopg sends the statements together, as one implicit
        # transaction: SET LOCAL bounds this wait only, and a wait that times out leaves
        # neither the LISTEN nor the setting behind.)
        left_ms = max(1, int((deadline - time.monotonic()) * 1000))
        try:
            conn.execute(
                f"LISTEN {self.CHANNEL}; SET LOCAL lock_timeout = {left_ms};"
                f" SELECT pg_advisory_lock({int(lock)}, {self.TURNSTILE})"
            )
        except psycopg.errors.LockNotAvailable:
            raise _too_many() from None
        try:
            while True:
                number = _take_slot(conn, lock, self._taken.candidates(key, limit))
                if number is not None:
                    return number
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _too_many()
                # Any key's freed slot wakes the line's first; it looks again (one statement).
                for _ in conn.notifies(timeout=min(left, self.RECHECK), stop_after=1):
                    pass
        finally:
            # The connection goes back to the pool: it must hear nothing more, nor hold
            # the line.
            conn.execute(
                f"UNLISTEN {self.CHANNEL}; SELECT pg_advisory_unlock({int(lock)}, {self.TURNSTILE})"
            )


def _still_open(conn: psycopg.Connection[t.Any]) -> bool:
    """Whether ``conn``'s session may still hold its locks, judged without a round trip: an
    idle session has nothing to say, so anything to read (the server's goodbye as it ends
    the session, or the connection closed) says it is over, as does psycopg having seen it
    break."""
    if conn.closed or conn.broken:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _give_back(pool: psycopg_pool.ConnectionPool[t.Any], conn: psycopg.Connection[t.Any]) -> None:
    """Return a connection to the pool as it was lent (a broken one is dropped there)."""
    import psycopg

    with contextlib.suppress(psycopg.Error):
        conn.autocommit = False
    pool.putconn(conn)


def _slot_lock(key: t.Hashable) -> int:
    """The signed 32-bit advisory lock id of ``key``'s slots (the two-int lock form takes
    32-bit keys). It must not change: workers of different releases sharing a database
    must agree on it."""
    return int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:4], "big", signed=True)


def _take_slot(conn: psycopg.Connection[t.Any], lock: int, numbers: list[int]) -> int | None:
    """Take the first free one of ``numbers`` (slots of ``lock``) on this connection's
    session, in one statement; ``None`` when all are taken. The rows are read in order and
    the scan stops at the first lock taken (LIMIT 1), so no other is taken with it."""
    if not numbers:
        return None
    row = conn.execute(
        "SELECT n FROM unnest(%s::int[]) AS n WHERE pg_try_advisory_lock(%s, n) LIMIT 1",
        (numbers, lock),
    ).fetchone()
    return None if row is None else int(row[0])
