"""DumplingAI's three TikTok endpoints, answered from the world.

Request handling follows DumplingAI's API reference: Bearer key (401 "API key is invalid or
missing."), JSON body (400 "Invalid JSON in request body"), required parameter (400 "'x'
parameter is required and must be a non-empty string."), then the lookup (404), with the
documented bodies. Keys starting ``sk_invalid`` are refused (401) and ``sk_no_credits`` are out of
credits (403). Scripted faults answer any documented status instead.
"""

from __future__ import annotations

import time
import typing as t

from flask import Blueprint, Response, json, request

from . import examples
from ._common import json_response, play_fault, received, world
from .examples import DUMPLINGAI_VIDEO_ID
from .world import CDN, SandboxProfile, SandboxVideo, now_ms

blp = Blueprint("sandbox_dumplingai", __name__, url_prefix="/api/v1")

# The API reference's error bodies, by endpoint and status.
_MESSAGES: dict[str, dict[int, str]] = {
    "video": {
        400: "The video service could not process the provided URL.",
        401: "API key is invalid or missing.",
        403: "Insufficient credits. Please top up your account.",
        404: "TikTok video not found for URL: {subject}",
        500: "An unexpected server error occurred while fetching the TikTok video: sandbox fault",
        502: "The video service is currently unavailable.",
        503: "Rate limit exceeded. Please try again later.",
    },
    "profile": {
        400: "The profile service could not process the handle.",
        401: "API key is invalid or missing.",
        403: "Insufficient credits. Please top up your account.",
        404: "TikTok profile not found for handle: {subject}",
        500: "An unexpected server error occurred while fetching the TikTok profile: sandbox fault",
        502: "The profile service is currently unavailable.",
        503: "Rate limit exceeded with the profile service. Please try again later.",
    },
    "profile-videos": {
        400: "The video service could not process the handle.",
        401: "API key is invalid or missing.",
        403: "Insufficient credits. Please top up your account.",
        404: "TikTok profile not found for handle: {subject}",
        500: "An unexpected server error occurred while fetching the TikTok profile videos: "
        "sandbox fault",
        502: "Received invalid data format from video service.",
        503: "Rate limit exceeded. Please try again later.",
    },
}
_WRONG_SHAPE = {
    "video": {"id": {"oops": 1}},
    "profile": {"user": []},
    "profile-videos": {"aweme_list": "oops", "has_more": 0},
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


def _ok(body: t.Any) -> Response:
    return json_response(
        body, headers={"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "999"}
    )


def _raw_ok(text: str) -> Response:
    return Response(
        text,
        200,
        mimetype="application/json",
        headers={"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "999"},
    )


def _handle(
    endpoint: str,
    parameter: str,
    answer: t.Callable[[dict[str, t.Any], str], Response],
) -> Response:
    raw = request.get_data(as_text=True)
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body, invalid_json = None, True
    else:
        invalid_json = not isinstance(body, dict)
    with received(endpoint, body):
        subject = body.get(parameter) if isinstance(body, dict) else None
        handle = subject if endpoint != "video" and isinstance(subject, str) else None
        cursor = _cursor(body) if endpoint == "profile-videos" else None
        page = world().page_number(handle, cursor) if handle and cursor else (1 if handle else None)
        scripted = play_fault(
            endpoint,
            subject,
            handle=handle,
            page=page,
            error=_error,
            messages=_MESSAGES[endpoint],
            wrong_shape=_WRONG_SHAPE[endpoint],
        )
        if scripted is not None:
            return scripted
        key = request.headers.get("Authorization", "")
        if not key.startswith("Bearer ") or not key[7:].strip() or key[7:].startswith("sk_invalid"):
            return _error(401, _MESSAGES[endpoint][401])
        if key[7:].startswith("sk_no_credits"):
            return _error(403, _MESSAGES[endpoint][403])
        if invalid_json:
            return _error(400, "Invalid JSON in request body")
        assert isinstance(body, dict)
        if not isinstance(subject, str) or not subject.strip():
            return _error(
                400, f"'{parameter}' parameter is required and must be a non-empty string."
            )
        return answer(body, subject.strip())


def _cursor(body: t.Any) -> int | None:
    value = body.get("maxCursor") if isinstance(body, dict) else None
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@blp.post("/get-tiktok-video")
def get_tiktok_video() -> Response:
    def answer(body: dict[str, t.Any], url: str) -> Response:
        w = world()
        if DUMPLINGAI_VIDEO_ID in url:
            return _ok(examples.DUMPLINGAI_VIDEO)
        try:
            video = w.resolve_link(url)
        except ValueError:
            return _error(400, "Invalid TikTok video URL format.")
        if video is None:
            return _error(404, f"TikTok video not found for URL: {url}")
        profile = w.profile(video.handle)
        assert profile is not None
        return _ok(_web_item(video, profile))

    return _handle("video", "url", answer)


@blp.post("/get-tiktok-profile")
def get_tiktok_profile() -> Response:
    def answer(body: dict[str, t.Any], handle: str) -> Response:
        if handle.lower() == examples.EXAMPLE_HANDLE:
            return _ok(examples.DUMPLINGAI_PROFILE)
        profile = world().profile(handle.lstrip("@"))
        if profile is None:
            return _error(404, f"TikTok profile not found for handle: {handle}")
        return _ok(_profile_body(profile))

    return _handle("profile", "handle", answer)


@blp.post("/get-tiktok-profile-videos")
def get_tiktok_profile_videos() -> Response:
    def answer(body: dict[str, t.Any], handle: str) -> Response:
        if handle.lower() == examples.EXAMPLE_HANDLE:
            first = _cursor(body) is None
            return _ok(
                examples.DUMPLINGAI_PROFILE_VIDEOS if first else {"aweme_list": [], "has_more": 0}
            )
        w = world()
        profile = w.profile(handle.lstrip("@"))
        if profile is None:
            return _error(404, f"TikTok profile not found for handle: {handle}")
        videos, cursor, has_more = w.page(profile.handle, _cursor(body))
        items = [_aweme(v, profile) for v in videos]
        rest = {
            "max_cursor": str(cursor) if cursor is not None else None,
            "min_cursor": str(videos[0].create_time * 1000) if videos else None,
            "has_more": 1 if has_more else 0,
            "extra": {"now": now_ms()},
        }
        raw = w.raw_items_for(profile.handle) if _cursor(body) is None else []
        if not raw:
            return _ok({"aweme_list": items, **rest})
        # Hostile items are spliced in as text: they need not survive a JSON round trip.
        listed = ", ".join([*raw, *(json.dumps(item) for item in items)])
        return _raw_ok(f'{{"aweme_list": [{listed}], {json.dumps(rest)[1:]}')

    return _handle("profile-videos", "handle", answer)


def _web_item(video: SandboxVideo, profile: SandboxProfile) -> dict[str, t.Any]:
    """The get-tiktok-video body, as the API reference's example shows it."""
    return {
        "id": video.id,
        "desc": video.description,
        "createTime": video.create_time,
        "createTimeISO": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(video.create_time)),
        "video": {
            "id": f"v{video.id[-6:]}",
            "height": 1024,
            "width": 576,
            "duration": video.duration,
            "ratio": "720p",
            "cover": f"{CDN}/cover/{video.id}.jpg",
            "downloadAddr": f"{CDN}/download/{video.id}.mp4",
            "playAddr": f"{CDN}/play/{video.id}.mp4",
            "format": "mp4",
            "bitrate": 1234567,
        },
        "author": {
            "id": profile.user_id,
            "uniqueId": profile.handle,
            "nickname": profile.nickname,
            "avatarThumb": f"{CDN}/avatar/{profile.user_id}.jpeg",
            "signature": profile.bio,
            "verified": profile.verified,
            "privateAccount": False,
        },
        "music": {
            "id": video.music_id,
            "title": video.music_title,
            "playUrl": f"{CDN}/music/{video.music_id}.mp3",
            "authorName": video.music_author,
            "original": video.music_original,
            "duration": video.duration,
        },
        "challenges": [
            {"id": str(1000 + i), "title": tag, "desc": f"#{tag}", "coverThumb": f"{CDN}/c.jpeg"}
            for i, tag in enumerate(video.hashtags)
        ],
        "stats": {
            "diggCount": video.likes,
            "shareCount": video.shares,
            "commentCount": video.comments,
            "playCount": video.plays,
            "collectCount": video.saves,
        },
        "textExtra": [
            {"hashtagName": tag, "hashtagId": str(1000 + i), "start": 0, "end": len(tag) + 1}
            for i, tag in enumerate(video.hashtags)
        ],
        "duetEnabled": True,
        "stitchEnabled": True,
        "shareEnabled": True,
    }


def _aweme(video: SandboxVideo, profile: SandboxProfile) -> dict[str, t.Any]:
    """One ``aweme_list`` item: the get-tiktok-profile-videos example's fields plus the app
    feed's usual extras."""
    return {
        "aweme_id": video.id,
        "desc": video.description,
        "create_time": video.create_time,
        "statistics": {
            "comment_count": video.comments,
            "digg_count": video.likes,
            "download_count": video.downloads,
            "play_count": video.plays,
            "share_count": video.shares,
            "collect_count": video.saves,
        },
        "video": {
            "duration": video.duration,
            "cover": {"url_list": [f"{CDN}/cover/{video.id}.jpg"]},
            "play_addr": {"url_list": [f"{CDN}/play/{video.id}.mp4"]},
        },
        "author": {
            "uid": profile.user_id,
            "unique_id": profile.handle,
            "nickname": profile.nickname,
            "avatar_thumb": {"url_list": [f"{CDN}/avatar/{profile.user_id}.jpeg"]},
        },
        "music": {
            "id_str": video.music_id,
            "title": video.music_title,
            "author": video.music_author,
        },
        "text_extra": [{"hashtag_name": tag} for tag in video.hashtags],
        "is_top": 1 if video.id in profile.pinned else 0,
    }


def _profile_body(profile: SandboxProfile) -> dict[str, t.Any]:
    """The get-tiktok-profile body, as the API reference's example shows it."""
    avatar = f"{CDN}/avatar/{profile.user_id}"
    return {
        "user": {
            "id": profile.user_id,
            "shortId": "",
            "uniqueId": profile.handle,
            "nickname": profile.nickname,
            "avatarLarger": f"{avatar}-large.jpeg",
            "avatarMedium": f"{avatar}-medium.jpeg",
            "avatarThumb": f"{avatar}.jpeg",
            "signature": profile.bio,
            "createTime": profile.created,
            "verified": profile.verified,
            "secUid": f"MS4wLjABAAAA{profile.user_id}",
            "privateAccount": False,
            "bioLink": {"link": f"https://example.com/{profile.handle}", "risk": 0},
            "region": "US",
            "language": "en",
        },
        "stats": {
            "followerCount": profile.followers,
            "followingCount": profile.following,
            "heart": profile.hearts,
            "heartCount": profile.hearts,
            "videoCount": len(profile.videos),
            "diggCount": 0,
            "friendCount": profile.following // 3,
        },
        "itemList": [],
    }
