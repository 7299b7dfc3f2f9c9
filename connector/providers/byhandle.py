"""TikTok By-Handle API: a user, and a video by its author's handle and id (per its
reference).

``GET /user/:userHandle`` and ``GET /video/:userHandle/:videoId`` with ``x-api-key``. It
sits behind AWS API Gateway, whose API-key check answers 403 ``{"message": "Forbidden"}``
for a missing or unknown key and 429 when throttling. It keeps its own copy of each user:
``createdAt``/``updatedAt`` date that copy, not the TikTok account, so they are not mapped.
"""

from __future__ import annotations

import datetime as dt
import typing as t
import urllib.parse

from ..errors import (
    ProviderAuthFailed,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderRejectedInput,
)
from ..schemas import ProfileSchema, VideoSchema
from ._http import send_json
from ._mapping import (
    InvalidValue,
    dig,
    hashtags_from,
    id_string,
    map_record,
    plausible_time,
    timestamp,
    with_times,
)
from .base import Capability, Provider

if t.TYPE_CHECKING:
    from ..links import VideoRef

_VIDEO = VideoSchema()
_PROFILE = ProfileSchema()


class ByHandleProvider(Provider):
    """Profiles, and videos by their author's handle and id, from the TikTok By-Handle API
    (behind AWS API Gateway: a refused key is 403); no feeds, no short links or bare ids."""

    name = "byhandle"
    label = "TikTok By-Handle API"
    capabilities = frozenset({Capability.PROFILE, Capability.VIDEO_BY_HANDLE_AND_ID})
    default_base_url = "https://wv2h4to5qa.execute-api.us-east-2.amazonaws.com/dev/tiktok"
    error_statuses = {
        400: ProviderRejectedInput,
        401: ProviderAuthFailed,
        403: ProviderAuthFailed,  # API Gateway's answer to a missing or unknown key
        404: ProviderNotFound,
        429: ProviderRateLimited,
    }

    def get_profile(self, handle: str) -> dict[str, t.Any]:
        body = self._get(f"/user/{_segment(handle)}")
        return map_record(_PROFILE, lambda b: self._map_profile(b, handle), body, self.label)

    def get_video(self, ref: VideoRef) -> dict[str, t.Any]:
        if not ref.handle or not ref.video_id:
            raise ProviderRejectedInput(
                f"{self.label} needs a link that names the author "
                "(https://www.tiktok.com/@user/video/ID), not a short link or a bare id."
            )
        path = f"/video/{_segment(ref.handle)}/{_segment(ref.video_id)}"
        handle = ref.handle
        return map_record(_VIDEO, lambda b: self._map_video(b, handle), self._get(path), self.label)

    probe_description = (
        "GET /user/tiktok: TikTok's own account, always in the API's cache. Its price is not "
        "published; API Gateway refuses a bad key (403) before the lookup runs."
    )

    def probe(self) -> None:
        self._get("/user/tiktok")

    def _get(self, path: str) -> t.Any:
        return send_json(
            self.client,
            "GET",
            path,
            label=self.label,
            to_error=self._error,
            headers={"x-api-key": self.api_key},
        )

    def _map_profile(self, body: dict[str, t.Any], handle: str) -> dict[str, t.Any]:
        user = body.get("user")
        stats = body.get("stats")
        record = {
            "id": id_string(dig(user, "id")),
            "handle": handle,
            "nickname": dig(user, "nickname"),
            "bio": dig(user, "profileBio"),
            "bio_link": None,
            "avatar_url": dig(user, "profilePictureUrl") or None,
            "verified": dig(user, "isVerified"),
            "private": dig(user, "isPrivateAccount"),
            "region": None,
            "language": None,
            "follower_count": dig(stats, "followerCount"),
            "following_count": dig(stats, "followingCount"),
            "like_count": next(
                (v for v in (dig(stats, "heartCount"), dig(stats, "heart")) if v is not None), None
            ),
            "video_count": dig(stats, "videoCount"),
            "friend_count": dig(stats, "friendCount"),
            "url": f"https://www.tiktok.com/@{handle}",
            "provider": self.name,
        }
        return with_times(record, None)

    def _map_video(self, body: dict[str, t.Any], handle: str) -> dict[str, t.Any]:
        video_id = id_string(body.get("id"))
        stats = body.get("stats")
        record = {
            "id": video_id,
            "url": f"https://www.tiktok.com/@{handle}/video/{video_id}" if video_id else None,
            "description": body.get("description"),
            "duration_seconds": body.get("duration"),
            "cover_url": None,
            "video_url": None,
            "download_url": None,
            "author_id": id_string(dig(body, "author", "id")),
            "author_handle": handle,
            "author_name": dig(body, "author", "nickname"),
            "author_avatar_url": dig(body, "author", "profilePictureUrl") or None,
            "author_verified": dig(body, "author", "isVerified"),
            "author_url": f"https://www.tiktok.com/@{handle}",
            "music_id": id_string(dig(body, "music", "id")),
            "music_title": dig(body, "music", "title"),
            "music_author": dig(body, "music", "authorName"),
            "music_original": dig(body, "music", "original"),
            "music_url": None,
            "hashtags": hashtags_from(text=body.get("description")),
            "play_count": dig(stats, "playCount"),
            "like_count": dig(stats, "diggCount"),
            "comment_count": dig(stats, "commentCount"),
            "share_count": dig(stats, "shareCount"),
            "save_count": dig(stats, "collectCount"),
            "download_count": None,
            "region": None,
            "provider": self.name,
        }
        return with_times(record, _created(body.get("createTime")))


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _created(value: t.Any) -> int | None:
    """``createTime`` is documented as a string: Unix seconds, or an ISO 8601 date."""
    if not isinstance(value, str) or not value.strip() or value.strip().isdecimal():
        return timestamp(value)
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue("a time that is neither Unix seconds nor ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return plausible_time(int(moment.timestamp()))
