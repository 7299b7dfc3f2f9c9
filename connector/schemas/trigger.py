"""Input of the new-video polling trigger."""

from __future__ import annotations

from marshmallow import fields, validate

from .base import ArgsSchema
from .fields import Flag, Handle, PointInTime
from .hook import reject_hook_consumer


class NewVideoArgsSchema(ArgsSchema):
    """Which handle to watch, and the dedup scope (see the README's scope rules)."""

    handle = Handle(
        required=True,
        metadata={"title": "Handle", "description": "The TikTok username to watch, e.g. @tiktok."},
    )
    consumer = fields.String(
        load_default=None,
        validate=[validate.Length(max=200), reject_hook_consumer],
        metadata={
            "title": "Consumer",
            "description": "Names the zap, scenario or workflow polling, so that each one "
            "receives every new video. Platforms fill it in; leave it empty in curl.",
        },
    )
    sample = Flag(
        load_default=False,
        metadata={
            "title": "Sample",
            "description": "Return the latest few videos without changing any state "
            "(the platforms' 'test trigger' / 'load sample' step).",
        },
    )
    since = PointInTime(
        load_default=None,
        metadata={
            "title": "Since",
            "description": "First poll only: also return videos posted at or after this time "
            "(ISO 8601 or Unix seconds) instead of starting from an empty baseline.",
        },
    )
