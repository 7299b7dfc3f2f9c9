"""Helpers for mapping upstream payloads onto the normalized records."""

from __future__ import annotations

import re
import typing as t

from marshmallow import Schema, ValidationError

from ..errors import ProviderInvalidResponse
from ..schemas.fields import iso_utc

_HASHTAG = re.compile(r"#([^\s#.,!?;:()\[\]{}\"']+)")


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


def first_url(value: t.Any) -> str | None:
    """A URL given either as a string or as TikTok's ``{"url_list": [...]}``."""
    if isinstance(value, str):
        return value or None
    url = dig(value, "url_list", 0)
    return url if isinstance(url, str) and url else None


def id_string(value: t.Any) -> str | None:
    """Ids stay strings: a numeric id is turned into its exact decimal form."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)


def hashtags_from(*candidates: t.Any, text: t.Any = None) -> list[str]:
    """Hashtag names from the first non-empty candidate list, else parsed from ``text``."""
    for names in candidates:
        clean = [n.lstrip("#") for n in names if isinstance(n, str) and n.strip("#")]
        if clean:
            return list(dict.fromkeys(clean))
    return list(dict.fromkeys(_HASHTAG.findall(text if isinstance(text, str) else "")))


def timestamp(value: t.Any) -> int | None:
    """Unix seconds from an int, a numeric string or a millisecond value."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            return None
        value = int(value)
    if isinstance(value, float):
        value = int(value)
    if not isinstance(value, int):
        return None
    return value // 1000 if value > 10**11 else value


def with_times(record: dict[str, t.Any], created: int | None) -> dict[str, t.Any]:
    record["created_at_timestamp"] = created
    record["created_at"] = iso_utc(created)
    return record


def load_record(schema: Schema, record: dict[str, t.Any], label: str) -> dict[str, t.Any]:
    """Validate a mapped record; a type mismatch means upstream broke its documented shape."""
    try:
        return t.cast(dict[str, t.Any], schema.load(record))
    except ValidationError as exc:
        raise ProviderInvalidResponse(
            f"{label} returned data in an unexpected shape.", details=exc.messages
        ) from exc


def require_dict(body: t.Any, label: str) -> dict[str, t.Any]:
    if not isinstance(body, dict):
        raise ProviderInvalidResponse(f"{label} returned data in an unexpected shape.")
    return body
