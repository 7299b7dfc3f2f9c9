"""The normalized video record and the get-video action's input."""

from __future__ import annotations

import typing as t

from marshmallow import ValidationError, fields, post_load, validates_schema

from ..links import (
    VIDEO_ID_PATTERN,
    VIDEO_LINK_PATTERN,
    InvalidVideoLink,
    VideoRef,
    parse_video_link,
    ref_from_id,
)
from .base import ArgsSchema, RecordSchema, nullable
from .fields import NumericId


class VideoSchema(RecordSchema):
    """One TikTok video, the same shape whichever provider answered."""

    id = fields.String(
        required=True,
        metadata={"title": "Video ID", "description": "TikTok's id (aweme_id), as a string."},
    )
    url = nullable(fields.String, "Video URL", "Link to the video on tiktok.com.", fmt="uri")
    description = nullable(fields.String, "Description", "The caption, hashtags included.")
    created_at = nullable(
        fields.String, "Posted At", "When it was posted, ISO 8601 in UTC.", fmt="date-time"
    )
    created_at_timestamp = nullable(
        fields.Integer, "Posted At (Unix)", "When it was posted, in Unix seconds."
    )
    duration_seconds = nullable(fields.Integer, "Duration (Seconds)", "Length in seconds.")
    cover_url = nullable(fields.String, "Cover Image URL", "Still cover image.")
    video_url = nullable(fields.String, "Video File URL", "Playable MP4 (temporary link).")
    download_url = nullable(
        fields.String, "Download URL", "Downloadable MP4 (temporary link), if given."
    )
    author_id = nullable(fields.String, "Author ID", "TikTok's id for the author.")
    author_handle = nullable(fields.String, "Author Handle", "Username, without '@'.")
    author_name = nullable(fields.String, "Author Name", "Display name.")
    author_avatar_url = nullable(fields.String, "Author Avatar URL", "Profile picture.")
    author_verified = nullable(fields.Boolean, "Author Verified", "Verified badge.")
    author_url = nullable(fields.String, "Author Profile URL", "Link to the author's profile.")
    music_id = nullable(fields.String, "Music ID", "TikTok's id for the sound.")
    music_title = nullable(fields.String, "Music Title", "Title of the sound.")
    music_author = nullable(fields.String, "Music Author", "Artist or creator of the sound.")
    music_original = nullable(
        fields.Boolean, "Music Is Original", "Whether the sound is an original sound."
    )
    music_url = nullable(fields.String, "Music URL", "Audio file (temporary link).")
    hashtags = fields.List(
        fields.String(),
        load_default=list,
        metadata={
            "title": "Hashtags",
            "description": "Hashtags in the caption, without '#', in order.",
        },
    )
    play_count = nullable(fields.Integer, "Views", "Play count.")
    like_count = nullable(fields.Integer, "Likes", "Like (heart) count.")
    comment_count = nullable(fields.Integer, "Comments", "Comment count.")
    share_count = nullable(fields.Integer, "Shares", "Share count.")
    save_count = nullable(fields.Integer, "Saves", "Times saved to favorites.")
    download_count = nullable(fields.Integer, "Downloads", "Download count.")
    region = nullable(fields.String, "Region", "Two-letter region it was posted from.")
    provider = fields.String(
        required=True,
        metadata={"title": "Provider", "description": "Which upstream data API answered."},
    )


#: The video link the documentation and the platforms' examples use.
VIDEO_LINK_EXAMPLE = "https://www.tiktok.com/@tiktok/video/7321234567890123456"


class GetVideoArgsSchema(ArgsSchema):
    """Input of the get-video action: exactly one of ``url`` or ``video_id``.

    Platforms send the other one empty (``""`` from Zapier, ``null`` elsewhere), so "exactly
    one" means one non-empty value, which JSON Schema cannot say; the document says at
    least one property."""

    # What marshmallow cannot say in the OpenAPI document.
    openapi_extra: t.ClassVar[dict[str, t.Any]] = {"minProperties": 1}

    url = fields.String(
        metadata={
            "title": "Video URL",
            "description": f"A TikTok video link, e.g. {VIDEO_LINK_EXAMPLE}, or a vm.tiktok.com "
            "/ vt.tiktok.com short link. Give this or the Video ID.",
            "pattern": f"{VIDEO_LINK_PATTERN}|{VIDEO_ID_PATTERN}",
            "example": VIDEO_LINK_EXAMPLE,
        }
    )
    video_id = NumericId(
        metadata={
            "title": "Video ID",
            "description": "The numeric TikTok video ID. Give this or the Video URL.",
            "pattern": VIDEO_ID_PATTERN,
        }
    )

    @validates_schema
    def exactly_one(self, data: dict[str, t.Any], **kwargs: t.Any) -> None:
        given = [key for key in ("url", "video_id") if data.get(key) is not None]
        if len(given) != 1:
            raise ValidationError("Give exactly one of 'url' or 'video_id'.", "_schema")
        try:
            self._ref(data)
        except InvalidVideoLink as exc:
            raise ValidationError(str(exc), given[0]) from exc

    @post_load
    def to_ref(self, data: dict[str, t.Any], **kwargs: t.Any) -> VideoRef:
        return self._ref(data)

    @staticmethod
    def _ref(data: dict[str, t.Any]) -> VideoRef:
        if data.get("url") is not None:
            url = data["url"].strip()
            # A bare id pasted into the URL field is unambiguous: accept it.
            return ref_from_id(url) if url.isdigit() else parse_video_link(url)
        return ref_from_id(str(data["video_id"]))
