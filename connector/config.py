"""Settings: every one with its type, default and meaning, read once at start-up.

Sources, later ones winning: the defaults below, ``CONNECTOR_<NAME>`` environment variables,
and the mapping given to ``create_app`` (tests, ``connector serve --sandbox``). Text is
parsed by the setting's type (booleans accept true/false, 1/0, yes/no, on/off in any case);
anything that does not parse stops start-up with a :class:`ConfigError` naming the variable.
Components receive the frozen :class:`Settings`, never the raw mapping.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import typing as t

from .errors import ConfigError

PREFIX = "CONNECTOR_"
TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


def _setting(default: t.Any, *, minimum: float | None = None, secret: bool = False) -> t.Any:
    return dataclasses.field(
        default=default, repr=not secret, metadata={"minimum": minimum, "secret": secret}
    )


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting, typed, with its default; :meth:`load` reads each field from
    ``CONNECTOR_<NAME>`` in the environment or ``<NAME>`` in the mapping given to
    ``create_app``."""

    # Where feeds and seen video ids live: sqlite:///relative/or/absolute/path, or (with the
    # [postgres] extra) postgresql://...
    database_url: str = "sqlite:///connector.db"
    # Provider used when the caller does not name one (X-Provider header).
    provider: str = "dumplingai"
    # Tokens (JSON list or comma-separated) that let callers use the server-side keys.
    access_tokens: tuple[str, ...] = _setting((), secret=True)
    # Failover order of the server-side keys (default: PROVIDER first, then the registry's).
    provider_order: tuple[str, ...] = ()
    # Seconds one upstream request may take, and never more than what is left of a poll's
    # budget.
    upstream_timeout: float = _setting(20.0, minimum=0.001)
    # Pages of the profile feed one trigger poll may read to catch up after downtime.
    backfill_max_pages: int = _setting(5, minimum=1)
    # Seconds a trigger poll may take in all, from its arrival to its answer, every page and
    # the store included (Zapier gives a poll 30 s, Make's HTTP calls 40 s). A catch-up cut
    # short goes on at the next poll.
    poll_budget: float = _setting(25.0, minimum=0.5)
    # include_recent (platforms with their own id dedup): videos a feed received within this
    # many seconds come again, at most recent_max of them.
    recent_window: float = _setting(3600.0, minimum=0.001)
    recent_max: int = _setting(50, minimum=1)
    # Seen video ids kept per feed; the least recently observed are forgotten first.
    seen_ids_per_feed: int = _setting(1000, minimum=1)
    # Videos returned by a sample request ("test trigger" / "load sample").
    sample_size: int = _setting(3, minimum=1)
    # Retry-After (seconds) sent on an upstream rate limit that did not say how long to wait.
    default_retry_after: int = _setting(60, minimum=1)
    # Seconds a get-video or get-profile answer is reused for the same tenant, providers and
    # video or handle; lookups in flight at once share one upstream call. 0 turns both off.
    # Per process; errors are never kept.
    lookup_cache_ttl: float = _setting(30.0, minimum=0)
    # The same for the first page of a profile's feed in trigger polls and samples (webhook
    # poll cycles always read upstream): a new video then shows up to this many seconds
    # later. 0 reads upstream every time.
    feed_cache_ttl: float = _setting(0.0, minimum=0)
    # Answers kept at most, all tenants together; the least recently used go first.
    lookup_cache_size: int = _setting(1000, minimum=1)
    # Seconds a write waits for the SQLite lock before answering 503.
    sqlite_busy_timeout: float = _setting(15.0, minimum=0.001)
    log_level: str = "INFO"
    # Log lines: "text" (one readable line each) or "json" (one JSON object per line); either
    # way each carries the request id that answers carry as X-Request-Id.
    log_format: str = "text"
    # Largest request body accepted, in bytes (the connector's inputs are a few short fields):
    # a larger one is answered 413 before it is read.
    max_body_size: int = _setting(65536, minimum=1024)
    # Instant triggers. Seals stored upstream keys and signing secrets; required once webhook
    # subscriptions exist. Weak keys are refused (see crypto.py key_weakness), and start-up
    # refuses a key other than the one the store's secrets were sealed with.
    secret_key: str | None = _setting(None, secret=True)
    # The key SECRET_KEY replaces: still opens what it sealed, and start-up re-seals all of
    # that with SECRET_KEY (key rotation). Remove it once every worker runs the new key.
    secret_key_previous: str | None = _setting(None, secret=True)
    # Seconds between poll cycles of the scheduler inside `connector serve`; 0 turns it off.
    poll_interval: float = _setting(60.0, minimum=0)
    # Seconds before a watched handle is polled again, however many cycles run (several
    # workers, or cron and the scheduler at once, split the due handles between them).
    poll_min_gap: float = _setting(30.0, minimum=0)
    # Longest wait, in seconds, between two polls of a watched handle that has shown nothing
    # new for a long time (quiet handles are polled less often, see hooks/cadence.py); at most
    # POLL_MIN_GAP polls every handle every POLL_MIN_GAP.
    poll_max_delay: float = _setting(3600.0, minimum=0)
    # Watched handles a worker claims at a time within a cycle.
    poll_batch: int = _setting(10, minimum=1)
    # Watched handles one poll cycle reads upstream at once, per provider (fewer for a
    # provider that documents a lower limit, e.g. API Direct's 3).
    poll_concurrency: int = _setting(10, minimum=1)
    # Let webhook targets be http:// or resolve to private, loopback or link-local addresses.
    allow_private_targets: bool = False
    # Seconds one webhook delivery may take.
    delivery_timeout: float = _setting(10.0, minimum=0.001)
    # Seconds before the first retry of a failed delivery (later ones double, with jitter).
    delivery_first_retry: float = _setting(10.0, minimum=0.001)
    # Longest wait between two attempts, in seconds.
    delivery_max_delay: float = _setting(3600.0, minimum=0.001)
    # Seconds after which a delivery still failing becomes a dead letter.
    delivery_max_age: float = _setting(86400.0, minimum=0.001)
    # Attempts for a target answering 4xx (other than 408, 410 and 429) before dead-lettering.
    delivery_client_error_attempts: int = _setting(3, minimum=1)
    # Deliveries sent in parallel (one per target URL at a time; at most half of them for one
    # tenant, and half for targets whose last attempt got no answer).
    delivery_workers: int = _setting(8, minimum=1)
    # Webhook subscriptions one API key (tenant) may have, in all and to one target URL (the
    # query string aside); more answer 409 subscription_limit_reached.
    max_subscriptions_per_tenant: int = _setting(100, minimum=1)
    max_subscriptions_per_target: int = _setting(10, minimum=1)
    # True when the upstream is the built-in sandbox (set by `connector serve --sandbox`).
    sandbox: bool = False
    # The operator console (/console/): the token that signs in, compared in constant time.
    # Unset keeps the console closed (`connector serve --sandbox` makes one up and prints it).
    admin_token: str | None = _setting(None, secret=True)
    # Bearer token GET /metrics asks for; unset leaves /metrics open to whoever reaches it.
    metrics_token: str | None = _setting(None, secret=True)
    # Seconds a process keeps counting upstream calls in memory before writing them to the
    # store (at the end of the first request after that; reading usage and shutting down
    # write at once). 0 writes after every request, as on AWS Lambda, where a frozen process
    # may never serve another.
    usage_flush_interval: float = _setting(5.0, minimum=0)
    # Delivery attempts kept per subscription for the console's history (oldest go first).
    attempt_log_size: int = _setting(100, minimum=1)
    # Per provider: where it is served (default: its public URL; a proxy or an emulator may
    # stand in), from <NAME>_BASE_URL, and a server-side key for callers presenting an
    # access token, from <NAME>_API_KEY.
    base_urls: t.Mapping[str, str] = dataclasses.field(default_factory=dict)
    api_keys: t.Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def load(
        cls,
        overrides: t.Mapping[str, t.Any] | None = None,
        environ: t.Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from the environment (``CONNECTOR_*``) and ``overrides`` (upper-case names
        without the prefix, typed values or text).

        :raises ConfigError: naming the first variable that does not parse or cannot work.
        """
        from .providers import PROVIDERS, provider_class

        environ = os.environ if environ is None else environ
        given = {
            **{k.removeprefix(PREFIX): v for k, v in environ.items() if k.startswith(PREFIX)},
            **(overrides or {}),
        }
        values: dict[str, t.Any] = {}
        for field in dataclasses.fields(cls):
            name = field.name.upper()
            if field.name in ("base_urls", "api_keys") or name not in given:
                continue
            values[field.name] = _parse(name, field, given[name])
        values["base_urls"] = _per_provider(given, PROVIDERS, "BASE_URL", _url)
        values["api_keys"] = _per_provider(given, PROVIDERS, "API_KEY", _text)
        settings = cls(**values)
        try:
            provider_class(settings.provider)
        except ConfigError as exc:
            raise ConfigError(f"{PREFIX}PROVIDER: {exc}") from None
        return settings


def _parse(name: str, field: dataclasses.Field[t.Any], raw: t.Any) -> t.Any:
    kind = field.type if isinstance(field.type, str) else str(field.type)
    try:
        if kind == "bool":
            value: t.Any = _bool(raw)
        elif kind == "int":
            value = _int(raw)
        elif kind == "float":
            value = _float(raw)
        elif kind == "tuple[str, ...]":
            value = _names(raw)
        elif kind == "str | None":
            if field.metadata.get("secret") and isinstance(raw, str) and raw and not raw.strip():
                raise ValueError("a secret made of blanks is no secret")
            value = None if raw is None or str(raw).strip() == "" else _text(raw)
        elif name == "LOG_LEVEL":
            value = _log_level(raw)
        elif name == "LOG_FORMAT":
            value = _log_format(raw)
        elif name == "DATABASE_URL":
            value = _database_url(raw)
        else:
            value = _text(raw)
    except ValueError as exc:
        shown = "(hidden)" if field.metadata.get("secret") else repr(raw)
        raise ConfigError(f"{PREFIX}{name}: {exc}; got {shown}") from None
    minimum = field.metadata.get("minimum")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{PREFIX}{name} must be at least {minimum:g}, got {value!r}")
    return value


def _bool(raw: t.Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError("expected true or false (also 1/0, yes/no, on/off)")


def _int(raw: t.Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected a whole number")
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def _float(raw: t.Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    try:
        value = float(raw if isinstance(raw, int | float) else str(raw).strip())
    except ValueError:
        raise ValueError("expected a number") from None
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _text(raw: t.Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("expected text")
    return raw.strip()


def _names(raw: t.Any) -> tuple[str, ...]:
    """A list given as a JSON list or as comma-separated text."""
    if raw is None:
        return ()
    items = raw
    if isinstance(raw, str):
        try:
            items = json.loads(raw) if raw.strip().startswith("[") else raw.split(",")
        except json.JSONDecodeError:
            raise ValueError("expected a JSON list or comma-separated names") from None
    if not isinstance(items, list | tuple):
        raise ValueError("expected a JSON list or comma-separated names")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _log_level(raw: t.Any) -> str:
    level = _text(raw).upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return level


def _log_format(raw: t.Any) -> str:
    fmt = _text(raw).lower()
    if fmt not in LOG_FORMATS:
        raise ValueError(f"expected one of {', '.join(LOG_FORMATS)}")
    return fmt


def _url(raw: t.Any) -> str:
    url = _text(raw).rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise ValueError("expected an http:// or https:// URL")
    return url


def _database_url(raw: t.Any) -> str:
    url = _text(raw)
    if not url:
        raise ValueError("must not be empty")
    return url


def _per_provider(
    given: t.Mapping[str, t.Any],
    providers: t.Iterable[str],
    suffix: str,
    parse: t.Callable[[t.Any], str],
) -> dict[str, str]:
    found = {}
    for provider in providers:
        name = f"{provider.upper()}_{suffix}"
        raw = given.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            found[provider] = parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if suffix == "API_KEY" else repr(raw)
            raise ConfigError(f"{PREFIX}{name}: {exc}; got {shown}") from None
    return found
