"""API Direct: TikTok video details by URL or id (its TikTok Video Details API).

``GET /v1/tiktok/video`` with exactly one of ``url`` or ``video_id``; ``X-API-Key``; the
answer is ``{"video": {...}}`` with flat fields. A missing video is 404 with
``code: "not_found"``. Upstream allows 3 simultaneous requests per endpoint per key, so calls
queue for a slot here instead of being refused there.
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
from ..schemas import VideoSchema
from ._http import send_json
from ._mapping import (
    hashtags_from,
    id_string,
    map_record,
    require_dict,
    text,
    timestamp,
    with_times,
)
from .base import Capability, Provider

if t.TYPE_CHECKING:
    from ..links import VideoRef

_VIDEO = VideoSchema()
_ENDPOINT = "/v1/tiktok/video"


class APIDirectProvider(Provider):
    """Videos from API Direct's TikTok Video Details API, by URL or id, at most 3 calls at
    a time per key (see the module docstring); no profiles or feeds."""

    name = "apidirect"
    label = "API Direct"
    capabilities = frozenset(
        {Capability.VIDEO_BY_URL, Capability.VIDEO_BY_ID, Capability.VIDEO_BY_HANDLE_AND_ID}
    )
    default_base_url = "https://apidirect.io"
    concurrency_limit = 3
    error_statuses = {
        400: ProviderRejectedInput,
        401: ProviderAuthFailed,
        402: ProviderOutOfCredits,
        403: ProviderAuthFailed,
        404: ProviderNotFound,  # code "not_found"
        429: ProviderRateLimited,  # past 3 simultaneous requests
    }

    def get_video(self, ref: VideoRef) -> dict[str, t.Any]:
        # The id is exact and short; a short link has only its URL.
        params = {"video_id": ref.video_id} if ref.video_id else {"url": ref.url}
        body = require_dict(self._get(params), self.label)
        return map_record(_VIDEO, self._map_video, body.get("video"), self.label)

    probe_description = (
        "GET /v1/tiktok/video with neither url nor video_id: refused (400), so free (only "
        "successful requests are billed, $0.006 each)."
    )

    def probe(self) -> None:
        self._get({})

    def _get(self, params: dict[str, str]) -> t.Any:
        with self.slot(_ENDPOINT):
            return send_json(
                self.client,
                "GET",
                _ENDPOINT,
                label=self.label,
                to_error=self._error,
                headers={"X-API-Key": self.api_key},
                params=params,
            )

    def _map_video(self, video: dict[str, t.Any]) -> dict[str, t.Any]:
        handle = video.get("author")
        record = {
            "id": id_string(video.get("video_id")),
            "url": video.get("url"),
            "description": video.get("title"),
            "duration_seconds": video.get("duration"),
            "cover_url": video.get("cover") or video.get("origin_cover") or None,
            "video_url": video.get("video_url") or None,
            "download_url": video.get("video_url_hd") or video.get("video_url") or None,
            "author_id": id_string(video.get("author_id")),
            "author_handle": handle,
            "author_name": video.get("author_name"),
            "author_avatar_url": video.get("author_avatar") or None,
            "author_verified": None,
            "author_url": video.get("author_url")
            or (f"https://www.tiktok.com/@{handle}" if text(handle) else None),
            "music_id": id_string(video.get("music_id")),
            "music_title": video.get("music_title"),
            "music_author": video.get("music_author"),
            "music_original": video.get("music_original"),
            "music_url": video.get("music_url") or None,
            "hashtags": hashtags_from(text=video.get("title")),
            "play_count": video.get("play_count"),
            "like_count": video.get("likes"),
            "comment_count": video.get("comments"),
            "share_count": video.get("shares"),
            "save_count": video.get("saves"),
            "download_count": video.get("downloads"),
            "region": video.get("region") or None,
            "provider": self.name,
        }
        return with_times(record, timestamp(video.get("date_timestamp")))
