"""Time budgets that hold across layers: a request's deadline, seen by every upstream call.

A platform gives a poll a fixed time (Zapier 30 s, Make 40 s); a poll reads several pages
and writes the store. ``within(seconds)`` opens a budget for the current context (thread or
task), and :func:`remaining` tells each upstream call how long it may still take, so that
no single call can spend the whole budget's time twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import typing as t

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "connector_deadline", default=None
)


@contextlib.contextmanager
def until(deadline: float) -> t.Iterator[None]:
    """Run the block under an absolute ``time.monotonic()`` deadline (an earlier one that is
    already in force stays)."""
    outer = _deadline.get()
    token = _deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)


def within(seconds: float) -> contextlib.AbstractContextManager[None]:
    """Run the block with ``seconds`` left from now."""
    return until(time.monotonic() + seconds)


def remaining() -> float | None:
    """Seconds left in the current budget (never negative), or None without one."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())
