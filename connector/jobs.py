"""Entry points for schedulers outside the server: AWS Lambda events through Zappa.

``zappa_settings.json`` runs :func:`poll` on a schedule. EventBridge may deliver an event
twice; a cycle is idempotent, so that only costs a little work.
"""

from __future__ import annotations

import functools
import typing as t

if t.TYPE_CHECKING:
    from .runtime import Runtime


@functools.cache
def _runtime() -> Runtime:
    # One app per Lambda container, reused by warm invocations.
    from . import create_app

    return t.cast("Runtime", create_app().extensions["connector"])


def poll(event: t.Any = None, context: t.Any = None) -> dict[str, int]:
    """Run one poll cycle (fetch, queue, deliver); returns its counts."""
    from .hooks.poller import run_cycle

    return run_cycle(_runtime().poll_context).as_dict()
