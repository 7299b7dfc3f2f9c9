"""The poll scheduler inside ``connector serve``: a cycle every ``interval`` seconds."""

from __future__ import annotations

import logging
import threading
import typing as t

from .poller import run_cycle

if t.TYPE_CHECKING:
    from .delivery import Deliverer
    from .poller import PollContext

log = logging.getLogger("connector.hooks")


class Scheduler:
    """Runs cycles in a thread, with one deliverer for all of them: a cycle waits at most
    the deliverer's ``wait`` (``CONNECTOR_DELIVERY_TIMEOUT``) for its deliveries, and those
    still running (claimed) finish in the background while the next cycles poll and deliver
    to everyone else. The scheduler closes the deliverer when it stops."""

    def __init__(self, poll: PollContext, deliverer: Deliverer, interval: float) -> None:
        self.poll = poll
        self.interval = interval
        self.deliverer = deliverer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="poll-scheduler", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.deliverer.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                run_cycle(self.poll, deliverer=self.deliverer)
            except Exception:  # the scheduler must outlive any one bad cycle
                log.exception("poll cycle failed")
