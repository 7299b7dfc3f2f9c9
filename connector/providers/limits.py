"""Limits on simultaneous upstream requests, keyed by (provider, endpoint, key): within one
process, or across every worker sharing a PostgreSQL database."""

from __future__ import annotations

import contextlib
import hashlib
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
