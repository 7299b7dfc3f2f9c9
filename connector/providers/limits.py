"""Per-process limits on simultaneous upstream requests, keyed by (provider, endpoint, key)."""

from __future__ import annotations

import contextlib
import threading
import typing as t

from ..errors import ProviderRateLimited


@t.runtime_checkable
class SlotLimiter(t.Protocol):
    """Holds one of a limited number of slots per key while an upstream call runs."""

    def hold(
        self, key: t.Hashable, limit: int, wait: float
    ) -> contextlib.AbstractContextManager[None]: ...


class ConcurrencyLimits:
    """Slots within one process: one bounded semaphore per key, created on first use.

    Enough for one process; the PostgreSQL store limits across every worker sharing it.
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
