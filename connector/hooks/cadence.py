"""How often a watched handle is polled: the base gap while it is active, longer while quiet.

Every poll of a handle is a paid upstream call, and most watched handles post weekly or less.
A handle is *active* when a poll last found new videos on it, or when it last gained a
subscription (the store keeps that time per watch, see ``Store.release_watches``). For the
first :data:`GRACE` seconds of quiet it is polled every base gap (``CONNECTOR_POLL_MIN_GAP``);
after that each further second of quiet adds :data:`SLOWDOWN` second to the wait, up to
``CONNECTOR_POLL_MAX_DELAY``::

    quiet    0 .. 1 h   6 h     12 h    24 h    25 h and more
    wait     30 s       ~13 min ~28 min ~58 min 1 h (the maximum)

A poll that finds a new video makes the handle active again: the next poll comes a base gap
later. A video posted on a quiet handle waits at most the maximum delay plus one cycle
interval before a poll reads it.
"""

from __future__ import annotations

import typing as t

from ..errors import (
    ConnectorError,
    ProviderAuthFailed,
    ProviderNotFound,
    ProviderOutOfCredits,
    UnsupportedByProvider,
)

GRACE = 3600.0
"""Seconds of quiet during which a handle is still polled every base gap: a handle that
posts several times a day mostly stays at the base rate."""

SLOWDOWN = 1 / 24
"""Seconds added to the wait per second of quiet beyond :data:`GRACE` (an hour a day)."""

LASTING_FAILURES: tuple[type[ConnectorError], ...] = (
    ProviderNotFound,  # the account is gone, renamed or private
    ProviderAuthFailed,  # the subscriber's key was revoked
    ProviderOutOfCredits,  # the subscriber's account must be topped up first
    UnsupportedByProvider,
)
"""Failures that polling again after the base gap would only repeat (each provider does not
charge for them, but each holds an upstream slot and logs a warning). Not a 400: a handle
upstream refuses as written is refused when subscribing, so a 400 met later is more likely a
later page's cursor that expired, which the next poll, starting afresh, gets past."""


def poll_delay(quiet: float, *, base_gap: float, max_delay: float) -> float:
    """Seconds from one poll of a handle to the next.

    :param quiet: seconds since the handle was last active (negative counts as 0: a clock
        step must not slow a handle down).
    :param base_gap: the wait of an active handle (``CONNECTOR_POLL_MIN_GAP``).
    :param max_delay: the longest wait (``CONNECTOR_POLL_MAX_DELAY``); at most ``base_gap``
        turns the adaptation off.
    :return: between ``base_gap`` and ``max(base_gap, max_delay)``, never decreasing as
        ``quiet`` grows.
    """
    if max_delay <= base_gap:
        return base_gap
    slowed = base_gap + max(0.0, quiet - GRACE) * SLOWDOWN
    return min(max_delay, slowed)


def next_poll_at(
    polled_at: float, active_at: float | None, *, base_gap: float, max_delay: float
) -> float:
    """When a handle polled at ``polled_at`` is due again, given when it was last active
    (``None``: not known yet, taken as active now)."""
    quiet = 0.0 if active_at is None else polled_at - active_at
    return polled_at + poll_delay(quiet, base_gap=base_gap, max_delay=max_delay)


def deferral(base_gap: float, max_delay: float) -> t.Callable[[float], float]:
    """What ``Store.release_watches`` takes as ``defer``: for a handle quiet for so many
    seconds, how much longer than the base gap it waits."""

    def defer(quiet: float) -> float:
        return poll_delay(quiet, base_gap=base_gap, max_delay=max_delay) - base_gap

    return defer


def is_lasting(error: ConnectorError) -> bool:
    """Whether a poll that failed with ``error`` should back off (see the module's doc)."""
    return isinstance(error, LASTING_FAILURES)


def retry_delay(failing_for: float, *, base_gap: float, max_delay: float) -> float:
    """Seconds from a failed poll to the next, for a handle whose polls have failed for a
    lasting reason during the last ``failing_for`` seconds: as long again, between
    ``base_gap`` and ``max(base_gap, max_delay)``."""
    if max_delay <= base_gap:
        return base_gap
    return min(max_delay, max(base_gap, failing_for))


def backoff(base_gap: float, max_delay: float) -> t.Callable[[float], float]:
    """What ``Store.release_watches`` takes as ``backoff``: for a handle failing for so many
    seconds, how much longer than the base gap it waits."""

    def extra(failing_for: float) -> float:
        return retry_delay(failing_for, base_gap=base_gap, max_delay=max_delay) - base_gap

    return extra
