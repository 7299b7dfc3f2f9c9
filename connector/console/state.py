"""What the console keeps in memory: failed sign-ins, and the sandbox panel's demo."""

from __future__ import annotations

import collections
import dataclasses
import threading
import typing as t

from flask import current_app

if t.TYPE_CHECKING:
    from ..runtime import Runtime

#: Wrong tokens accepted per minute (per process) before sign-in pauses.
SIGN_IN_FAILURES_PER_MINUTE = 10


@dataclasses.dataclass(frozen=True)
class Step:
    """One thing that happened to a video posted from the sandbox panel."""

    at: float
    title: str
    detail: str = ""
    ok: bool = True


@dataclasses.dataclass(frozen=True)
class Received:
    """A delivery the sandbox panel's demo receiver got."""

    at: float
    webhook_id: str
    video_id: str
    verified: bool


class ConsoleState:
    """The console's in-memory state for one process (``app.extensions["console"]``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._failures: collections.deque[float] = collections.deque()
        self.inbox: collections.deque[Received] = collections.deque(maxlen=50)
        self.story: list[Step] = []

    def sign_in_paused(self, now: float) -> bool:
        with self.lock:
            while self._failures and self._failures[0] < now - 60:
                self._failures.popleft()
            return len(self._failures) >= SIGN_IN_FAILURES_PER_MINUTE

    def sign_in_failed(self, now: float) -> None:
        with self.lock:
            self._failures.append(now)

    def receive(self, item: Received) -> None:
        with self.lock:
            self.inbox.append(item)

    def received(self, video_id: str | None = None) -> list[Received]:
        """What the demo receiver got, latest first."""
        with self.lock:
            items = list(self.inbox)
        return [r for r in reversed(items) if video_id is None or r.video_id == video_id]


def console_state() -> ConsoleState:
    return t.cast(ConsoleState, current_app.extensions["console"])


def runtime() -> Runtime:
    return t.cast("Runtime", current_app.extensions["connector"])
