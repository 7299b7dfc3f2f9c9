"""get-video, get-profile and the auth test, against the sandbox over real HTTP."""

from __future__ import annotations

import typing as t

import httpx
import pytest

from connector.sandbox import World
from connector.schemas import ProfileSchema, VideoSchema

from .conftest import KEY, fault

VIDEO_FIELDS = set(VideoSchema().fields)
PROFILE_FIELDS = set(ProfileSchema().fields)


def first_video(world: World, handle: str = "creator") -> t.Any:
    profile = world.profile(handle)
    assert profile is not None
    return profile.videos[0]


def test_get_video_by_url_returns_every_normalized_field(live: httpx.Client, world: World) -> None:
    video = first_video(world)
    url = f"https://www.tiktok.com/@creator/video/{video.id}?is_from_webapp=1"
    response = live.post("/v1/actions/get-video", json={"url": url})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == VIDEO_FIELDS
    assert body["id"] == video.id and isinstance(body["id"], str)
    assert body["url"] == f"https://www.tiktok.com/@creator/video/{video.id}"
    assert body["description"] == video.description
    assert body["created_at_timestamp"] == video.create_time
    assert body["created_at"].endswith("Z") and body["created_at"].startswith("2025-")
    assert body["duration_seconds"] == video.duration
    assert body["author_handle"] == "creator"
    assert body["author_id"] == world.profile("creator").user_id  # type: ignore[union-attr]
    assert body["play_count"] == video.plays
    assert body["like_count"] == video.likes
    assert body["comment_count"] == video.comments
    assert body["share_count"] == video.shares
    assert body["save_count"] == video.saves
    assert body["download_count"] is None  # the get-tiktok-video example has no download count
    assert body["hashtags"] == video.hashtags
    assert body["music_id"] == video.music_id
    assert body["music_original"] is video.music_original
    assert body["provider"] == "dumplingai"
    sent = world.requests("video")[-1]
    assert sent.body["url"] == f"https://www.tiktok.com/@creator/video/{video.id}"
    assert sent.authorization == f"Bearer {KEY}"


def test_get_video_by_id_and_by_short_link(live: httpx.Client, world: World) -> None:
    video = first_video(world)
    by_id = live.post("/v1/actions/get-video", json={"video_id": video.id})
    assert by_id.status_code == 200 and by_id.json()["id"] == video.id
    as_number = live.post("/v1/actions/get-video", json={"video_id": int(video.id)})
    assert as_number.json()["id"] == video.id
    short = live.post("/v1/actions/get-video", json={"url": "https://vm.tiktok.com/ZMhKxyz/"})
    assert short.status_code == 200
    assert world.requests("video")[-1].body["url"] == "https://vm.tiktok.com/ZMhKxyz/"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "https://example.com/video/1"},
        {"url": "https://www.tiktok.com/@u/video/1", "video_id": "1"},
        {"video_id": "abc"},
        {"url": 12.5},
        {"url": "https://www.tiktok.com/@u/video/7321234567890123456", "extra": 1},
    ],
)
def test_get_video_rejects_bad_input_without_calling_upstream(
    live: httpx.Client, world: World, body: dict[str, t.Any]
) -> None:
    response = live.post("/v1/actions/get-video", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert response.json()["error"].startswith("Invalid input")
    assert world.requests() == []


def test_get_profile_tolerates_at_sign_spaces_and_case(live: httpx.Client, world: World) -> None:
    response = live.post("/v1/actions/get-profile", json={"handle": "  @Some.Creator "})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PROFILE_FIELDS
    profile = world.profile("some.creator")
    assert profile is not None
    assert body["handle"] == "some.creator"
    assert body["id"] == profile.user_id
    assert body["follower_count"] == profile.followers
    assert body["like_count"] == profile.hearts
    assert body["video_count"] == len(profile.videos)
    assert body["created_at_timestamp"] == profile.created
    assert body["url"] == "https://www.tiktok.com/@some.creator"
    assert body["avatar_url"].endswith("-large.jpeg")
    assert world.requests("profile")[-1].body["handle"] == "some.creator"


@pytest.mark.parametrize("handle", ["", "   ", "bad handle", "a" * 31, "@", "名前"])
def test_get_profile_rejects_what_is_not_a_handle(live: httpx.Client, handle: str) -> None:
    response = live.post("/v1/actions/get-profile", json={"handle": handle})
    assert response.status_code == 400
    assert "handle" in response.json()["details"]


# Each documented upstream status, on each endpoint, reaches the caller as its connector error.
UPSTREAM_ERRORS = [
    (400, 400, "upstream_rejected_input"),
    (401, 401, "invalid_api_key"),
    (403, 402, "insufficient_credits"),
    (404, 404, "not_found"),
    (500, 502, "upstream_unavailable"),
    (502, 502, "upstream_unavailable"),
    (503, 429, "rate_limited"),
]
CALLS: dict[str, tuple[str, dict[str, t.Any]]] = {
    "video": (
        "/v1/actions/get-video",
        {"url": "https://www.tiktok.com/@a/video/7321234567890123456"},
    ),
    "profile": ("/v1/actions/get-profile", {"handle": "creator"}),
    "profile-videos": ("/v1/triggers/new-video", {"handle": "creator"}),
}


@pytest.mark.parametrize(("upstream", "status", "code"), UPSTREAM_ERRORS)
@pytest.mark.parametrize("endpoint", sorted(CALLS))
def test_documented_upstream_errors_map_to_connector_errors(
    live: httpx.Client, world: World, endpoint: str, upstream: int, status: int, code: str
) -> None:
    fault(world, endpoint=endpoint, status=upstream)
    path, body = CALLS[endpoint]
    response = live.post(path, json=body)
    assert response.status_code == status
    payload = response.json()
    assert payload["code"] == code
    assert payload["error"].startswith("DumplingAI: ")
    if status == 429:
        assert response.headers["Retry-After"] == "60"


def test_rate_limit_passes_upstream_retry_after(live: httpx.Client, world: World) -> None:
    fault(world, endpoint="profile", status=503, retry_after=7)
    response = live.post("/v1/actions/get-profile", json={"handle": "creator"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_unknown_profile_is_404_with_upstream_message(live: httpx.Client) -> None:
    response = live.post("/v1/actions/get-profile", json={"handle": "missing_person"})
    assert response.status_code == 404
    assert response.json() == {
        "error": "DumplingAI: TikTok profile not found for handle: missing_person",
        "code": "not_found",
    }


@pytest.mark.parametrize("endpoint", sorted(CALLS))
def test_upstream_timeout_is_504(make_app: t.Any, world: World, endpoint: str) -> None:
    fault(world, endpoint=endpoint, delay=1.0, status=200)
    client = make_app(UPSTREAM_TIMEOUT=0.3).test_client()
    path, body = CALLS[endpoint]
    response = client.post(path, json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 504
    assert response.json["code"] == "upstream_timeout"


@pytest.mark.parametrize("malformed", ["json", "shape"])
@pytest.mark.parametrize("endpoint", sorted(CALLS))
def test_malformed_upstream_data_is_502(
    live: httpx.Client, world: World, endpoint: str, malformed: str
) -> None:
    fault(world, endpoint=endpoint, malformed=malformed)
    path, body = CALLS[endpoint]
    if endpoint == "profile-videos":
        body = {**body, "sample": True}
    response = live.post(path, json=body)
    assert response.status_code == 502
    assert response.json()["code"] in ("upstream_invalid_response",)


def test_unreachable_upstream_is_502(make_app: t.Any) -> None:
    app = make_app(DUMPLINGAI_BASE_URL="http://127.0.0.1:9")
    response = app.test_client().post(
        "/v1/actions/get-profile",
        json={"handle": "creator"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 502
    assert response.json["code"] == "upstream_unavailable"


def test_missing_key_is_401_before_any_upstream_call(live: httpx.Client, world: World) -> None:
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ):
        response = live.post("/v1/actions/get-profile", json={"handle": "x"}, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "missing_api_key"
    assert world.requests() == []


def test_auth_test_accepts_a_working_key_and_spends_no_lookup(
    live: httpx.Client, world: World
) -> None:
    response = live.get("/v1/auth/test")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    # The cheap check: an empty handle, refused with 400 after the key is accepted.
    assert [r.body for r in world.requests()] == [{"handle": "", "requestSource": "API"}]


def test_auth_test_refuses_a_key_upstream_refuses(live: httpx.Client) -> None:
    response = live.get("/v1/auth/test", headers={"Authorization": "Bearer sk_invalid_123"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_auth_test_reports_an_account_out_of_credits_as_a_working_key(live: httpx.Client) -> None:
    # DumplingAI answers 403 "Insufficient credits" to a key it knows: the connection is
    # good, and reconnecting would not help, so the platform must not be told it is bad.
    response = live.get("/v1/auth/test", headers={"Authorization": "Bearer sk_no_credits_1"})
    assert response.status_code == 200
    body = response.json()
    assert body["credits"] == "exhausted"
    assert "Insufficient credits" in body["message"]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        # An upstream that validates the input first, or answers an empty handle with 404:
        # both answers came past the key check, so the key works.
        (400, "'handle' parameter is required and must be a non-empty string."),
        (404, "TikTok profile not found for handle: "),
        (503, "Rate limit exceeded with the profile service. Please try again later."),
    ],
)
def test_auth_test_judges_the_key_only_by_a_refused_key(
    live: httpx.Client, world: World, status: int, error: str
) -> None:
    fault(world, endpoint="profile", status=status, error=error)
    response = live.get("/v1/auth/test")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    assert response.json()["credits"] == "unknown"


def test_auth_test_gives_no_verdict_when_upstream_fails(live: httpx.Client, world: World) -> None:
    fault(world, endpoint="profile", status=500)
    response = live.get("/v1/auth/test")
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_unavailable"


def test_health_is_ok_and_says_which_store(live: httpx.Client) -> None:
    response = live.get("/health", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["store"] == "sqlite"
