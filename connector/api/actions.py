"""Actions: look up one video or one profile."""

from __future__ import annotations

import typing as t

from ..schemas import GetProfileArgsSchema, GetVideoArgsSchema, ProfileSchema, VideoSchema
from .blueprint import Blueprint
from .caller import current_caller, runtime
from .docs import AUTHENTICATED

if t.TYPE_CHECKING:
    from ..links import VideoRef

blp = Blueprint("actions", __name__, url_prefix="/v1/actions", description="Lookups.")


@blp.route("/get-video", methods=["POST"])
@blp.arguments(GetVideoArgsSchema)
@blp.response(200, VideoSchema)
@blp.doc(**AUTHENTICATED)
def get_video(ref: VideoRef) -> dict[str, t.Any]:
    """One video, by TikTok URL, short link or numeric id."""
    return runtime().providers_for(current_caller()).get_video(ref)


@blp.route("/get-profile", methods=["POST"])
@blp.arguments(GetProfileArgsSchema)
@blp.response(200, ProfileSchema)
@blp.doc(**AUTHENTICATED)
def get_profile(args: dict[str, t.Any]) -> dict[str, t.Any]:
    """One profile, by handle."""
    return runtime().providers_for(current_caller()).get_profile(args["handle"])
