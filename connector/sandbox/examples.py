"""The example responses of the providers' public API documentation, served verbatim for the
examples' own inputs.

Golden tests check that each becomes the expected normalized record. The TikTok By-Handle
API's reference gives types only; its instances here fill those types with plausible values.
"""

from __future__ import annotations

import typing as t

EXAMPLE_HANDLE = "stoolpresidente"

# DumplingAI's API reference, get-tiktok-video: POST /api/v1/get-tiktok-video for a URL
# with this id.
DUMPLINGAI_VIDEO_ID = "7321234567890123456"
DUMPLINGAI_VIDEO: dict[str, t.Any] = {
    "id": "7321234567890123456",
    "desc": "This is the video description with #hashtags",
    "createTime": 1704067200,
    "createTimeISO": "2024-01-01T00:00:00.000Z",
    "video": {
        "id": "v123",
        "height": 1024,
        "width": 576,
        "duration": 15,
        "ratio": "720p",
        "cover": "https://...jpg",
        "downloadAddr": "https://...mp4",
        "playAddr": "https://...mp4",
        "format": "mp4",
        "bitrate": 1234567,
    },
    "author": {
        "id": "6659752019493208069",
        "uniqueId": "username",
        "nickname": "Display Name",
        "avatarThumb": "https://...jpeg",
        "signature": "User bio text",
        "verified": True,
        "privateAccount": False,
    },
    "music": {
        "id": "7123456789",
        "title": "Song Title",
        "playUrl": "https://...mp3",
        "authorName": "Artist Name",
        "original": False,
        "duration": 15,
    },
    "challenges": [
        {
            "id": "123456",
            "title": "hashtagname",
            "desc": "Hashtag description",
            "coverThumb": "https://...jpeg",
        }
    ],
    "stats": {
        "diggCount": 12345,
        "shareCount": 678,
        "commentCount": 234,
        "playCount": 567890,
        "collectCount": 123,
    },
    "textExtra": [{"hashtagName": "hashtag1", "hashtagId": "123", "start": 10, "end": 19}],
    "duetEnabled": True,
    "stitchEnabled": True,
    "shareEnabled": True,
}

# DumplingAI's API reference, get-tiktok-profile-videos: POST /api/v1/get-tiktok-profile-videos for
# EXAMPLE_HANDLE, first page.
DUMPLINGAI_PROFILE_VIDEOS: dict[str, t.Any] = {
    "aweme_list": [
        {
            "aweme_id": "7460293617584139566",
            "desc": "Video description text here",
            "create_time": 1736092800,
            "statistics": {
                "comment_count": 1234,
                "digg_count": 56789,
                "download_count": 123,
                "play_count": 987654,
                "share_count": 456,
            },
            "video": {"duration": 15, "cover": {"url_list": ["https://..."]}},
            "author": {"unique_id": "username", "nickname": "Display Name"},
        }
    ],
    "max_cursor": "1736092800000",
    "min_cursor": "1735488000000",
    "has_more": 1,
    "extra": {"now": 1736179200000},
}

# DumplingAI's API reference, get-tiktok-profile: POST /api/v1/get-tiktok-profile for
# EXAMPLE_HANDLE (the example's comments dropped).
DUMPLINGAI_PROFILE: dict[str, t.Any] = {
    "user": {
        "id": "6659752019493208069",
        "shortId": "",
        "uniqueId": "stoolpresidente",
        "nickname": "Dave Portnoy",
        "avatarLarger": "https://p16-sign-va.tiktokcdn.com/...jpeg",
        "avatarMedium": "https://p16-sign-va.tiktokcdn.com/...jpeg",
        "avatarThumb": "https://p16-sign-va.tiktokcdn.com/...jpeg",
        "signature": "El Presidente/Barstool Sports Founder.",
        "createTime": 1550594547,
        "verified": True,
        "secUid": "MS4wLjABAAAAINC_ElRR-l1RCcnEjOZhNO-9wOzAMf-YHXqRY8vvG9bEhMRa6iu23TaE3JPZYXBD",
        "ftc": False,
        "relation": 0,
        "openFavorite": False,
        "bioLink": {"link": "https://www.barstoolsports.com/bios/Surviving-Barstool", "risk": 0},
        "commentSetting": 0,
        "commerceUserInfo": {"commerceUser": False},
        "duetSetting": 0,
        "stitchSetting": 0,
        "privateAccount": False,
        "secret": False,
        "isADVirtual": False,
        "roomId": "",
        "uniqueIdModifyTime": 0,
        "ttSeller": False,
        "region": "US",
        "downloadSetting": 0,
        "profileTab": {"showMusicTab": False, "showQuestionTab": False, "showPlayListTab": True},
        "followingVisibility": 1,
        "recommendReason": "",
        "nowInvitationCardUrl": "",
        "nickNameModifyTime": 0,
        "isEmbedBanned": False,
        "canExpPlaylist": True,
        "profileEmbedPermission": 1,
        "language": "en",
        "eventList": [],
        "suggestAccountBind": False,
        "isOrganization": 0,
    },
    "stats": {
        "followerCount": 4100000,
        "followingCount": 74,
        "heart": 190400000,
        "heartCount": 190400000,
        "videoCount": 2017,
        "diggCount": 0,
        "friendCount": 52,
    },
    "itemList": [],
}

# API Direct's TikTok Video Details API documentation: GET /v1/tiktok/video for this id
# (or its URL).
APIDIRECT_VIDEO_ID = "7516594811734854943"
APIDIRECT_VIDEO: dict[str, t.Any] = {
    "video": {
        "video_id": "7516594811734854943",
        "url": "https://www.tiktok.com/@tiktok/video/7516594811734854943",
        "title": "🌈🐬🦄 life after @Zara Larsson Symphony vocals 🌈🐬🦄",
        "region": "US",
        "date": "2025-06-16 17:07:10",
        "date_timestamp": 1750093630,
        "duration": 66,
        "play_count": 18912653,
        "likes": 879920,
        "comments": 4382,
        "shares": 17420,
        "downloads": 1003,
        "saves": 38685,
        "is_ad": True,
        "cover": "https://p16-common-sign.tiktokcdn-us.com/.../cover.jpeg",
        "dynamic_cover": "https://p16-common-sign.tiktokcdn-us.com/.../dynamic.image",
        "origin_cover": "https://p16-common-sign.tiktokcdn-us.com/.../origin.webp",
        "video_url": "https://v16m.tiktokcdn-us.com/.../video.mp4",
        "video_url_hd": "https://v16.tokcdn.com/.../7516594811734854943_original.mp4",
        "video_url_watermarked": "https://v16m.tiktokcdn-us.com/.../video_wm.mp4",
        "size": 7786703,
        "size_hd": 38711004,
        "size_watermarked": 7988034,
        "author": "tiktok",
        "author_name": "TikTok",
        "author_id": "107955",
        "author_avatar": "https://p19-common-sign.tiktokcdn-us.com/.../avatar.jpeg",
        "author_url": "https://www.tiktok.com/@tiktok",
        "music_id": "7516599978421209887",
        "music_title": "original sound - tiktok",
        "music_author": "TikTok",
        "music_url": "https://v16-ies-music.tiktokcdn-us.com/.../audio.mp3",
        "music_cover": "https://p16-common-sign.tiktokcdn-us.com/.../music.jpeg",
        "music_album": "",
        "music_original": True,
        "music_duration": 66,
        "mentioned_user_ids": ["205879097384816641"],
    }
}

# The TikTok By-Handle API's reference: GET /user/EXAMPLE_HANDLE and
# GET /video/EXAMPLE_HANDLE/BYHANDLE_VIDEO_ID.
_BYHANDLE_USER: dict[str, t.Any] = {
    "id": "6659752019493208069",
    "nickname": "Dave Portnoy",
    "id_dup": "6659752019493208069",
    "secUid": "MS4wLjABAAAAINC_ElRR-l1RCcnEjOZhNO-9wOzAMf-YHXqRY8vvG9bEhMRa6iu23TaE3JPZYXBD",
    "profileBio": "El Presidente/Barstool Sports Founder.",
    "profilePictureUrl": "https://p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "isVerified": True,
    "isPrivateAccount": False,
    "createdAt": "2025-03-01T12:00:00.000Z",
    "updatedAt": "2025-03-02T12:00:00.000Z",
}
_BYHANDLE_STATS: dict[str, t.Any] = {
    "diggCount": 0,
    "followerCount": 4100000,
    "followingCount": 74,
    "friendCount": 52,
    "heartCount": 190400000,
    "heart": 190400000,
    "videoCount": 2017,
}
BYHANDLE_USER: dict[str, t.Any] = {"user": _BYHANDLE_USER, "stats": _BYHANDLE_STATS}
BYHANDLE_VIDEO_ID = "7460293617584139566"
BYHANDLE_VIDEO: dict[str, t.Any] = {
    "id": "7460293617584139566",
    "description": "Pizza review #onebite #pizza",
    "createTime": "1736092800",
    "duration": 58,
    "music": {
        "id": "7460293700000000000",
        "title": "original sound - stoolpresidente",
        "authorName": "Dave Portnoy",
        "album": "",
        "duration": 58,
        "original": True,
        "private": False,
        "createdAt": "2025-03-01T12:00:00.000Z",
        "updatedAt": "2025-03-02T12:00:00.000Z",
    },
    "stats": {
        "diggCount": 56789,
        "collectCount": 321,
        "commentCount": 1234,
        "playCount": 987654,
        "repostCount": 12,
        "shareCount": 456,
    },
    "author": _BYHANDLE_USER,
    "authorStats": _BYHANDLE_STATS,
}
