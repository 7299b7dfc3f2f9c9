"""API Direct's video endpoint (its TikTok Video Details API), answered from the world.

``GET /v1/tiktok/video`` with exactly one of ``url`` or ``video_id`` and ``X-API-Key``.
Its documentation gives the 404 ``code: "not_found"`` and a limit of 3 simultaneous requests
per endpoint per key; past it this emulator answers 429 ``code: "rate_limited"``. Other
error bodies follow the same ``{"code", "message"}`` form (an assumption: the documentation
shows only the code of the 404).
"""

from __future__ import annotations

import time
import typing as t

from flask import Blueprint, Response, request

from . import examples
from ._common import json_response, play_fault, received, world
from .world import CDN, SandboxProfile, SandboxVideo

blp = Blueprint("sandbox_apidirect", __name__, url_prefix="/v1/tiktok")

ENDPOINT = "apidirect-video"
CONCURRENCY_LIMIT = 3
_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    402: "payment_required",
    404: "not_found",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}
_MESSAGES = {
    400: "Provide exactly one of url or video_id.",
    401: "Missing or invalid API key.",
    402: "Free tier used up: add a payment method to continue.",
    404: "Video not found.",
    429: "Concurrency limit of 3 simultaneous requests per endpoint reached.",
    500: "Internal error.",
    502: "Upstream error.",
    503: "Service unavailable.",
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"code": _CODES.get(status, "error"), "message": message}, status, headers)


@blp.get("/video")
def video() -> Response:
    key = request.headers.get("X-API-Key", "").strip()
    params = request.args.to_dict()
    with received(ENDPOINT, params, slot_key=key) as in_flight:
        scripted = play_fault(
            ENDPOINT,
            params.get("url") or params.get("video_id"),
            handle=None,
            page=None,
            error=_error,
            messages=_MESSAGES,
            wrong_shape={"video": {"video_id": {"oops": 1}}},
        )
        if scripted is not None:
            return scripted
        if not key or key.startswith("sk_invalid"):
            return _error(401, _MESSAGES[401])
        if key.startswith("sk_no_credits"):
            return _error(402, _MESSAGES[402])
        if in_flight > CONCURRENCY_LIMIT:
            return _error(429, _MESSAGES[429])
        url, video_id = params.get("url"), params.get("video_id")
        if (url is None) == (video_id is None) or set(params) - {"url", "video_id"}:
            return _error(400, _MESSAGES[400])
        if url is not None and len(url) > 500:
            return _error(400, "url must be at most 500 characters.")
        if examples.APIDIRECT_VIDEO_ID in (video_id, *(url or "").split("/")):
            return json_response(examples.APIDIRECT_VIDEO)
        w = world()
        if video_id is not None:
            if not video_id.isdigit():
                return _error(400, "video_id must be numeric.")
            found = w.video_for(video_id, None)
        else:
            try:
                found = w.resolve_link(url or "")
            except ValueError:
                return _error(400, "url is not a TikTok video URL.")
        if found is None:
            return _error(404, _MESSAGES[404])
        profile = w.profile(found.handle)
        assert profile is not None
        return json_response({"video": _video(found, profile)})


def _video(video: SandboxVideo, profile: SandboxProfile) -> dict[str, t.Any]:
    return {
        "video_id": video.id,
        "url": f"https://www.tiktok.com/@{profile.handle}/video/{video.id}",
        "title": video.description,
        "region": "US",
        "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(video.create_time)),
        "date_timestamp": video.create_time,
        "duration": video.duration,
        "play_count": video.plays,
        "likes": video.likes,
        "comments": video.comments,
        "shares": video.shares,
        "downloads": video.downloads,
        "saves": video.saves,
        "is_ad": False,
        "cover": f"{CDN}/cover/{video.id}.jpeg",
        "dynamic_cover": f"{CDN}/dynamic/{video.id}.image",
        "origin_cover": f"{CDN}/origin/{video.id}.webp",
        "video_url": f"{CDN}/play/{video.id}.mp4",
        "video_url_hd": "",
        "video_url_watermarked": f"{CDN}/wm/{video.id}.mp4",
        "size": 1_000_000 + video.duration * 50_000,
        "size_hd": 0,
        "size_watermarked": 1_100_000 + video.duration * 50_000,
        "author": profile.handle,
        "author_name": profile.nickname,
        "author_id": profile.user_id,
        "author_avatar": f"{CDN}/avatar/{profile.user_id}.jpeg",
        "author_url": f"https://www.tiktok.com/@{profile.handle}",
        "music_id": video.music_id,
        "music_title": video.music_title,
        "music_author": video.music_author,
        "music_url": f"{CDN}/music/{video.music_id}.mp3",
        "music_cover": f"{CDN}/music/{video.music_id}.jpeg",
        "music_album": "",
        "music_original": video.music_original,
        "music_duration": video.duration,
        "mentioned_user_ids": [],
    }
