"""What the console keeps in memory (per process): failed sign-ins."""

from __future__ import annotations

import collections
import threading
import typing as t

from flask import current_app

if t.TYPE_CHECKING:
    from ..runtime import Runtime

#: Wrong tokens accepted per minute (per process) before sign-in pauses.
SIGN_IN_FAILURES_PER_MINUTE = 10


class ConsoleState:
    """The console's in-memory state for one process (``app.extensions["console"]``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._failures: collections.deque[float] = collections.deque()

    def sign_in_paused(self, now: float) -> bool:
        with self.lock:
            while self._failures and self._failures[0] < now - 60:
                self._failures.popleft()
            return len(self._failures) >= SIGN_IN_FAILURES_PER_MINUTE

    def sign_in_failed(self, now: float) -> None:
        with self.lock:
            self._failures.append(now)


def console_state() -> ConsoleState:
    return t.cast(ConsoleState, current_app.extensions["console"])


def runtime() -> Runtime:
    return t.cast("Runtime", current_app.extensions["connector"])
