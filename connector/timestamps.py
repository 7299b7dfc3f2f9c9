"""Unix times as the ISO 8601 text the API and the platforms show."""

from __future__ import annotations

import datetime as dt


def iso_utc(timestamp: int | None) -> str | None:
    """Unix seconds -> ``2024-01-01T00:00:00Z`` (None stays None)."""
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
