"""Limits on simultaneous upstream requests, keyed by (provider, endpoint, key): within one
process, across every process of one machine sharing a SQLite store, or across every worker
sharing a PostgreSQL database."""

from __future__ import annotations

import contextlib
import hashlib
import os
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


class FileSlots:
    """Slots across the processes of one machine (``connector serve``'s workers and its
    scheduler, ``connector poll`` from cron): slot ``n`` of a key is an exclusive lock on a
    file in ``directory``, held for the call; the system releases it when its process dies.

    Threads of one process first queue on :class:`ConcurrencyLimits` (they wake as soon as
    a slot frees); only a process's holders then contend for the files, polling for one.
    """

    POLL = 0.02

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self._local = ConcurrencyLimits()

    @contextlib.contextmanager
    def hold(self, key: t.Hashable, limit: int, wait: float) -> t.Iterator[None]:
        """Hold one of ``limit`` slots for ``key``, waiting up to ``wait`` seconds for one.

        :raises ProviderRateLimited: when none frees up in time.
        """
        import filelock

        deadline = time.monotonic() + wait
        name = f"{_slot_lock(key) & 0xFFFFFFFF:08x}"
        with self._local.hold(key, limit, wait):
            while True:
                for number in range(limit):
                    slot = filelock.FileLock(
                        os.path.join(self.directory, f"{name}-{number}.lock"),
                        # Kept: removing a lock file lets a waiter lock a file no longer
                        # there. No soft (file-exists) locks: a crash would never free one.
                        preserve_lock_file=True,
                        fallback_to_soft=False,
                    )
                    try:
                        slot.acquire(timeout=0)
                    except filelock.Timeout:
                        continue
                    try:
                        yield
                    finally:
                        slot.release()
                    return
                if time.monotonic() >= deadline:
                    raise ProviderRateLimited(
                        "Too many simultaneous requests for this upstream key; none finished "
                        "in time.",
                        retry_after=1,
                    )
                time.sleep(self.POLL)


class PostgresSlots:
    """Slots across every worker on one PostgreSQL database, over the store's pool.

    A slot is a session advisory lock (key, slot number) on a pooled connection, kept for
    the duration of the call; a worker that dies loses its connection and so its slot.
    """

    def __init__(self, pool: psycopg_pool.ConnectionPool[t.Any]) -> None:
        self.pool = pool

    @contextlib.contextmanager
    def hold(self, key: t.Hashable, limit: int, wait: float) -> t.Iterator[None]:
        """Hold one of ``limit`` slots for ``key``, waiting up to ``wait`` seconds for one.

        :raises ProviderRateLimited: when none frees up in time.
        """
        lock = _slot_lock(key)
        deadline = time.monotonic() + wait
        while True:
            with self.pool.connection() as conn:
                slot = _free_slot(conn, lock, limit)
                conn.commit()
                if slot is not None:
                    try:
                        yield
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s, %s)", (lock, slot))
                        conn.commit()
                    return
            if time.monotonic() >= deadline:
                raise ProviderRateLimited(
                    "Too many simultaneous requests for this upstream key; none finished in time.",
                    retry_after=1,
                )
            time.sleep(0.05)


def _slot_lock(key: t.Hashable) -> int:
    """The signed 32-bit advisory lock id of ``key``'s slots (the two-int lock form takes
    32-bit keys). It must not change: workers of different releases sharing a database
    must agree on it."""
    return int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:4], "big", signed=True)


def _free_slot(conn: psycopg.Connection[t.Any], lock: int, limit: int) -> int | None:
    """Take the first free slot of ``lock`` on this connection's session, if any."""
    for number in range(limit):
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (lock, number)).fetchone()
        if row is not None and row[0]:
            return number
    return None
