"""Helpers for mapping upstream payloads onto the normalized records.

Upstream data is untrusted: each value is mapped, read as absent, or refused. A refusal is a
:class:`ProviderInvalidResponse` (502 ``upstream_invalid_response``); :func:`map_record`
makes sure that no other exception leaves a mapping, whatever the payload holds.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
import typing as t

from marshmallow import Schema, ValidationError

from ..errors import ProviderInvalidResponse
from ..timestamps import iso_utc

log = logging.getLogger("connector.providers")

#: No TikTok (or musical.ly, 2014) video or account is older than this: 2014-01-01T00:00:00Z.
EARLIEST_TIME = 1_388_534_400
#: A posting time may run ahead of this server's clock by this much (clock skew), no more.
FUTURE_SLACK = 86_400
#: Counts are signed 64-bit integers in every store and platform that receives them.
MAX_COUNT = 2**63
#: TikTok ids have 19 digits; more than this is not an id.
MAX_ID_DIGITS = 32
#: Characters in one text field; captions have a few thousand at most.
MAX_TEXT = 100_000
MAX_HASHTAGS = 100

# ASCII digits only: str.isdigit() also accepts "²" and "١", which int() refuses or misreads.
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_ID_DIGITS}}}")
_HASHTAG = re.compile(r"#([^\s#.,!?;:()\[\]{}\"']+)")
# What a mapping bug meeting a hostile payload can raise; map_record turns it into a refusal.
_MAPPING_ERRORS = (
    ArithmeticError,
    AttributeError,
    LookupError,
    RecursionError,
    TypeError,
    ValueError,
)

Mapper = t.Callable[[dict[str, t.Any]], dict[str, t.Any]]


class InvalidValue(ValueError):
    """A value upstream sent that no record may carry; says which kind, never the value."""


def dig(value: t.Any, *path: str | int) -> t.Any:
    """``value[path[0]][path[1]]...``, or None as soon as a step is missing or the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
        elif not isinstance(value, dict):
            return None
        value = value[step] if isinstance(step, int) else value.get(step)
    return value


def items(value: t.Any) -> list[t.Any]:
    """``value`` if it is a list, else no items."""
    return value if isinstance(value, list) else []


def text(value: t.Any) -> str | None:
    """``value`` if it is non-empty text, else None (for values only used to build others)."""
    return value if isinstance(value, str) and value else None


def first_url(value: t.Any) -> str | None:
    """A URL given either as a string or as TikTok's ``{"url_list": [...]}``."""
    if isinstance(value, str):
        return value or None
    url = dig(value, "url_list", 0)
    return url if isinstance(url, str) and url else None


def id_string(value: t.Any) -> str | None:
    """An id as its exact decimal text (a numeric id too); None when absent.

    :raises InvalidValue: for anything but a digit string or a non-negative whole number.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value:
        value = str(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return value
    raise InvalidValue("an id that is not a TikTok id (digits)")


def cursor_string(value: t.Any) -> str | None:
    """A paging cursor as text; one that is not an id-like number cannot be sent back, so it
    reads as no cursor (no next page)."""
    try:
        return id_string(value)
    except InvalidValue:
        return None


def hashtags_from(*candidates: t.Any, text: t.Any = None) -> list[str]:
    """Hashtag names from the first non-empty candidate list, else parsed from ``text``."""
    for names in candidates:
        clean = [n.lstrip("#") for n in items(names) if isinstance(n, str) and n.strip("#")]
        if clean:
            return list(dict.fromkeys(clean))[:MAX_HASHTAGS]
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        return []  # too long a caption is refused by check_record anyway
    return list(dict.fromkeys(_HASHTAG.findall(text)))[:MAX_HASHTAGS]


def timestamp(value: t.Any) -> int | None:
    """Unix seconds from an int, a float, a numeric string or a millisecond value.

    None when absent (null, ``""``, or the ``0`` some feeds send for unknown).

    :raises InvalidValue: for what is not a number, or not a time between 2014 and tomorrow.
    """
    if isinstance(value, bool):
        raise InvalidValue("a time that is not a number")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value.strip() or "0"):
            raise InvalidValue("a time that is not a number")
        value = int(value.strip() or "0")
    if value is None or value == 0:
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue("a time that is not a finite number")
        value = int(value)
    elif not isinstance(value, int):
        raise InvalidValue("a time that is not a number")
    return plausible_time(value // 1000 if value > 10**11 else value)


def plausible_time(seconds: int) -> int:
    """``seconds`` if it is a time a TikTok video or account can have.

    :raises InvalidValue: before 2014 or more than a day ahead of this server's clock.
    """
    if not EARLIEST_TIME <= seconds <= time.time() + FUTURE_SLACK:
        raise InvalidValue("a time before 2014 or in the future")
    return seconds


def with_times(record: dict[str, t.Any], created: int | None) -> dict[str, t.Any]:
    record["created_at_timestamp"] = created
    record["created_at"] = iso_utc(created)
    return record


def map_record(schema: Schema, mapper: Mapper, payload: t.Any, label: str) -> dict[str, t.Any]:
    """``mapper(payload)`` loaded through ``schema`` and checked against sane bounds.

    :raises ProviderInvalidResponse: for a payload that is not an object, a value the
        record cannot carry, or any failure of the mapping itself; nothing else.
    """
    try:
        return load_record(schema, mapper(require_dict(payload, label)), label)
    except _MAPPING_ERRORS as exc:
        raise _unexpected(label, exc) from exc


def _unexpected(label: str, exc: Exception) -> ProviderInvalidResponse:
    """What a caller is told of data that could not be mapped: a checked value says what
    was wrong with it; any other failure only that it was unreadable."""
    why = str(exc) if isinstance(exc, InvalidValue) else f"unreadable ({type(exc).__name__})"
    return ProviderInvalidResponse(f"{label} returned data in an unexpected shape: {why}.")


def load_record(schema: Schema, record: dict[str, t.Any], label: str) -> dict[str, t.Any]:
    """Validate a mapped record; a type mismatch means upstream broke its documented shape."""
    try:
        loaded = t.cast(dict[str, t.Any], schema.load(record))
    except ValidationError as exc:
        raise ProviderInvalidResponse(
            f"{label} returned data in an unexpected shape.", details=exc.messages
        ) from exc
    return check_record(loaded)


def check_record(record: dict[str, t.Any]) -> dict[str, t.Any]:
    """``record`` with its numbers in bounds and its text storable.

    :raises InvalidValue: for a negative or 64-bit-overflowing number, an implausible time,
        or text longer than :data:`MAX_TEXT`.
    """
    checked: dict[str, t.Any] = {}
    for name, value in record.items():
        if isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if name.endswith("_timestamp"):
                plausible_time(value)
            elif not 0 <= value < MAX_COUNT:
                raise InvalidValue(f"{name} out of range")
        elif isinstance(value, str):
            value = _storable(name, value)
        elif isinstance(value, list):
            value = [_storable(name, v) if isinstance(v, str) else v for v in value]
        checked[name] = value
    return checked


def _storable(name: str, value: str) -> str:
    if len(value) > MAX_TEXT:
        raise InvalidValue(f"{name} longer than {MAX_TEXT} characters")
    if "\x00" in value:
        value = value.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (JSON "\ud800") cannot be stored or sent as UTF-8.
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


#: Where a feed item says which video it is and when it was posted: (id, Unix seconds or
#: None), raising InvalidValue (or any mapping error) for what cannot be read.
Position = t.Callable[[dict[str, t.Any]], tuple[str | None, int | None]]


def list_feed(
    schema: Schema, mapper: Mapper, position: Position, payload: t.Any, label: str, handle: str
) -> tuple[list[dict[str, t.Any]], int, t.Callable[[dict[str, t.Any]], dict[str, t.Any] | None]]:
    """A feed page's items as entries (``id`` and ``created_at_timestamp``, read cheaply),
    how many were left out for want of them, and the function that maps and checks an
    entry's whole record (None for a malformed one).

    One bad item must not block a feed forever, so it is skipped (and logged with the
    handle and its id) when listed or when expanded; a page with items but none listable
    means upstream broke its shape.

    :raises ProviderInvalidResponse: when ``payload`` is not a list, or no item is usable.
    """
    if not isinstance(payload, list):
        raise ProviderInvalidResponse(f"{label} returned data in an unexpected shape.")
    items: dict[str, t.Any] = {}
    listed: list[dict[str, t.Any]] = []
    for item in payload:
        try:
            video_id, created = position(require_dict(item, label))
            if video_id is None or len(video_id) > MAX_TEXT:
                raise InvalidValue("an item without an id")
            if created is None:
                raise ProviderInvalidResponse(f"{label} listed a video without a posting time.")
        except ProviderInvalidResponse as exc:
            _skipped(exc, item, label, handle)
            continue
        except _MAPPING_ERRORS as exc:
            _skipped(_unexpected(label, exc), item, label, handle)
            continue
        items.setdefault(video_id, item)
        listed.append({"id": video_id, "created_at_timestamp": created})
    if payload and not listed:
        raise ProviderInvalidResponse(f"{label} returned a page of videos none of which is usable.")

    @functools.cache
    def record(video_id: str) -> dict[str, t.Any] | None:
        item = items[video_id]
        try:
            return map_record(schema, mapper, item, label)
        except ProviderInvalidResponse as exc:
            _skipped(exc, item, label, handle)
            return None

    def expand(entry: dict[str, t.Any]) -> dict[str, t.Any] | None:
        whole = record(entry["id"])
        return None if whole is None else dict(whole)  # each caller may change its own

    return listed, len(payload) - len(listed), expand


def _skipped(exc: ProviderInvalidResponse, item: t.Any, label: str, handle: str) -> None:
    fields = sorted(exc.details) if isinstance(exc.details, dict) else []
    log.warning(
        "skipped a malformed video of @%s from %s (id %s): %s%s",
        handle,
        label,
        _safe_id(item),
        exc.message,
        f" (fields: {', '.join(fields)})" if fields else "",
    )


def _safe_id(item: t.Any) -> str:
    """The item's id for a log line, only when it looks like one (never arbitrary text)."""
    for key in ("aweme_id", "id", "video_id"):
        value = dig(item, key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**32:
            return str(value)
        if isinstance(value, str) and _DIGITS.fullmatch(value):
            return value
    return "unknown"


def require_dict(body: t.Any, label: str) -> dict[str, t.Any]:
    if not isinstance(body, dict):
        raise ProviderInvalidResponse(f"{label} returned data in an unexpected shape.")
    return body
