"""One tenant's hostile upstream data stops no one else: malformed feed items are skipped and
counted, a handle that fails (for any reason) is counted, and `connector poll` goes on.

Everything runs over real HTTP: the sandbox upstream serves the hostile items verbatim, and
webhooks reach a real receiver.
"""

from __future__ import annotations

import logging
import time
import typing as t

import httpx
import pytest
from click.testing import CliRunner

from connector.cli import cli
from connector.hooks.poller import run_cycle
from connector.providers.base import VideoPage
from connector.providers.dumplingai import DumplingAIProvider
from connector.sandbox import World, base_urls
from connector.serving import BackgroundServer

from .conftest import KEY, fault, subscribe
from .receiver import Receiver
from .test_hooks import HOOK_SETTINGS, SECRET_KEY

OTHER_KEY = "sk_test_other_tenant_0000000000"
THIRD_KEY = "sk_test_third_tenant_0000000000"

# What the attacker run put in one handle's feed, as upstream would send it (not all of it
# survives a JSON round trip, so it is spliced into the answer as text).
# Items 6 to 8 are newer than anything the feed knows: only a video new to some feed is
# mapped whole (most of a page is known), so that is where their flaws show.
RECENT = int(time.time()) - 60
HOSTILE_ITEMS = [
    '{"aweme_id": "7460000000000000001", "create_time": 100000000000000000000}',
    '{"aweme_id": "7460000000000000002", "create_time": 1e30}',
    '{"aweme_id": "7460000000000000003", "create_time": NaN}',
    '{"aweme_id": "7460000000000000004", "create_time": Infinity}',
    '{"aweme_id": "7460000000000000005", "create_time": "soon"}',
    '{"aweme_id": "7460000000000000006", "create_time": '
    + str(RECENT)
    + ', "desc": '
    + "[" * 500
    + "]" * 500
    + "}",
    '{"aweme_id": "7460000000000000007", "create_time": ' + str(RECENT) + ", "
    '"statistics": {"play_count": -1}}',
    '{"aweme_id": "7460000000000000008", "create_time": '
    + str(RECENT)
    + ', "desc": "'
    + "x" * 200_000
    + '"}',
    '{"aweme_id": "7460000000000000009", "create_time": ' + "9" * 5000 + "}",
    '"not a video"',
]


@pytest.fixture
def logged() -> t.Iterator[list[logging.LogRecord]]:
    """What the connector logs (its loggers do not propagate to pytest's capture)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logger = logging.getLogger("connector")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.fixture
def env(db_url: str, sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings of `connector poll`, as environment variables."""
    values = {
        "DATABASE_URL": db_url,
        "SECRET_KEY": SECRET_KEY,
        "ALLOW_PRIVATE_TARGETS": "true",
        "DELIVERY_TIMEOUT": "5",
        "DELIVERY_FIRST_RETRY": "0.01",
        "POLL_MIN_GAP": "0",
        "UPSTREAM_TIMEOUT": "5",
        **base_urls(sandbox_url),
    }
    for name, value in values.items():
        monkeypatch.setenv(f"CONNECTOR_{name}", value)


def inject(sandbox_url: str, handle: str, items: list[str]) -> None:
    """Put raw items on top of the handle's feed, through the sandbox's control API."""
    for item in items:
        response = httpx.post(
            f"{sandbox_url}/_sandbox/profiles/{handle}/raw-videos",
            content=item,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 201


def ids(receiver: Receiver, path: str) -> list[str]:
    return [body["id"] for body in receiver.bodies(path)]


def test_a_hostile_feed_stops_no_other_tenant_and_connector_poll_exits_0(
    make_app: t.Any,
    world: World,
    sandbox_url: str,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
    env: None,
    logged: list[logging.LogRecord],
) -> None:
    app = make_app(**HOOK_SETTINGS)
    root = receiver_server[1].url
    subscribe(app, receiver, root, "good", "creator", KEY)
    subscribe(app, receiver, root, "mixed", "hostile", OTHER_KEY)
    subscribe(app, receiver, root, "broken", "broken", THIRD_KEY)
    inject(sandbox_url, "hostile", HOSTILE_ITEMS)
    # A whole answer that cannot be parsed: nested deeper than any parser's recursion.
    fault(world, endpoint="profile-videos", handle="broken", body="[" * 100_000, times=10)
    good = world.post_video("creator").id
    mixed = world.post_video("hostile").id
    world.post_video("broken")

    runner = CliRunner()
    result = runner.invoke(cli, ["poll"])
    assert result.exit_code == 0, result.output
    assert "watched=3 failed=1 skipped=10 queued=2" in result.output
    assert ids(receiver, "good") == [good]
    assert ids(receiver, "mixed") == [mixed]  # the hostile handle's good video still arrives
    assert receiver.all("broken") == []
    # Each skipped item is logged with its handle and id (when it has one), never a key.
    lines = [r.getMessage() for r in logged]
    skipped = [line for line in lines if "skipped a malformed video" in line]
    assert len(skipped) == len(HOSTILE_ITEMS)
    assert all("@hostile" in line for line in skipped)
    assert any("7460000000000000001" in line for line in skipped)
    assert not any(key in line for line in lines for key in (KEY, OTHER_KEY))

    # The hostile data is still there: the next cycles go on the same way.
    later = world.post_video("creator").id
    result = runner.invoke(cli, ["poll"])
    assert result.exit_code == 0, result.output
    assert "failed=1 skipped=10" in result.output
    assert ids(receiver, "good") == [good, later]


def test_an_unexpected_error_in_one_handle_is_counted_and_logged_without_the_key(
    make_app: t.Any,
    world: World,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
    monkeypatch: pytest.MonkeyPatch,
    logged: list[logging.LogRecord],
) -> None:
    app = make_app(**HOOK_SETTINGS)
    root = receiver_server[1].url
    subscribe(app, receiver, root, "good", "creator", KEY)
    subscribe(app, receiver, root, "buggy", "buggy", OTHER_KEY)
    real = DumplingAIProvider.list_videos

    def buggy(self: DumplingAIProvider, handle: str, cursor: str | None = None) -> VideoPage:
        if handle == "buggy":
            raise RuntimeError(f"a bug that quotes the key {self.api_key}")
        return real(self, handle, cursor)

    monkeypatch.setattr(DumplingAIProvider, "list_videos", buggy)
    good = world.post_video("creator").id
    report = run_cycle(app.extensions["connector"].poll_context).as_dict()
    assert (report["watched"], report["failed"], report["queued"]) == (2, 1, 1)
    assert ids(receiver, "good") == [good]
    (line,) = [r.getMessage() for r in logged if "failed unexpectedly" in r.getMessage()]
    assert "@buggy" in line and "RuntimeError" in line and "[redacted]" in line
    assert OTHER_KEY not in line


def test_the_polling_trigger_skips_malformed_items(
    live: httpx.Client, world: World, sandbox_url: str
) -> None:
    assert live.post("/v1/triggers/new-video", json={"handle": "hostile"}).json() == []
    inject(sandbox_url, "hostile", HOSTILE_ITEMS)
    posted = world.post_video("hostile").id
    response = live.post("/v1/triggers/new-video", json={"handle": "hostile"})
    assert response.status_code == 200, response.text
    assert [v["id"] for v in response.json()] == [posted]
    sample = live.post("/v1/triggers/new-video", json={"handle": "hostile", "sample": True})
    assert sample.status_code == 200 and sample.json()[0]["id"] == posted


@pytest.mark.parametrize(
    ("endpoint", "path", "body", "answer"),
    [
        (
            "video",
            "/v1/actions/get-video",
            {"video_id": "7321234567890123457"},
            '{"id": "7321234567890123457", "createTime": 100000000000000000000}',
        ),
        (
            "video",
            "/v1/actions/get-video",
            {"video_id": "7321234567890123457"},
            '{"id": "7321234567890123457", "createTime": 1e400}',
        ),
        ("profile", "/v1/actions/get-profile", {"handle": "someone"}, "[" * 100_000),
        (
            "profile",
            "/v1/actions/get-profile",
            {"handle": "someone"},
            '{"user": {"id": "1", "uniqueId": "someone", "createTime": NaN}}',
        ),
        (
            "profile-videos",
            "/v1/triggers/new-video",
            {"handle": "someone", "sample": True},
            '{"aweme_list": [{"aweme_id": "1", "create_time": Infinity}], "has_more": 0}',
        ),
    ],
)
def test_hostile_answers_are_502_upstream_invalid_response(
    live: httpx.Client, world: World, endpoint: str, path: str, body: t.Any, answer: str
) -> None:
    fault(world, endpoint=endpoint, body=answer)
    response = live.post(path, json=body)
    assert (response.status_code, response.json()["code"]) == (502, "upstream_invalid_response")
