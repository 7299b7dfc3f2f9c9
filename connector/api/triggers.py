"""Polling triggers."""

from __future__ import annotations

import typing as t

from flask import g

from ..schemas import NewVideoArgsSchema, VideoSchema
from ..store import FeedKey
from ..triggers import new_video
from .blueprint import Blueprint
from .caller import current_caller, runtime
from .docs import AUTHENTICATED

blp = Blueprint("triggers", __name__, url_prefix="/v1/triggers", description="Polling triggers.")


@blp.route("/new-video", methods=["POST"])
@blp.arguments(NewVideoArgsSchema)
@blp.response(200, VideoSchema(many=True))
@blp.doc(**AUTHENTICATED)
def new_video_trigger(args: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Videos of a handle not returned to this feed before, newest first.

    A feed is (key, platform, consumer, handle): see the README's scope rules.
    """
    return _new_videos(args)


@blp.route("/new-video", methods=["GET"])
@blp.arguments(NewVideoArgsSchema, location="query")
@blp.response(200, VideoSchema(many=True))
@blp.doc(**AUTHENTICATED)
def new_video_trigger_get(args: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The same trigger with query parameters, for HTTP modules that poll with GET only
    (Zapier's "Webhooks by Zapier: Retrieve Poll")."""
    return _new_videos(args)


def _new_videos(args: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    caller = current_caller()
    rt = runtime()
    provider = rt.providers_for(caller)
    if args["sample"]:
        size = min(rt.poll_settings.sample_size, args["limit"] or rt.poll_settings.sample_size)
        return new_video.sample(provider, args["handle"], size)
    feed = FeedKey(
        tenant=caller.tenant,
        platform=caller.request_source,
        consumer=args["consumer"] or "",
        handle=args["handle"],
    )
    return new_video.poll(
        provider,
        rt.store,
        feed,
        since=args["since"],
        limit=args["limit"],
        include_recent=args["include_recent"],
        settings=rt.poll_settings,
        arrived=g.arrived,
    )
