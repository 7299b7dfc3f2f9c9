"""Limits on simultaneous upstream requests, keyed by (provider, endpoint, key): within one
process, across every process of one machine sharing a SQLite store, or across every worker
sharing a PostgreSQL database."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
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

    @contextlib.contextmanager
    def marked(self, key: t.Hashable, number: int) -> t.Iterator[None]:
        with self._lock:
            self._held.setdefault(key, set()).add(number)
        try:
            yield
        finally:
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


class PostgresSlots:
    """Slots across every worker on one PostgreSQL database, over the store's pool.

    A slot is a session advisory lock (key, slot number) on a pooled connection, kept for
    the duration of the call; a worker that dies loses its connection and so its slot.
    Threads of one process queue on :class:`ConcurrencyLimits` first. A holder takes a
    free slot in one statement. When every slot is taken, holders of every process queue
    in line inside PostgreSQL (on the key's turnstile lock), and only the first of the line
    looks for a slot: it listens on :attr:`CHANNEL`, where a holder announces each slot it
    frees in the statement that frees it, so a freed slot is taken within a round trip
    (polling every 5 ms left slots idle 8-12 % of a 300-handle poll cycle). It looks again
    every :attr:`RECHECK` seconds at the least: a worker that dies frees its slots unheard.
    """

    RECHECK = 0.05
    CHANNEL = "connector_slot_freed"
    TURNSTILE = -1  # the line's lock number; slots are 0 and up

    def __init__(self, pool: psycopg_pool.ConnectionPool[t.Any]) -> None:
        self.pool = pool
        self._local = ConcurrencyLimits()
        self._taken = _Taken()

    @contextlib.contextmanager
    def hold(self, key: t.Hashable, limit: int, wait: float) -> t.Iterator[None]:
        """Hold one of ``limit`` slots for ``key``, waiting up to ``wait`` seconds for one.

        :raises ProviderRateLimited: when none frees up in time.
        """
        import psycopg

        lock = _slot_lock(key)
        deadline = time.monotonic() + wait
        with self._local.hold(key, limit, wait), self.pool.connection() as conn:
            conn.autocommit = True
            try:
                number = _take_slot(conn, lock, self._taken.candidates(key, limit))
                if number is None:
                    number = self._first_in_line(conn, lock, key, limit, deadline)
                try:
                    with self._taken.marked(key, number):
                        yield
                finally:
                    conn.execute(
                        "SELECT pg_advisory_unlock(%s, %s), pg_notify(%s, %s)",
                        (lock, number, self.CHANNEL, str(lock)),
                    )
            finally:
                # A connection that broke meanwhile is dropped by the pool anyway.
                with contextlib.suppress(psycopg.Error):
                    conn.autocommit = False

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
