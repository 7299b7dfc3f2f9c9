"""Golden tests: each example response of the providers' API documentation, served by the
sandbox, becomes exactly this."""

from __future__ import annotations

import typing as t

import httpx
import pytest

from connector.sandbox import World


def call(live: httpx.Client, provider: str, path: str, body: dict[str, t.Any]) -> t.Any:
    response = live.post(path, json=body, headers={"X-Provider": provider})
    assert response.status_code == 200, response.text
    return response.json()


def assert_fields(actual: dict[str, t.Any], expected: dict[str, t.Any]) -> None:
    assert list(actual) == list(expected), "same fields, in schema order"
    for field, value in expected.items():
        assert actual[field] == value, field
        assert type(actual[field]) is type(value), field


def test_dumplingai_get_video_example_becomes_this_record(live: httpx.Client, world: World) -> None:
    url = "https://www.tiktok.com/@username/video/7321234567890123456"
    assert_fields(
        call(live, "dumplingai", "/v1/actions/get-video", {"url": url}),
        {
            "id": "7321234567890123456",
            "url": "https://www.tiktok.com/@username/video/7321234567890123456",
            "description": "This is the video description with #hashtags",
            "created_at": "2024-01-01T00:00:00Z",
            "created_at_timestamp": 1704067200,
            "duration_seconds": 15,
            "cover_url": "https://...jpg",
            "video_url": "https://...mp4",
            "download_url": "https://...mp4",
            "author_id": "6659752019493208069",
            "author_handle": "username",
            "author_name": "Display Name",
            "author_avatar_url": "https://...jpeg",
            "author_verified": True,
            "author_url": "https://www.tiktok.com/@username",
            "music_id": "7123456789",
            "music_title": "Song Title",
            "music_author": "Artist Name",
            "music_original": False,
            "music_url": "https://...mp3",
            "hashtags": ["hashtag1"],
            "play_count": 567890,
            "like_count": 12345,
            "comment_count": 234,
            "share_count": 678,
            "save_count": 123,
            "download_count": None,
            "region": None,
            "provider": "dumplingai",
        },
    )


def test_dumplingai_profile_videos_example_becomes_these_records(live: httpx.Client) -> None:
    items = call(
        live, "dumplingai", "/v1/triggers/new-video", {"handle": "stoolpresidente", "sample": True}
    )
    assert len(items) == 1
    assert_fields(
        items[0],
        {
            "id": "7460293617584139566",
            "url": "https://www.tiktok.com/@username/video/7460293617584139566",
            "description": "Video description text here",
            "created_at": "2025-01-05T16:00:00Z",
            "created_at_timestamp": 1736092800,
            "duration_seconds": 15,
            "cover_url": "https://...",
            "video_url": None,
            "download_url": None,
            "author_id": None,
            "author_handle": "username",
            "author_name": "Display Name",
            "author_avatar_url": None,
            "author_verified": None,
            "author_url": "https://www.tiktok.com/@username",
            "music_id": None,
            "music_title": None,
            "music_author": None,
            "music_original": None,
            "music_url": None,
            "hashtags": [],
            "play_count": 987654,
            "like_count": 56789,
            "comment_count": 1234,
            "share_count": 456,
            "save_count": None,
            "download_count": 123,
            "region": None,
            "provider": "dumplingai",
        },
    )


def test_dumplingai_get_profile_example_becomes_this_record(live: httpx.Client) -> None:
    assert_fields(
        call(live, "dumplingai", "/v1/actions/get-profile", {"handle": "@stoolpresidente"}),
        {
            "id": "6659752019493208069",
            "handle": "stoolpresidente",
            "nickname": "Dave Portnoy",
            "bio": "El Presidente/Barstool Sports Founder.",
            "bio_link": "https://www.barstoolsports.com/bios/Surviving-Barstool",
            "avatar_url": "https://p16-sign-va.tiktokcdn.com/...jpeg",
            "verified": True,
            "private": False,
            "region": "US",
            "language": "en",
            "created_at": "2019-02-19T16:42:27Z",
            "created_at_timestamp": 1550594547,
            "follower_count": 4100000,
            "following_count": 74,
            "like_count": 190400000,
            "video_count": 2017,
            "friend_count": 52,
            "url": "https://www.tiktok.com/@stoolpresidente",
            "provider": "dumplingai",
        },
    )


@pytest.mark.parametrize(
    "body",
    [
        {"video_id": "7516594811734854943"},
        {"url": "https://www.tiktok.com/@tiktok/video/7516594811734854943"},
    ],
)
def test_apidirect_video_details_example_becomes_this_record(
    live: httpx.Client, world: World, body: dict[str, str]
) -> None:
    assert_fields(
        call(live, "apidirect", "/v1/actions/get-video", body),
        {
            "id": "7516594811734854943",
            "url": "https://www.tiktok.com/@tiktok/video/7516594811734854943",
            "description": "🌈🐬🦄 life after @Zara Larsson Symphony vocals 🌈🐬🦄",
            "created_at": "2025-06-16T17:07:10Z",
            "created_at_timestamp": 1750093630,
            "duration_seconds": 66,
            "cover_url": "https://p16-common-sign.tiktokcdn-us.com/.../cover.jpeg",
            "video_url": "https://v16m.tiktokcdn-us.com/.../video.mp4",
            "download_url": "https://v16.tokcdn.com/.../7516594811734854943_original.mp4",
            "author_id": "107955",
            "author_handle": "tiktok",
            "author_name": "TikTok",
            "author_avatar_url": "https://p19-common-sign.tiktokcdn-us.com/.../avatar.jpeg",
            "author_verified": None,
            "author_url": "https://www.tiktok.com/@tiktok",
            "music_id": "7516599978421209887",
            "music_title": "original sound - tiktok",
            "music_author": "TikTok",
            "music_original": True,
            "music_url": "https://v16-ies-music.tiktokcdn-us.com/.../audio.mp3",
            "hashtags": [],
            "play_count": 18912653,
            "like_count": 879920,
            "comment_count": 4382,
            "share_count": 17420,
            "save_count": 38685,
            "download_count": 1003,
            "region": "US",
            "provider": "apidirect",
        },
    )
    # The id form is sent as video_id (exact), not as a URL.
    assert world.requests("apidirect-video")[-1].body == {"video_id": "7516594811734854943"}


def test_byhandle_user_example_becomes_this_record(live: httpx.Client) -> None:
    assert_fields(
        call(live, "byhandle", "/v1/actions/get-profile", {"handle": "stoolpresidente"}),
        {
            "id": "6659752019493208069",
            "handle": "stoolpresidente",
            "nickname": "Dave Portnoy",
            "bio": "El Presidente/Barstool Sports Founder.",
            "bio_link": None,
            "avatar_url": "https://p16-sign-va.tiktokcdn.com/avatar.jpeg",
            "verified": True,
            "private": False,
            "region": None,
            "language": None,
            "created_at": None,
            "created_at_timestamp": None,
            "follower_count": 4100000,
            "following_count": 74,
            "like_count": 190400000,
            "video_count": 2017,
            "friend_count": 52,
            "url": "https://www.tiktok.com/@stoolpresidente",
            "provider": "byhandle",
        },
    )


def test_byhandle_video_example_becomes_this_record(live: httpx.Client) -> None:
    url = "https://www.tiktok.com/@StoolPresidente/video/7460293617584139566?lang=en"
    assert_fields(
        call(live, "byhandle", "/v1/actions/get-video", {"url": url}),
        {
            "id": "7460293617584139566",
            "url": "https://www.tiktok.com/@stoolpresidente/video/7460293617584139566",
            "description": "Pizza review #onebite #pizza",
            "created_at": "2025-01-05T16:00:00Z",
            "created_at_timestamp": 1736092800,
            "duration_seconds": 58,
            "cover_url": None,
            "video_url": None,
            "download_url": None,
            "author_id": "6659752019493208069",
            "author_handle": "stoolpresidente",
            "author_name": "Dave Portnoy",
            "author_avatar_url": "https://p16-sign-va.tiktokcdn.com/avatar.jpeg",
            "author_verified": True,
            "author_url": "https://www.tiktok.com/@stoolpresidente",
            "music_id": "7460293700000000000",
            "music_title": "original sound - stoolpresidente",
            "music_author": "Dave Portnoy",
            "music_original": True,
            "music_url": None,
            "hashtags": ["onebite", "pizza"],
            "play_count": 987654,
            "like_count": 56789,
            "comment_count": 1234,
            "share_count": 456,
            "save_count": 321,
            "download_count": None,
            "region": None,
            "provider": "byhandle",
        },
    )
