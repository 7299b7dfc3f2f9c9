"""Provider selection, capabilities, failover, the API Direct concurrency limit, and each
provider's documented errors."""

from __future__ import annotations

import concurrent.futures
import typing as t

import httpx
import pytest

from connector import create_app
from connector.errors import ConfigError
from connector.sandbox import World

from .conftest import KEY, fault

TOKEN = "operator-token-123"
SERVER_KEYS = {
    "DUMPLINGAI_API_KEY": "sk_server_dumpling",
    "APIDIRECT_API_KEY": "sk_server_apidirect",
    "BYHANDLE_API_KEY": "sk_server_byhandle",
}
LONG_URL = "https://www.tiktok.com/@creator/video/{id}"


def video_id(world: World, handle: str = "creator", index: int = 0) -> str:
    profile = world.profile(handle)
    assert profile is not None
    return profile.videos[index].id


@pytest.fixture
def operator(make_app: t.Any) -> t.Any:
    """A connector holding server-side keys for all three providers."""
    app = make_app(
        **SERVER_KEYS, ACCESS_TOKENS=TOKEN, PROVIDER_ORDER="dumplingai,apidirect,byhandle"
    )
    return app.test_client()


def as_operator(client: t.Any, path: str, body: dict[str, t.Any], **headers: str) -> t.Any:
    return client.post(path, json=body, headers={"Authorization": f"Bearer {TOKEN}", **headers})


def test_providers_are_listed_with_capabilities_and_server_keys(
    make_app: t.Any, client: t.Any
) -> None:
    listed = {p["name"]: p for p in client.get("/v1/providers").json}
    assert list(listed) == ["dumplingai", "apidirect", "byhandle"]
    assert listed["dumplingai"]["default"] is True
    assert "profile_videos" in listed["dumplingai"]["capabilities"]
    assert listed["apidirect"]["capabilities"] == [
        "video_by_handle_and_id",
        "video_by_id",
        "video_by_url",
    ]
    assert listed["apidirect"]["concurrency_limit"] == 3
    assert listed["byhandle"]["capabilities"] == ["profile", "video_by_handle_and_id"]
    assert not any(p["server_key"] for p in listed.values())
    held = make_app(APIDIRECT_API_KEY="k", ACCESS_TOKENS="t").test_client().get("/v1/providers")
    ranks = {p["name"]: (p["server_key"], p["failover_rank"]) for p in held.json}
    assert ranks == {"dumplingai": (False, None), "apidirect": (True, 1), "byhandle": (False, None)}


@pytest.mark.parametrize(
    ("provider", "endpoint", "header"),
    [
        ("dumplingai", "video", None),
        ("apidirect", "apidirect-video", "X-API-Key"),
        ("byhandle", "byhandle-video", "x-api-key"),
    ],
)
def test_x_provider_picks_the_provider_and_its_auth_header(
    live: httpx.Client, world: World, provider: str, endpoint: str, header: str | None
) -> None:
    vid = video_id(world)
    response = live.post(
        "/v1/actions/get-video",
        json={"url": LONG_URL.format(id=vid)},
        headers={"X-Provider": provider},
    )
    assert response.status_code == 200, response.text
    assert response.json()["provider"] == provider
    assert response.json()["id"] == vid
    (sent,) = world.requests(endpoint)
    if header is None:
        assert sent.authorization == f"Bearer {KEY}"
    else:
        assert sent.api_key == KEY and sent.authorization is None


def test_byhandle_profile_matches_dumplingai_profile(live: httpx.Client) -> None:
    a = live.post("/v1/actions/get-profile", json={"handle": "creator"}).json()
    b = live.post(
        "/v1/actions/get-profile", json={"handle": "creator"}, headers={"X-Provider": "byhandle"}
    ).json()
    for field in ("id", "handle", "nickname", "bio", "verified", "follower_count", "like_count"):
        assert a[field] == b[field], field


def test_unknown_x_provider_is_400(live: httpx.Client, world: World) -> None:
    response = live.post(
        "/v1/actions/get-profile", json={"handle": "a"}, headers={"X-Provider": "nope"}
    )
    assert response.status_code == 400
    assert "dumplingai, apidirect, byhandle" in response.json()["error"]
    assert world.requests() == []


@pytest.mark.parametrize(
    ("provider", "path", "body"),
    [
        ("apidirect", "/v1/triggers/new-video", {"handle": "creator"}),
        ("apidirect", "/v1/actions/get-profile", {"handle": "creator"}),
        ("byhandle", "/v1/triggers/new-video", {"handle": "creator", "sample": True}),
        ("byhandle", "/v1/actions/get-video", {"url": "https://vm.tiktok.com/ZMabc123/"}),
        ("byhandle", "/v1/actions/get-video", {"video_id": "7321234567890123456"}),
    ],
)
def test_a_missing_capability_is_a_clear_400(
    live: httpx.Client, world: World, provider: str, path: str, body: dict[str, t.Any]
) -> None:
    response = live.post(path, json=body, headers={"X-Provider": provider})
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "unsupported_by_provider"
    assert "cannot" in payload["error"] and "X-Provider" in payload["error"]
    assert payload["details"]["needs"]
    assert world.requests() == []


# -- failover across the operator's keys ----------------------------------------------------


@pytest.mark.parametrize(
    "failure", [{"status": 503}, {"status": 500}, {"status": 502}, {"malformed": "json"}]
)
def test_a_failing_provider_fails_over_to_the_next(
    operator: t.Any, world: World, failure: dict[str, t.Any]
) -> None:
    vid = video_id(world)
    fault(world, endpoint="video", **failure)
    response = as_operator(operator, "/v1/actions/get-video", {"url": LONG_URL.format(id=vid)})
    assert response.status_code == 200, response.json
    assert response.json["provider"] == "apidirect"
    assert world.requests("video")[0].authorization == "Bearer sk_server_dumpling"
    assert world.requests("apidirect-video")[0].api_key == "sk_server_apidirect"


def test_a_timeout_fails_over(make_app: t.Any, world: World) -> None:
    client = make_app(**SERVER_KEYS, ACCESS_TOKENS=TOKEN, UPSTREAM_TIMEOUT=0.3).test_client()
    fault(world, endpoint="profile", delay=1.0, status=200)
    response = as_operator(client, "/v1/actions/get-profile", {"handle": "creator"})
    assert response.status_code == 200
    assert response.json["provider"] == "byhandle"  # the next one that can look up profiles


def test_failover_skips_providers_without_the_capability(operator: t.Any, world: World) -> None:
    fault(world, endpoint="profile", status=503)
    response = as_operator(operator, "/v1/actions/get-profile", {"handle": "creator"})
    assert response.json["provider"] == "byhandle"
    assert world.requests("apidirect-video") == []


@pytest.mark.parametrize(("upstream", "status"), [(404, 404), (400, 400), (401, 401), (403, 402)])
def test_client_errors_do_not_fail_over(
    operator: t.Any, world: World, upstream: int, status: int
) -> None:
    fault(world, endpoint="video", status=upstream)
    response = as_operator(
        operator, "/v1/actions/get-video", {"url": LONG_URL.format(id=video_id(world))}
    )
    assert response.status_code == status
    assert world.requests("apidirect-video") == [] and world.requests("byhandle-video") == []


def test_when_every_provider_fails_the_last_error_is_the_answer(
    operator: t.Any, world: World
) -> None:
    fault(world, endpoint="video", status=503)
    fault(world, endpoint="apidirect-video", status=500)
    fault(world, endpoint="byhandle-video", status=429, retry_after=9)
    response = as_operator(
        operator, "/v1/actions/get-video", {"url": LONG_URL.format(id=video_id(world))}
    )
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "9"


def test_x_provider_goes_first_among_the_operators_keys(operator: t.Any, world: World) -> None:
    response = as_operator(
        operator,
        "/v1/actions/get-video",
        {"url": LONG_URL.format(id=video_id(world))},
        **{"X-Provider": "byhandle"},
    )
    assert response.json["provider"] == "byhandle"
    assert world.requests("video") == []


def test_the_trigger_fails_over_and_keeps_paging_with_one_provider(
    make_app: t.Any, world: World
) -> None:
    # Only one provider lists videos: a failure there is the answer, with nothing recorded.
    client = make_app(**SERVER_KEYS, ACCESS_TOKENS=TOKEN).test_client()
    assert as_operator(client, "/v1/triggers/new-video", {"handle": "creator"}).json == []
    video = world.post_video("creator")
    fault(world, endpoint="profile-videos", status=503)
    assert as_operator(client, "/v1/triggers/new-video", {"handle": "creator"}).status_code == 429
    items = as_operator(client, "/v1/triggers/new-video", {"handle": "creator"}).json
    assert [v["id"] for v in items] == [video.id]


def test_a_callers_own_key_is_never_swapped_for_server_keys(operator: t.Any, world: World) -> None:
    fault(world, endpoint="video", status=503)
    response = operator.post(
        "/v1/actions/get-video",
        json={"url": LONG_URL.format(id=video_id(world))},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 429
    assert world.requests("apidirect-video") == []


def test_server_keys_need_access_tokens(db_url: str) -> None:
    with pytest.raises(ConfigError, match="CONNECTOR_ACCESS_TOKENS"):
        create_app({"DATABASE_URL": db_url, "APIDIRECT_API_KEY": "k"})
    with pytest.raises(ConfigError, match="CONNECTOR_BYHANDLE_API_KEY"):
        create_app(
            {
                "DATABASE_URL": db_url,
                "APIDIRECT_API_KEY": "k",
                "ACCESS_TOKENS": "t",
                "PROVIDER_ORDER": "apidirect,byhandle",
            }
        )
    with pytest.raises(ConfigError, match="known providers"):
        create_app({"DATABASE_URL": db_url, "PROVIDER": "nope"})


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, db_url: str, sandbox_url: str, world: World
) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)
    monkeypatch.setenv("CONNECTOR_PROVIDER", "byhandle")
    monkeypatch.setenv("CONNECTOR_BYHANDLE_BASE_URL", f"{sandbox_url}/dev/tiktok")
    monkeypatch.setenv("CONNECTOR_BYHANDLE_API_KEY", "sk_env_key")
    monkeypatch.setenv("CONNECTOR_ACCESS_TOKENS", '["tok-a", "tok-b"]')
    client = create_app().test_client()
    response = client.post(
        "/v1/actions/get-profile",
        json={"handle": "creator"},
        headers={"Authorization": "Bearer tok-b"},
    )
    assert response.status_code == 200 and response.json is not None
    assert response.json["provider"] == "byhandle"
    assert world.requests("byhandle-user")[0].body == {"userHandle": "creator"}


# -- API Direct's concurrency limit ---------------------------------------------------------


def test_ten_concurrent_calls_through_apidirect_queue_under_its_limit(
    live: httpx.Client, world: World
) -> None:
    world.latency["apidirect-video"] = 0.2
    ids = [video_id(world, index=i) for i in range(10)]

    def get(vid: str) -> httpx.Response:
        return live.post(
            "/v1/actions/get-video", json={"video_id": vid}, headers={"X-Provider": "apidirect"}
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(get, ids))
    assert [r.status_code for r in responses] == [200] * 10
    assert [r.json()["id"] for r in responses] == ids
    assert world.max_in_flight[f"apidirect-video:{KEY}"] == 3


def test_the_sandbox_refuses_a_fourth_simultaneous_apidirect_request(
    world: World, sandbox_url: str
) -> None:
    world.latency["apidirect-video"] = 0.3

    def get(_: int) -> int:
        return httpx.get(
            f"{sandbox_url}/v1/tiktok/video",
            params={"video_id": "7321234567890123456"},
            headers={"X-API-Key": "k"},
            timeout=5,
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(get, range(6)))
    assert statuses.count(200) == 3 and statuses.count(429) == 3


# -- each provider's errors ------------------------------------------------------------------

APIDIRECT_ERRORS = [
    (400, 400, "upstream_rejected_input"),
    (401, 401, "invalid_api_key"),
    (402, 402, "insufficient_credits"),
    (404, 404, "not_found"),
    (429, 429, "rate_limited"),
    (500, 502, "upstream_unavailable"),
    (503, 502, "upstream_unavailable"),
]
BYHANDLE_ERRORS = [
    (403, 401, "invalid_api_key"),
    (404, 404, "not_found"),
    (429, 429, "rate_limited"),
    (500, 502, "upstream_unavailable"),
    (502, 502, "upstream_unavailable"),
]


@pytest.mark.parametrize(("upstream", "status", "code"), APIDIRECT_ERRORS)
def test_apidirect_errors(
    live: httpx.Client, world: World, upstream: int, status: int, code: str
) -> None:
    fault(world, endpoint="apidirect-video", status=upstream)
    response = live.post(
        "/v1/actions/get-video", json={"video_id": "123456789"}, headers={"X-Provider": "apidirect"}
    )
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.json()["error"].startswith("API Direct: ")


@pytest.mark.parametrize(("upstream", "status", "code"), BYHANDLE_ERRORS)
@pytest.mark.parametrize("endpoint", ["byhandle-user", "byhandle-video"])
def test_byhandle_errors(
    live: httpx.Client, world: World, endpoint: str, upstream: int, status: int, code: str
) -> None:
    fault(world, endpoint=endpoint, status=upstream)
    if endpoint == "byhandle-user":
        path, body = "/v1/actions/get-profile", {"handle": "creator"}
    else:
        path, body = "/v1/actions/get-video", {"url": LONG_URL.format(id=video_id(world))}
    response = live.post(path, json=body, headers={"X-Provider": "byhandle"})
    assert (response.status_code, response.json()["code"]) == (status, code)


@pytest.mark.parametrize(
    ("provider", "path", "body", "endpoint"),
    [
        ("apidirect", "/v1/actions/get-video", {"video_id": "123456789"}, "apidirect-video"),
        ("byhandle", "/v1/actions/get-profile", {"handle": "creator"}, "byhandle-user"),
    ],
)
@pytest.mark.parametrize("malformed", ["json", "shape"])
def test_malformed_answers_of_other_providers_are_502(
    live: httpx.Client,
    world: World,
    provider: str,
    path: str,
    body: dict[str, t.Any],
    endpoint: str,
    malformed: str,
) -> None:
    fault(world, endpoint=endpoint, malformed=malformed)
    response = live.post(path, json=body, headers={"X-Provider": provider})
    assert (response.status_code, response.json()["code"]) == (502, "upstream_invalid_response")


def test_documented_not_found_answers(live: httpx.Client, world: World) -> None:
    missing_video = live.post(
        "/v1/actions/get-video",
        json={"video_id": "123456789"},
        headers={"X-Provider": "apidirect"},
    )
    assert missing_video.status_code == 404
    assert missing_video.json()["error"] == "API Direct: Video not found."
    missing_user = live.post(
        "/v1/actions/get-profile", json={"handle": "missing_x"}, headers={"X-Provider": "byhandle"}
    )
    assert missing_user.status_code == 404


@pytest.mark.parametrize("provider", ["dumplingai", "apidirect", "byhandle"])
@pytest.mark.parametrize(("key", "status"), [(KEY, 200), ("sk_invalid_9", 401)])
def test_auth_test_works_for_every_provider(
    live: httpx.Client, provider: str, key: str, status: int
) -> None:
    response = live.get(
        "/v1/auth/test", headers={"X-Provider": provider, "Authorization": f"Bearer {key}"}
    )
    assert response.status_code == status
    if status == 200:
        assert response.json()["provider"] == provider


@pytest.mark.postgres
def test_apidirects_limit_holds_across_workers_sharing_postgres(
    postgres_url: str, make_app: t.Any, world: World
) -> None:
    """Two apps (two workers' worth of process-local state) on one PostgreSQL: together they
    never have more than 3 requests in flight for one key."""
    world.latency["apidirect-video"] = 0.2
    apps = [make_app(DATABASE_URL=postgres_url, UPSTREAM_TIMEOUT=10.0) for _ in range(2)]
    ids = [video_id(world, index=i) for i in range(10)]

    def get(index: int) -> int:
        client = apps[index % 2].test_client()
        response = client.post(
            "/v1/actions/get-video",
            json={"video_id": ids[index]},
            headers={"Authorization": f"Bearer {KEY}", "X-Provider": "apidirect"},
        )
        return response.status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(get, range(10)))
    assert statuses == [200] * 10
    assert world.max_in_flight[f"apidirect-video:{KEY}"] == 3
