"""Hostile upstream data: every provider maps it to a sane record or refuses it as
``upstream_invalid_response``; no other exception leaves the provider layer.

Each provider method is called as in production (``send_json`` decoding a real HTTP body,
served by an ``httpx.MockTransport``) with random JSON and with the providers' documented
example answers mutated at random paths into hostile values.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
import time
import typing as t

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.errors import ProviderAuthFailed, ProviderInvalidResponse, ProviderRejectedInput
from connector.links import VideoRef, parse_video_link, ref_from_id
from connector.providers.apidirect import APIDirectProvider
from connector.providers.base import Provider, VideoPage
from connector.providers.byhandle import ByHandleProvider
from connector.providers.dumplingai import DumplingAIProvider
from connector.sandbox import examples

EARLIEST = 1_388_534_400  # 2014-01-01
IDS = ("id", "author_id", "music_id")
TEXT_LIMIT = 100_000


def _aweme(video_id: str, created: int) -> dict[str, t.Any]:
    """A full app-feed item, every mapped field present (the documented example's item has
    fewer)."""
    return {
        "aweme_id": video_id,
        "desc": "A video #one #two",
        "create_time": created,
        "share_url": f"https://www.tiktok.com/@someone/video/{video_id}",
        "region": "US",
        "statistics": {
            "comment_count": 1,
            "digg_count": 2,
            "download_count": 3,
            "play_count": 4,
            "share_count": 5,
            "collect_count": 6,
        },
        "video": {
            "duration": 15,
            "cover": {"url_list": ["https://cdn.invalid/c.jpg"]},
            "play_addr": {"url_list": ["https://cdn.invalid/p.mp4"]},
            "download_addr": {"url_list": ["https://cdn.invalid/d.mp4"]},
        },
        "author": {
            "uid": "6659752019493208069",
            "unique_id": "someone",
            "nickname": "Some One",
            "verification_type": 1,
            "avatar_thumb": {"url_list": ["https://cdn.invalid/a.jpg"]},
        },
        "music": {
            "id_str": "7460293700000000000",
            "title": "t",
            "author": "a",
            "is_original": True,
        },
        "text_extra": [{"hashtag_name": "one"}, {"hashtag_name": "two"}],
    }


FEED: dict[str, t.Any] = {
    "aweme_list": [
        _aweme("7460293617584139566", 1736092800),
        _aweme("7460293617584139555", 1736000000),
        _aweme("7460293617584139544", 1735900000),
    ],
    "max_cursor": "1735900000000",
    "has_more": 1,
}


def _dumplingai(client: httpx.Client) -> Provider:
    return DumplingAIProvider(client, api_key="sk_test", request_source="ZAPIER")


def _apidirect(client: httpx.Client) -> Provider:
    return APIDirectProvider(client, api_key="sk_test", request_source="ZAPIER")


def _byhandle(client: httpx.Client) -> Provider:
    return ByHandleProvider(client, api_key="sk_test", request_source="ZAPIER")


LONG_LINK = "https://www.tiktok.com/@stoolpresidente/video/7460293617584139566"

# name -> (the documented example answer, provider factory, the call)
TARGETS: dict[str, tuple[t.Any, t.Callable[[httpx.Client], Provider], t.Callable[..., t.Any]]] = {
    "dumplingai-video": (
        examples.DUMPLINGAI_VIDEO,
        _dumplingai,
        lambda p: p.get_video(parse_video_link(LONG_LINK)),
    ),
    "dumplingai-profile": (examples.DUMPLINGAI_PROFILE, _dumplingai, lambda p: p.get_profile("h")),
    "dumplingai-feed": (FEED, _dumplingai, lambda p: p.list_videos("h")),
    "apidirect-video": (
        examples.APIDIRECT_VIDEO,
        _apidirect,
        lambda p: p.get_video(ref_from_id(examples.APIDIRECT_VIDEO_ID)),
    ),
    "byhandle-profile": (examples.BYHANDLE_USER, _byhandle, lambda p: p.get_profile("h")),
    "byhandle-video": (
        examples.BYHANDLE_VIDEO,
        _byhandle,
        lambda p: p.get_video(parse_video_link(LONG_LINK)),
    ),
}

# Values that have broken mappings: out-of-range times and counts, non-finite and unparseable
# numbers, look-alike digits, lone surrogates, NUL, huge text.
HOSTILE_NUMBERS = st.sampled_from(
    [10**20, 10**30, -1, -(2**63), 2**63, 2**64, 0, 1704067200, 1704067200000, 253402300800]
    + [1e30, -1e30, 1.5, math.nan, math.inf, -math.inf]
)
HOSTILE_TEXT = st.sampled_from(
    ["", " ", "0", "-5", "1e30", "NaN", "²", "١٢٣", "\ud800", "a\x00b", "7321234567890123456"]
    + ["2024-01-01T00:00:00Z", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00"]
)
HOSTILE_SCALARS = st.one_of(
    HOSTILE_NUMBERS,
    HOSTILE_TEXT,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    # Made on demand, so that a failure's report stays readable.
    st.sampled_from([5000, 200_000]).map(lambda n: "1" * n),
    st.sampled_from([5000, 200_000]).map(lambda n: "x" * n),
)
KEYS = st.sampled_from(
    [
        "id",
        "aweme_id",
        "video_id",
        "createTime",
        "create_time",
        "date_timestamp",
        "stats",
        "statistics",
        "play_count",
        "playCount",
        "author",
        "uniqueId",
        "unique_id",
        "user",
        "video",
        "video_id",
        "aweme_list",
        "max_cursor",
        "has_more",
        "text_extra",
        "textExtra",
        "url_list",
    ]
) | st.text(max_size=6)
RANDOM_JSON = st.recursive(
    HOSTILE_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=10,
)


def _paths(value: t.Any, prefix: tuple[t.Any, ...] = ()) -> t.Iterator[tuple[t.Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _replace(doc: t.Any, path: tuple[t.Any, ...], value: t.Any) -> t.Any:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return doc  # an earlier replacement removed this path
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        parent[last] = value
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        parent[last] = value
    return doc


@st.composite
def mutated(draw: st.DrawFn, seed: t.Any) -> t.Any:
    """The example answer with one to four values (anywhere, the whole answer included) replaced
    by hostile ones."""
    doc = copy.deepcopy(seed)
    paths = list(_paths(seed))
    for _ in range(draw(st.integers(1, 4))):
        doc = _replace(doc, draw(st.sampled_from(paths)), draw(HOSTILE_SCALARS | RANDOM_JSON))
    return doc


def _serve(body: bytes) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        # A stream, as a real transport gives: send_json reads it as it arrives.
        return httpx.Response(
            200, stream=httpx.ByteStream(body), headers={"Content-Type": "application/json"}
        )

    return httpx.Client(transport=httpx.MockTransport(answer), base_url="http://upstream.invalid")


def _call(target: str, body: bytes) -> t.Any:
    """The target's result, or None when it refused the body as upstream_invalid_response.
    Any other exception fails the test."""
    _, factory, call = TARGETS[target]
    with _serve(body) as client:
        try:
            return call(factory(client))
        except ProviderInvalidResponse as exc:
            assert exc.status_code == 502 and exc.code == "upstream_invalid_response"
            return None


def assert_sane(record: dict[str, t.Any]) -> None:
    """What every record carries, whatever upstream sent."""
    json.dumps(record, allow_nan=False)  # finite numbers, plain JSON types only
    for name, value in record.items():
        if isinstance(value, str):
            value.encode("utf-8")  # no lone surrogate: storable and sendable
            assert "\x00" not in value and len(value) <= TEXT_LIMIT, name
        if value is None or isinstance(value, bool):
            continue
        if name.endswith("_timestamp"):
            assert EARLIEST <= value <= time.time() + 86400, name
        elif isinstance(value, int):
            assert 0 <= value < 2**63, name
    for name in IDS:
        value = record.get(name)
        assert value is None or re.fullmatch(r"[0-9]{1,32}", value), name
    assert record["id"] is not None and record["provider"]
    stamp = record["created_at_timestamp"]
    expected = None if stamp is None else dt.datetime.fromtimestamp(stamp, dt.UTC)
    assert record["created_at"] == (expected and expected.strftime("%Y-%m-%dT%H:%M:%SZ"))


def check(target: str, doc: t.Any) -> None:
    result = _call(target, json.dumps(doc).encode())
    if result is None:
        return
    if isinstance(result, VideoPage):
        listed = doc.get("aweme_list") or []
        assert len(result.videos) + result.skipped == len(listed)
        for video in result.videos:
            assert_sane(video)
            assert video["created_at_timestamp"] is not None  # a feed item needs its time
        return
    assert_sane(result)


def _documents(target: str) -> st.SearchStrategy[t.Any]:
    return mutated(TARGETS[target][0]) | RANDOM_JSON


def _fuzz(target: str, per_provider: int) -> None:
    """Run ``check`` on hostile documents for ``target``: ``per_provider`` examples in all
    for each provider, shared among its targets."""
    provider = target.split("-")[0]
    share = per_provider // sum(1 for name in TARGETS if name.startswith(f"{provider}-"))

    @settings(
        max_examples=share,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(doc=_documents(target))
    def run(doc: t.Any) -> None:
        check(target, doc)

    run()


@pytest.mark.parametrize("target", TARGETS)
def test_the_documented_example_answers_map_to_sane_records(target: str) -> None:
    seed = TARGETS[target][0]
    result = _call(target, json.dumps(seed).encode())
    assert result is not None
    check(target, seed)


@pytest.mark.parametrize("target", TARGETS)
def test_hostile_json_is_mapped_or_refused(target: str) -> None:
    _fuzz(target, per_provider=300)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_hostile_json_is_mapped_or_refused_long(target: str) -> None:
    _fuzz(target, per_provider=1000)


# What the attacker run sent, by hand: each is refused as upstream_invalid_response (502).
def _video_with(**changes: t.Any) -> bytes:
    return json.dumps({**examples.DUMPLINGAI_VIDEO, **changes}).encode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_video_with(createTime=10**20), id="time-10**20"),
        pytest.param(_video_with(createTime=1e30), id="time-1e30"),
        pytest.param(_video_with(createTime=math.nan), id="time-NaN"),
        pytest.param(_video_with(createTime=math.inf), id="time-Infinity"),
        pytest.param(_video_with(createTime="soon"), id="time-text"),
        pytest.param(_video_with(createTime="²"), id="time-superscript-digit"),
        pytest.param(_video_with(createTime=-1), id="time-negative"),
        pytest.param(_video_with(createTime=946684800), id="time-2000"),
        pytest.param(_video_with(createTime=int(time.time()) + 7 * 86400), id="time-next-week"),
        pytest.param(_video_with(stats={"playCount": -5}), id="count-negative"),
        pytest.param(_video_with(stats={"playCount": 2**63}), id="count-2**63"),
        pytest.param(_video_with(stats={"playCount": math.inf}), id="count-Infinity"),
        pytest.param(_video_with(id="12ab"), id="id-not-digits"),
        pytest.param(_video_with(id="9" * 40), id="id-too-long"),
        pytest.param(_video_with(desc="x" * 200_000), id="text-too-long"),
        pytest.param(
            _video_with(textExtra=5, challenges="abc", createTime=10**20), id="lists-not-lists"
        ),
        pytest.param(b'{"id": "7321234567890123456", "createTime": 1e400}', id="number-1e400"),
        pytest.param(
            b'{"id": "7321234567890123456", "createTime": ' + b"1" * 5000 + b"}",
            id="number-5000-digits",
        ),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-100000"),
        pytest.param(b'{"id": ' + b"[" * 5000 + b"]" * 5000 + b"}", id="nested-id"),
        pytest.param(b"\xff\xfe not utf-8", id="not-utf-8"),
        pytest.param(b"", id="empty"),
    ],
)
def test_hostile_video_answers_are_refused(body: bytes) -> None:
    assert _call("dumplingai-video", body) is None


def test_sane_values_are_still_mapped() -> None:
    record = _call(
        "dumplingai-video",
        _video_with(createTime="1704067200000", stats={"playCount": "12", "diggCount": 3.0}),
    )
    assert record["created_at_timestamp"] == 1704067200
    assert (record["play_count"], record["like_count"]) == (12, 3)
    # A lone surrogate and a NUL are replaced, not refused: the rest of the video is fine.
    record = _call("dumplingai-video", _video_with(desc="bad \ud800 text\x00"))
    assert record["description"] == "bad ? text"
    # An account with no known creation time (TikTok sends 0) keeps its other fields.
    profile = copy.deepcopy(examples.DUMPLINGAI_PROFILE)
    profile["user"]["createTime"] = 0
    assert _call("dumplingai-profile", json.dumps(profile).encode())["created_at"] is None


def test_one_malformed_feed_item_is_skipped_and_a_wholly_bad_page_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = copy.deepcopy(FEED)
    feed["aweme_list"][1]["create_time"] = 10**20
    feed["aweme_list"].insert(0, "not an object")
    page = _call("dumplingai-feed", json.dumps(feed).encode())
    assert [v["id"] for v in page.videos] == ["7460293617584139566", "7460293617584139544"]
    assert page.skipped == 2 and page.has_more and page.cursor == "1735900000000"
    warnings = [r.getMessage() for r in caplog.records if "skipped a malformed video" in r.message]
    assert len(warnings) == 2
    assert any("@h" in w and "7460293617584139555" in w for w in warnings)
    assert not any("sk_test" in w for w in warnings)
    feed["aweme_list"] = [{"aweme_id": "1", "create_time": "soon"}]
    assert _call("dumplingai-feed", json.dumps(feed).encode()) is None


def test_a_request_that_cannot_be_encoded_is_a_provider_error() -> None:
    """What no header or body can carry is refused before anything is sent."""
    with _serve(json.dumps(examples.DUMPLINGAI_PROFILE).encode()) as client:
        unusable_key = DumplingAIProvider(client, api_key="clé", request_source="API")
        with pytest.raises(ProviderAuthFailed):
            unusable_key.get_profile("h")
        with pytest.raises(ProviderRejectedInput):
            _dumplingai(client).get_video(VideoRef(url="https://vm.tiktok.com/\ud800/"))
