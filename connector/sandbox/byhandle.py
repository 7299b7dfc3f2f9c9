"""The TikTok By-Handle API, answered from the world, under its ``/dev/tiktok`` stage.

``GET /user/:userHandle`` and ``GET /video/:userHandle/:videoId`` with ``x-api-key``. As
behind AWS API Gateway: a missing or unknown key is 403 ``{"message": "Forbidden"}``,
throttling is 429 ``{"message": "Too Many Requests"}``; a missing user or video is 404
``{"message": ...}`` (its reference documents shapes only,
not errors).
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Response, request

from . import examples
from ._common import json_response, play_fault, received, world
from .world import CDN, SandboxProfile, SandboxVideo

blp = Blueprint("sandbox_byhandle", __name__, url_prefix="/dev/tiktok")

_MESSAGES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found: {subject}",
    429: "Too Many Requests",
    500: "Internal server error",
    502: "Internal server error",
    503: "Service Unavailable",
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"message": message}, status, headers)


def _refused() -> Response | None:
    key = request.headers.get("x-api-key", "").strip()
    if not key or key.startswith(("sk_invalid", "sk_no_credits")):
        return _error(403, "Forbidden")
    return None


@blp.get("/user/<handle>")
def user(handle: str) -> Response:
    endpoint = "byhandle-user"
    with received(endpoint, {"userHandle": handle}):
        scripted = play_fault(
            endpoint,
            handle,
            handle=handle,
            page=None,
            error=_error,
            messages=_MESSAGES,
            wrong_shape={"user": "oops"},
        )
        if scripted is not None:
            return scripted
        refused = _refused()
        if refused is not None:
            return refused
        if handle.lower() == examples.EXAMPLE_HANDLE:
            return json_response(examples.BYHANDLE_USER)
        profile = world().profile(handle)
        if profile is None:
            return _error(404, f"User {handle} not found")
        return json_response({"user": _user(profile), "stats": _stats(profile)})


@blp.get("/video/<handle>/<video_id>")
def video(handle: str, video_id: str) -> Response:
    endpoint = "byhandle-video"
    with received(endpoint, {"userHandle": handle, "videoId": video_id}):
        scripted = play_fault(
            endpoint,
            video_id,
            handle=handle,
            page=None,
            error=_error,
            messages=_MESSAGES,
            wrong_shape={"id": ["oops"]},
        )
        if scripted is not None:
            return scripted
        refused = _refused()
        if refused is not None:
            return refused
        if handle.lower() == examples.EXAMPLE_HANDLE and video_id == examples.BYHANDLE_VIDEO_ID:
            return json_response(examples.BYHANDLE_VIDEO)
        w = world()
        found = w.video_for(video_id, handle) if video_id.isdigit() else None
        if found is None or found.handle != handle.lower():
            return _error(404, f"Video {video_id} of {handle} not found")
        profile = w.profile(handle)
        assert profile is not None
        return json_response(_video(found, profile))


def _user(profile: SandboxProfile) -> dict[str, t.Any]:
    return {
        "id": profile.user_id,
        "nickname": profile.nickname,
        "id_dup": profile.user_id,
        "secUid": f"MS4wLjABAAAA{profile.user_id}",
        "profileBio": profile.bio,
        "profilePictureUrl": f"{CDN}/avatar/{profile.user_id}.jpeg",
        "isVerified": profile.verified,
        "isPrivateAccount": False,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
    }


def _stats(profile: SandboxProfile) -> dict[str, t.Any]:
    return {
        "diggCount": 0,
        "followerCount": profile.followers,
        "followingCount": profile.following,
        "friendCount": profile.following // 3,
        "heartCount": profile.hearts,
        "heart": profile.hearts,
        "videoCount": len(profile.videos),
    }


def _video(video: SandboxVideo, profile: SandboxProfile) -> dict[str, t.Any]:
    return {
        "id": video.id,
        "description": video.description,
        "createTime": str(video.create_time),
        "duration": video.duration,
        "music": {
            "id": video.music_id,
            "title": video.music_title,
            "authorName": video.music_author,
            "album": "",
            "duration": video.duration,
            "original": video.music_original,
            "private": False,
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z",
        },
        "stats": {
            "diggCount": video.likes,
            "collectCount": video.saves,
            "commentCount": video.comments,
            "playCount": video.plays,
            "repostCount": 0,
            "shareCount": video.shares,
        },
        "author": _user(profile),
        "authorStats": _stats(profile),
    }
