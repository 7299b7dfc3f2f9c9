"""Webhook subscriptions (instant triggers) and their dead letters."""

from __future__ import annotations

import typing as t

from marshmallow import Schema, ValidationError, fields, validate

from .base import ArgsSchema
from .fields import WATCHED_HANDLE, Handle, PlatformId


class HookArgsSchema(ArgsSchema):
    """Subscribe a target URL (Zapier performSubscribe, Make attach, n8n webhook create)."""

    target_url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={
            "title": "Target URL",
            "description": "Where each new video is POSTed (the platform's hook URL).",
        },
    )
    handle = Handle(required=True, metadata=WATCHED_HANDLE)
    event = fields.String(
        load_default="new_video",
        validate=validate.OneOf(["new_video"]),
        # "" is documented too: platforms send an optional input left empty as "".
        metadata={
            "title": "Event",
            "description": "What to send: new_video.",
            "enum": ["new_video", ""],
        },
    )
    consumer = PlatformId(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"title": "Consumer", "description": "The zap, scenario or workflow id."},
    )


class HookSampleArgsSchema(ArgsSchema):
    """Input of the instant trigger's sample: the handle it would watch."""

    handle = Handle(required=True, metadata=WATCHED_HANDLE)


class HookSchema(Schema):
    """A webhook subscription: where new videos of a handle are delivered."""

    id = fields.String(required=True, metadata={"description": "Use it to unsubscribe."})
    target_url = fields.String(required=True)
    handle = fields.String(required=True)
    event = fields.String(required=True)
    consumer = fields.String(allow_none=True)
    platform = fields.String(
        required=True, metadata={"description": "requestSource it polls with."}
    )
    provider = fields.String(allow_none=True, metadata={"description": "X-Provider given, if any."})
    created_at = fields.String(required=True, metadata={"description": "ISO 8601 UTC."})


class HookCreatedSchema(HookSchema):
    """A subscription just made, with its signing secret (shown this once)."""

    secret = fields.String(
        required=True,
        metadata={
            "description": "Standard Webhooks signing secret (whsec_...). Shown only now: "
            "verify each delivery's webhook-signature with it."
        },
    )


class DeadLetterSchema(Schema):
    """A delivery given up on, kept for replay."""

    id = fields.Integer(required=True)
    subscription_id = fields.String(required=True)
    video_id = fields.String(required=True)
    webhook_id = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.String(required=True)


class ReplayArgsSchema(ArgsSchema):
    """Which dead letters to deliver again."""

    ids = fields.List(
        fields.Integer(strict=True),
        load_default=None,
        metadata={"description": "Dead letters to replay; all of yours when omitted."},
    )


class ReplayedSchema(Schema):
    """How many dead letters were queued again."""

    replayed = fields.Integer(required=True)


def reject_hook_consumer(value: t.Any) -> None:
    if isinstance(value, str) and value.startswith("hook:"):
        raise ValidationError("Consumers starting with 'hook:' are reserved for subscriptions.")


__all__ = [
    "DeadLetterSchema",
    "HookArgsSchema",
    "HookCreatedSchema",
    "HookSampleArgsSchema",
    "HookSchema",
    "ReplayArgsSchema",
    "ReplayedSchema",
    "reject_hook_consumer",
]
