"""Jinja filters: times, durations, hosts and short tenant hashes as people read them."""

from __future__ import annotations

import datetime as dt
import time
import typing as t
import urllib.parse

from ..metrics import estimate


def utc(timestamp: float | None) -> str:
    """``2026-01-01 12:00:03 UTC``; an em dash for no time."""
    if timestamp is None:
        return "—"
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(timestamp: float | None, now: float | None = None) -> str:
    """``12 s ago``, ``3 min ago``, ``in 40 s``; ``never`` for no time."""
    if timestamp is None:
        return "never"
    delta = (time.time() if now is None else now) - timestamp
    future = delta < 0
    delta = abs(delta)
    if delta < 1:
        return "just now"
    if delta < 90:
        text = f"{delta:.0f} s"
    elif delta < 90 * 60:
        text = f"{delta / 60:.0f} min"
    elif delta < 36 * 3600:
        text = f"{delta / 3600:.0f} h"
    else:
        text = f"{delta / 86400:.0f} d"
    return f"in {text}" if future else f"{text} ago"


def duration(seconds: float | None) -> str:
    """``85 ms``, ``1.2 s``."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.0f}%"


def host(url: str) -> str:
    """A target URL's host (and port): the rest may carry a capability token."""
    parts = urllib.parse.urlsplit(url)
    name = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{name}:{port}" if port else name


def short_tenant(tenant: str) -> str:
    """The first 8 characters of a tenant hash: enough to tell tenants apart on one server,
    too few to stand for the hash."""
    return tenant[:8] if tenant else "—"


FILTERS: dict[str, t.Callable[..., t.Any]] = {
    "utc": utc,
    "ago": ago,
    "duration": duration,
    "percent": percent,
    "host": host,
    "short_tenant": short_tenant,
    "estimate": estimate,
}
