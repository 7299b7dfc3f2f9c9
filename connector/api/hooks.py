"""Instant triggers: webhook subscriptions, a sample, dead letters."""

from __future__ import annotations

import time
import typing as t

from ..schemas import (
    DeadLetterSchema,
    HookArgsSchema,
    HookCreatedSchema,
    HookSampleArgsSchema,
    HookSchema,
    ReplayArgsSchema,
    ReplayedSchema,
    VideoSchema,
)
from ..timestamps import iso_utc
from ..triggers import new_video
from .blueprint import Blueprint
from .caller import current_caller, runtime
from .docs import AUTHENTICATED

if t.TYPE_CHECKING:
    from ..store import Delivery, Subscription

blp = Blueprint("hooks", __name__, url_prefix="/v1/hooks", description="Instant triggers.")


def _hook(subscription: Subscription) -> dict[str, t.Any]:
    return {
        "id": subscription.id,
        "target_url": subscription.target_url,
        "handle": subscription.handle,
        "event": subscription.event,
        "consumer": subscription.consumer or None,
        "platform": subscription.platform,
        "provider": subscription.provider,
        "created_at": iso_utc(int(subscription.created_at)),
    }


@blp.route("", methods=["POST"])
@blp.arguments(HookArgsSchema)
@blp.response(201, HookCreatedSchema)
@blp.doc(**AUTHENTICATED)
def subscribe(args: dict[str, t.Any]) -> dict[str, t.Any]:
    """Subscribe a target URL to a handle's new videos; answers the signing secret once."""
    caller = current_caller()
    subscription, secret = runtime().subscriptions.subscribe(
        caller,
        target_url=args["target_url"],
        handle=args["handle"],
        event=args["event"],
        consumer=args["consumer"],
        provider=caller.chosen_provider,
    )
    return {**_hook(subscription), "secret": secret}


@blp.route("", methods=["GET"])
@blp.response(200, HookSchema(many=True))
@blp.doc(**AUTHENTICATED)
def list_hooks() -> list[dict[str, t.Any]]:
    """The caller's subscriptions."""
    return [_hook(s) for s in runtime().store.subscriptions(current_caller().tenant)]


@blp.route("/<subscription_id:subscription_id>", methods=["GET"])
@blp.response(200, HookSchema)
@blp.doc(**AUTHENTICATED)
def get_hook(subscription_id: str) -> dict[str, t.Any]:
    """One of the caller's subscriptions."""
    return _hook(runtime().subscriptions.owned(current_caller(), subscription_id))


@blp.route("/<subscription_id:subscription_id>", methods=["DELETE"])
@blp.response(200, HookSchema)
@blp.doc(**AUTHENTICATED)
def unsubscribe(subscription_id: str) -> dict[str, t.Any]:
    """Unsubscribe (Zapier performUnsubscribe, Make detach, n8n webhook delete)."""
    return _hook(runtime().subscriptions.unsubscribe(current_caller(), subscription_id))


@blp.route("/sample", methods=["POST"])
@blp.arguments(HookSampleArgsSchema)
@blp.response(200, VideoSchema(many=True))
@blp.doc(**AUTHENTICATED)
def sample(args: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The latest videos, shaped as deliveries are (Zapier performList, "load sample")."""
    rt = runtime()
    provider = rt.providers_for(current_caller())
    return new_video.sample(provider, args["handle"], rt.poll_settings.sample_size)


def _dead(delivery: Delivery) -> dict[str, t.Any]:
    return {
        "id": delivery.id,
        "subscription_id": delivery.subscription_id,
        "video_id": delivery.video_id,
        "webhook_id": delivery.webhook_id,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": iso_utc(int(delivery.created_at)),
    }


@blp.route("/dead-letters", methods=["GET"])
@blp.response(200, DeadLetterSchema(many=True))
@blp.doc(**AUTHENTICATED)
def dead_letters() -> list[dict[str, t.Any]]:
    """Deliveries to the caller's targets that were given up on."""
    return [_dead(d) for d in runtime().store.dead_letters(current_caller().tenant)]


@blp.route("/dead-letters/replay", methods=["POST"])
@blp.arguments(ReplayArgsSchema, required=False)
@blp.response(200, ReplayedSchema)
@blp.doc(**AUTHENTICATED)
def replay(args: dict[str, t.Any]) -> dict[str, int]:
    """Queue dead letters again (the given ids, or all of the caller's), due now."""
    count = runtime().store.replay(args["ids"], tenant=current_caller().tenant, now=time.time())
    return {"replayed": count}
