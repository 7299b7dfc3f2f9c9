"""DumplingAI: get video, profile and profile videos (DumplingAI's API reference:
get-tiktok-video, get-tiktok-profile, get-tiktok-profile-videos).

Bearer key; every body carries ``requestSource``. Errors come as ``{"error": "..."}``
with 400, 401, 403 (out of credits), 404, 500, 502 and 503 (rate limited).
"""

from __future__ import annotations

import typing as t

from ..errors import (
    ProviderAuthFailed,
    ProviderNotFound,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderRejectedInput,
)
from ..schemas import ProfileSchema, VideoSchema
from ._http import send_json
from ._mapping import (
    cursor_string,
    dig,
    first_url,
    hashtags_from,
    id_string,
    items,
    list_feed,
    map_record,
    require_dict,
    text,
    timestamp,
    with_times,
)
from .base import Capability, Provider, VideoPage

if t.TYPE_CHECKING:
    from ..links import VideoRef

_VIDEO = VideoSchema()
_PROFILE = ProfileSchema()


class DumplingAIProvider(Provider):
    """Every capability, from DumplingAI's TikTok endpoints: the default provider, and the
    only one that lists a profile's videos (which the new-video trigger needs)."""

    name = "dumplingai"
    label = "DumplingAI"
    default_base_url = "https://app.dumplingai.com"
    error_statuses = {
        400: ProviderRejectedInput,
        401: ProviderAuthFailed,
        403: ProviderOutOfCredits,
        404: ProviderNotFound,
        429: ProviderRateLimited,
        503: ProviderRateLimited,  # "Rate limit exceeded. Please try again later."
    }
    # Video by id works through a canonical URL built from the id.
    capabilities = frozenset(Capability)

    def get_video(self, ref: VideoRef) -> dict[str, t.Any]:
        body = self._post("/api/v1/get-tiktok-video", {"url": ref.url})
        return map_record(_VIDEO, self._map_video, body, self.label)

    def get_profile(self, handle: str) -> dict[str, t.Any]:
        body = self._post("/api/v1/get-tiktok-profile", {"handle": handle})
        return map_record(_PROFILE, self._map_profile, body, self.label)

    def list_videos(self, handle: str, cursor: str | None = None) -> VideoPage:
        payload: dict[str, t.Any] = {"handle": handle}
        if cursor:
            payload["maxCursor"] = cursor
        body = require_dict(self._post("/api/v1/get-tiktok-profile-videos", payload), self.label)
        items = body.get("aweme_list")
        listed, unlisted, expand = list_feed(
            _VIDEO,
            self._map_aweme,
            _aweme_position,
            [] if items is None else items,
            self.label,
            handle,
        )
        has_more = body.get("has_more", body.get("hasMore"))
        next_cursor = cursor_string(body.get("max_cursor"))
        return VideoPage(
            listed=listed,
            cursor=next_cursor,
            has_more=bool(has_more) and bool(next_cursor),
            unlisted=unlisted,
            expand=expand,
        )

    probe_description = (
        "POST /api/v1/get-tiktok-profile with an empty handle: refused (400), so free (only "
        "successful requests cost credits, 10 each)."
    )

    def probe(self) -> None:
        self._post("/api/v1/get-tiktok-profile", {"handle": ""})

    # -- plumbing ---------------------------------------------------------------------------

    def _post(self, path: str, payload: dict[str, t.Any]) -> t.Any:
        return send_json(
            self.client,
            "POST",
            path,
            label=self.label,
            to_error=self._error,
            headers={"Authorization": f"Bearer {self.api_key}"},
            json={**payload, "requestSource": self.request_source},
        )

    # -- mapping ----------------------------------------------------------------------------

    def _map_video(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        """``get-tiktok-video``: TikTok's web item shape (camelCase)."""
        video_id = id_string(body.get("id"))
        handle = dig(body, "author", "uniqueId")
        tags = [dig(x, "hashtagName") for x in items(body.get("textExtra"))]
        challenges = [dig(x, "title") for x in items(body.get("challenges"))]
        record = {
            "id": video_id,
            "url": _video_url(handle, video_id),
            "description": body.get("desc"),
            "duration_seconds": dig(body, "video", "duration"),
            "cover_url": first_url(dig(body, "video", "cover")),
            "video_url": first_url(dig(body, "video", "playAddr")),
            "download_url": first_url(dig(body, "video", "downloadAddr")),
            "author_id": id_string(dig(body, "author", "id")),
            "author_handle": handle,
            "author_name": dig(body, "author", "nickname"),
            "author_avatar_url": first_url(dig(body, "author", "avatarThumb")),
            "author_verified": dig(body, "author", "verified"),
            "author_url": _profile_url(handle),
            "music_id": id_string(dig(body, "music", "id")),
            "music_title": dig(body, "music", "title"),
            "music_author": dig(body, "music", "authorName"),
            "music_original": dig(body, "music", "original"),
            "music_url": first_url(dig(body, "music", "playUrl")),
            "hashtags": hashtags_from(tags, challenges, text=body.get("desc")),
            "play_count": dig(body, "stats", "playCount"),
            "like_count": dig(body, "stats", "diggCount"),
            "comment_count": dig(body, "stats", "commentCount"),
            "share_count": dig(body, "stats", "shareCount"),
            "save_count": dig(body, "stats", "collectCount"),
            "download_count": dig(body, "stats", "downloadCount"),
            "region": body.get("locationCreated"),
            "provider": self.name,
        }
        return with_times(record, timestamp(body.get("createTime")))

    def _map_aweme(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """``get-tiktok-profile-videos``: TikTok's app "aweme" shape (snake_case)."""
        video_id = id_string(item.get("aweme_id") or item.get("id"))
        handle = dig(item, "author", "unique_id")
        tags = [dig(x, "hashtag_name") for x in items(item.get("text_extra"))]
        stats = item.get("statistics")
        record = {
            "id": video_id,
            "url": item.get("share_url") or _video_url(handle, video_id),
            "description": item.get("desc"),
            "duration_seconds": dig(item, "video", "duration"),
            "cover_url": first_url(dig(item, "video", "cover")),
            "video_url": first_url(dig(item, "video", "play_addr")),
            "download_url": first_url(dig(item, "video", "download_addr")),
            "author_id": id_string(dig(item, "author", "uid")),
            "author_handle": handle,
            "author_name": dig(item, "author", "nickname"),
            "author_avatar_url": first_url(dig(item, "author", "avatar_thumb")),
            "author_verified": _verified(dig(item, "author", "verification_type")),
            "author_url": _profile_url(handle),
            "music_id": id_string(dig(item, "music", "id_str") or dig(item, "music", "id")),
            "music_title": dig(item, "music", "title"),
            "music_author": dig(item, "music", "author"),
            "music_original": dig(item, "music", "is_original"),
            "music_url": first_url(dig(item, "music", "play_url")),
            "hashtags": hashtags_from(tags, text=item.get("desc")),
            "play_count": dig(stats, "play_count"),
            "like_count": dig(stats, "digg_count"),
            "comment_count": dig(stats, "comment_count"),
            "share_count": dig(stats, "share_count"),
            "save_count": dig(stats, "collect_count"),
            "download_count": dig(stats, "download_count"),
            "region": item.get("region"),
            "provider": self.name,
        }
        return with_times(record, timestamp(item.get("create_time")))

    def _map_profile(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        user = body.get("user")
        stats = body.get("stats")
        handle = dig(user, "uniqueId")
        avatar = next(
            (
                first_url(dig(user, key))
                for key in ("avatarLarger", "avatarMedium", "avatarThumb")
                if first_url(dig(user, key))
            ),
            None,
        )
        record = {
            "id": id_string(dig(user, "id")),
            "handle": handle,
            "nickname": dig(user, "nickname"),
            "bio": dig(user, "signature"),
            "bio_link": dig(user, "bioLink", "link"),
            "avatar_url": avatar,
            "verified": dig(user, "verified"),
            "private": dig(user, "privateAccount"),
            "region": dig(user, "region") or None,
            "language": dig(user, "language") or None,
            "follower_count": dig(stats, "followerCount"),
            "following_count": dig(stats, "followingCount"),
            "like_count": _first_number(dig(stats, "heartCount"), dig(stats, "heart")),
            "video_count": dig(stats, "videoCount"),
            "friend_count": dig(stats, "friendCount"),
            "url": _profile_url(handle),
            "provider": self.name,
        }
        return with_times(record, timestamp(dig(user, "createTime")))


def _aweme_position(item: dict[str, t.Any]) -> tuple[str | None, int | None]:
    """An aweme's id and posting time, read as :meth:`DumplingAIProvider._map_aweme` reads
    them."""
    return id_string(item.get("aweme_id") or item.get("id")), timestamp(item.get("create_time"))


def _video_url(handle: t.Any, video_id: str | None) -> str | None:
    if not video_id:
        return None
    return f"https://www.tiktok.com/@{text(handle) or '_'}/video/{video_id}"


def _profile_url(handle: t.Any) -> str | None:
    return f"https://www.tiktok.com/@{handle}" if isinstance(handle, str) and handle else None


def _verified(verification_type: t.Any) -> bool | None:
    # The app feed marks a verified author with a non-zero verification_type.
    if isinstance(verification_type, int) and not isinstance(verification_type, bool):
        return verification_type > 0
    return None


def _first_number(*values: t.Any) -> t.Any:
    return next((v for v in values if v is not None), None)
