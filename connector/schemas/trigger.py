"""Input of the new-video polling trigger."""

from __future__ import annotations

from marshmallow import validate

from .base import ArgsSchema
from .fields import WATCHED_HANDLE, Count, Flag, Handle, PlatformId, PointInTime
from .hook import reject_hook_consumer

#: The largest ``limit`` a poll takes: more than any platform processes in one run.
MAX_LIMIT = 100


class NewVideoArgsSchema(ArgsSchema):
    """Which handle to watch, and the dedup scope (see the README's scope rules)."""

    handle = Handle(required=True, metadata=WATCHED_HANDLE)
    consumer = PlatformId(
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
            "description": "First poll: return the videos posted at or after this time (ISO "
            "8601 or Unix seconds; 0 for all) instead of starting from an empty baseline. With "
            "include_recent, on every poll: the caller's own position, recent videos posted "
            "after it come first.",
        },
    )
    limit = Count(
        minimum=1,
        maximum=MAX_LIMIT,
        load_default=None,
        metadata={
            "title": "Limit",
            "description": "The most new videos one poll returns (Make's watch-module Limit). "
            "With more, the oldest come first and the rest on the next polls.",
        },
    )
    include_recent = Flag(
        load_default=False,
        metadata={
            "title": "Include recent",
            "description": "Also return the videos this feed received lately (the last hour by "
            "default), for callers that drop ids they have seen themselves (Zapier, Make, n8n's "
            "node): an answer lost in transit then comes again. Leave it off without such dedup.",
        },
    )
