"""Configuration: every setting with its default, and how they are loaded.

Settings come, in order, from ``DEFAULTS``, environment variables prefixed ``CONNECTOR_``
(``CONNECTOR_DATABASE_URL=...``; values are parsed as JSON when they can be, so ``20``
is a number), and finally the mapping given to ``create_app`` (tests).
"""

from __future__ import annotations

import typing as t

from .errors import ConfigError

DEFAULTS: dict[str, t.Any] = {
    # Where feeds and seen video ids live. sqlite:///relative/or/absolute/path, or (with the
    # [postgres] extra) postgresql://...
    "DATABASE_URL": "sqlite:///connector.db",
    # Provider used when the caller does not name one (X-Provider header).
    "PROVIDER": "dumplingai",
    # Per provider <NAME> (dumplingai, apidirect, byhandle), optionally:
    #   <NAME>_BASE_URL: where it is served (default: its public URL); a proxy or an
    #     emulator may stand in.
    #   <NAME>_API_KEY: a server-side key, used for callers presenting an access token.
    # Tokens (JSON list or comma-separated) that let callers use the server-side keys.
    "ACCESS_TOKENS": None,
    # Failover order of the server-side keys (default: PROVIDER first, then the registry's).
    "PROVIDER_ORDER": None,
    # Seconds one upstream request may take. Zapier gives a polling call 30 s in total.
    "UPSTREAM_TIMEOUT": 20.0,
    # Pages of the profile feed one trigger poll may read to catch up after downtime.
    "BACKFILL_MAX_PAGES": 5,
    # Seconds a trigger poll may take in all, from its arrival to its answer, every page
    # and the store included (Zapier gives a poll 30 s, Make's HTTP calls 40 s). A
    # catch-up cut short goes on at the next poll.
    "POLL_BUDGET": 25.0,
    # include_recent (platforms with their own id dedup): videos a feed received within
    # this many seconds come again, at most RECENT_MAX of them.
    "RECENT_WINDOW": 3600.0,
    "RECENT_MAX": 50,
    # Seen video ids kept per feed; the least recently observed are forgotten first.
    "SEEN_IDS_PER_FEED": 1000,
    # Videos returned by a sample request ("test trigger" / "load sample").
    "SAMPLE_SIZE": 3,
    # Retry-After (seconds) sent on an upstream rate limit that did not say how long to wait.
    "DEFAULT_RETRY_AFTER": 60,
    # Seconds a write waits for the SQLite lock before answering 503.
    "SQLITE_BUSY_TIMEOUT": 15.0,
    "LOG_LEVEL": "INFO",
    # Instant triggers. Seals stored upstream keys and signing secrets (32+ characters);
    # required once webhook subscriptions exist.
    "SECRET_KEY": None,
    # Seconds between poll cycles of the scheduler inside `connector serve`; 0 turns it off.
    "POLL_INTERVAL": 60,
    # Seconds before a watched handle is polled again, however many cycles run (several
    # workers, or cron and the scheduler at once, split the due handles between them).
    "POLL_MIN_GAP": 30.0,
    # Watched handles a worker claims at a time within a cycle.
    "POLL_BATCH": 10,
    # Let webhook targets be http:// or resolve to private, loopback or link-local addresses.
    "ALLOW_PRIVATE_TARGETS": False,
    # Seconds one webhook delivery may take.
    "DELIVERY_TIMEOUT": 10.0,
    # Seconds before the first retry of a failed delivery (later ones double, with jitter).
    "DELIVERY_FIRST_RETRY": 10.0,
    # Longest wait between two attempts, in seconds.
    "DELIVERY_MAX_DELAY": 3600.0,
    # Seconds after which a delivery still failing becomes a dead letter.
    "DELIVERY_MAX_AGE": 86400.0,
    # Attempts for a target answering 4xx (other than 408, 410 and 429) before dead-lettering.
    "DELIVERY_CLIENT_ERROR_ATTEMPTS": 3,
    # Subscriptions delivered to in parallel, so a slow target holds up no other.
    "DELIVERY_WORKERS": 8,
    # True when the upstream is the built-in sandbox (set by `connector serve --sandbox`).
    "SANDBOX": False,
}


def validate(config: t.Mapping[str, t.Any]) -> None:
    """Fail start-up with :class:`ConfigError` on a setting that cannot work."""
    positive = (
        "POLL_BATCH",
        "DELIVERY_TIMEOUT",
        "DELIVERY_FIRST_RETRY",
        "DELIVERY_MAX_DELAY",
        "DELIVERY_MAX_AGE",
        "DELIVERY_CLIENT_ERROR_ATTEMPTS",
        "DELIVERY_WORKERS",
        "UPSTREAM_TIMEOUT",
        "BACKFILL_MAX_PAGES",
        "POLL_BUDGET",
        "RECENT_WINDOW",
        "RECENT_MAX",
        "SEEN_IDS_PER_FEED",
        "SAMPLE_SIZE",
        "DEFAULT_RETRY_AFTER",
        "SQLITE_BUSY_TIMEOUT",
    )
    for key in positive:
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"CONNECTOR_{key} must be a positive number, got {value!r}")
    for key in ("POLL_INTERVAL", "POLL_MIN_GAP"):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"CONNECTOR_{key} must be 0 or more seconds, got {value!r}")
    if not str(config.get("DATABASE_URL", "")).strip():
        raise ConfigError("CONNECTOR_DATABASE_URL must not be empty")
