"""Custom marshmallow fields for values users paste: TikTok handles and points in time."""

from __future__ import annotations

import datetime as dt
import re
import time
import typing as t

from marshmallow import ValidationError, fields, validate

# TikTok usernames: letters, digits, underscores and periods, at most 24 characters.
# A little slack on length keeps legacy accounts working.
_HANDLE = re.compile(r"^[A-Za-z0-9_.]{1,30}$")
_PROFILE_URL = re.compile(r"^(?:https?://)?(?:www\.|m\.)?tiktok\.com/@([^/?#]+)", re.IGNORECASE)


# What Handle accepts, for the OpenAPI document: a handle (optionally with '@'), or a
# profile URL. normalize_handle is the authority; this only describes it.
HANDLE_INPUT_PATTERN = (
    r"^\s*(@?[A-Za-z0-9_.]{1,30}|(https?://)?(www\.|m\.)?tiktok\.com/@[A-Za-z0-9_.]{1,30})\s*$"
)


#: The handle the documentation and the platforms' examples use.
HANDLE_EXAMPLE = "tiktok"

#: The handle input of both new-video triggers (polling and webhook), as platforms show it.
WATCHED_HANDLE = {
    "title": "TikTok Handle",
    "description": "The TikTok username to watch, e.g. tiktok or @tiktok (a profile URL works "
    "too).",
}


def normalize_handle(raw: str) -> str:
    """Return the canonical handle for what a user typed: ``" @Some.User "`` -> ``some.user``.

    TikTok handles are case-insensitive, so the lower-case form keys feeds. A profile URL
    (``https://www.tiktok.com/@user``) is accepted too, since that is what people copy.

    :raises ValidationError: when no handle can be read from ``raw``.
    """
    value = raw.strip()
    match = _PROFILE_URL.match(value)
    if match:
        value = match.group(1)
    value = value.lstrip("@").strip()
    if not _HANDLE.match(value):
        raise ValidationError(
            "Not a TikTok handle: use the username as shown on the profile, e.g. @tiktok "
            "(letters, digits, '_' and '.', at most 30 characters)."
        )
    return value.lower()


class Handle(fields.String):
    """A TikTok handle; loads to its canonical form (see :func:`normalize_handle`)."""

    def __init__(self, **kwargs: t.Any) -> None:
        metadata = {
            "pattern": HANDLE_INPUT_PATTERN,
            "example": HANDLE_EXAMPLE,
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Any, **kwargs: t.Any) -> str:
        return normalize_handle(super()._deserialize(value, attr, data, **kwargs))


class Count(fields.Integer):
    """A whole number from ``minimum`` to ``maximum``, sent as a number or as text, or blank
    when the user left it empty: "not given", as every optional input (see ArgsSchema).

    The OpenAPI document shows both forms: this field has no ``type`` of its own there
    (``register_api`` maps it to none), so that a blank query value is documented as valid.
    """

    def __init__(self, *, minimum: int, maximum: int, **kwargs: t.Any) -> None:
        metadata = {
            "oneOf": [
                {"type": "integer", "minimum": minimum, "maximum": maximum},
                {
                    "type": "string",
                    "pattern": r"^\s*\d*\s*$",
                    "description": "digits; empty: not given",
                },
            ],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(
            validate=validate.Range(min=minimum, max=maximum), metadata=metadata, **kwargs
        )


class PointInTime(fields.Field):
    """A moment given as ISO 8601 (``2024-05-01T10:00:00Z``; no zone means UTC) or Unix seconds.

    Loads to an ``int`` Unix timestamp, the unit upstream feeds use, from 0 (the epoch: "all")
    to one day from now (a little slack for clocks); anything else is no posting time, and
    would overflow the store's 64-bit integers if taken at face value.
    """

    #: Slack for the caller's clock, in seconds.
    FUTURE_SLACK = 86400
    _MESSAGE = (
        "Expected an ISO 8601 date-time or Unix seconds, from 0 (everything) to no later than "
        "tomorrow."
    )
    # ASCII digits only: str.isdigit() also takes '²' and other digits int() refuses. Twelve
    # are already far past any posting time, and bound the work int() does.
    _SECONDS = re.compile(r"[0-9]{1,12}")

    def __init__(self, **kwargs: t.Any) -> None:
        metadata = {
            "oneOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "format": "date-time"},
                {
                    "type": "string",
                    "pattern": r"^\s*\d*\s*$",
                    "description": "Unix seconds; empty: not given",
                },
            ],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Any, **kwargs: t.Any) -> int:
        return self._bounded(self._seconds(value))

    def _seconds(self, value: t.Any) -> float:
        if isinstance(value, bool):
            raise ValidationError(self._MESSAGE)
        if isinstance(value, int | float):
            return value
        if isinstance(value, str) and len(value) <= 64:
            text = value.strip()
            if self._SECONDS.fullmatch(text):
                return int(text)
            try:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.UTC)
                return moment.timestamp()
            except (ValueError, OverflowError):
                pass
        raise ValidationError(self._MESSAGE)

    def _bounded(self, seconds: float) -> int:
        # NaN fails both comparisons, so it is refused with the rest.
        if not 0 <= seconds <= time.time() + self.FUTURE_SLACK:
            raise ValidationError(self._MESSAGE)
        return int(seconds)


class NumericId(fields.String):
    """A TikTok id: digits, given as a string or (carelessly) as a JSON number."""

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Any, **kwargs: t.Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs).strip()


class PlatformId(fields.Field):
    """A platform's own id for a zap, scenario or workflow, as its runtime sends it.

    Zapier's ``{{bundle.meta.zap.id}}`` and Make's ``{{scenario.id}}`` / ``{{webhook.id}}`` are
    whole-string templates that keep their raw type, a JSON number; n8n's workflow id is a
    string. Both load to the same text, so a zap's feed is one whichever form arrives.
    """

    def __init__(self, **kwargs: t.Any) -> None:
        metadata = {
            "oneOf": [{"type": "string"}, {"type": "integer"}],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Any, **kwargs: t.Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):
            return value.strip()
        raise ValidationError("Expected the zap, scenario or workflow id: text or a whole number.")


class Flag(fields.Field):
    """A yes/no input as platforms send it: a JSON boolean, or the text their templates
    render ("true"/"false", "1"/"0"). Loads to a bool."""

    TRUE_TEXT = ("true", "True", "TRUE", "1")
    FALSE_TEXT = ("false", "False", "FALSE", "0")

    def __init__(self, **kwargs: t.Any) -> None:
        metadata = {
            "oneOf": [
                {"type": "boolean"},
                {"type": "string", "enum": [*self.TRUE_TEXT, *self.FALSE_TEXT]},
                {"type": "integer", "enum": [0, 1]},
                # Blank, as every optional input: not given (see ArgsSchema).
                {"type": "string", "pattern": r"^\s*$", "description": "empty: not given"},
            ],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Any, **kwargs: t.Any) -> bool:
        if isinstance(value, bool):
            return value
        if value in (0, 1) or value in self.TRUE_TEXT or value in self.FALSE_TEXT:
            return value in (1, *self.TRUE_TEXT)
        raise ValidationError("Expected true or false.")
