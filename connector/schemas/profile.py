"""The normalized profile record and the get-profile action's input."""

from __future__ import annotations

from marshmallow import fields

from .base import ArgsSchema, RecordSchema, nullable
from .fields import Handle


class ProfileSchema(RecordSchema):
    """One TikTok account, the same shape whichever provider answered."""

    id = fields.String(
        required=True,
        metadata={"title": "User ID", "description": "TikTok's id for the account, as a string."},
    )
    handle = fields.String(
        required=True, metadata={"title": "Handle", "description": "Username, without '@'."}
    )
    nickname = nullable(fields.String, "Display Name", "Name shown on the profile.")
    bio = nullable(fields.String, "Bio", "Profile text (signature).")
    bio_link = nullable(fields.String, "Bio Link", "Link shown in the bio, if any.")
    avatar_url = nullable(fields.String, "Avatar URL", "Profile picture, largest available.")
    verified = nullable(fields.Boolean, "Verified", "Verified badge.")
    private = nullable(fields.Boolean, "Private", "Whether the account is private.")
    region = nullable(fields.String, "Region", "Two-letter region of the account.")
    language = nullable(fields.String, "Language", "Profile language.")
    created_at = nullable(
        fields.String, "Created At", "Account creation, ISO 8601 in UTC.", fmt="date-time"
    )
    created_at_timestamp = nullable(
        fields.Integer, "Created At (Unix)", "Account creation, in Unix seconds."
    )
    follower_count = nullable(fields.Integer, "Followers", "Follower count.")
    following_count = nullable(fields.Integer, "Following", "Accounts followed.")
    like_count = nullable(fields.Integer, "Likes", "Hearts received across all videos.")
    video_count = nullable(fields.Integer, "Videos", "Videos posted.")
    friend_count = nullable(fields.Integer, "Friends", "Mutual follows.")
    url = nullable(fields.String, "Profile URL", "Link to the profile on tiktok.com.")
    provider = fields.String(
        required=True,
        metadata={"title": "Provider", "description": "Which upstream data API answered."},
    )


class GetProfileArgsSchema(ArgsSchema):
    """Input of the get-profile action."""

    handle = Handle(
        required=True,
        metadata={
            "title": "TikTok Handle",
            "description": "The TikTok username, e.g. tiktok or @tiktok (a profile URL works too).",
        },
    )
