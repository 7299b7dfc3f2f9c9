"""An idle trigger poll (nothing new) reads the store and writes nothing: no write lock."""

from __future__ import annotations

import sqlite3
import typing as t

import pytest

from connector.sandbox import World

from .conftest import KEY

PATH = "/v1/triggers/new-video"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def test_an_idle_poll_answers_while_another_writer_holds_the_store(
    make_app: t.Any, world: World, db_url: str
) -> None:
    client = make_app(SQLITE_BUSY_TIMEOUT=0.3).test_client()
    assert client.post(PATH, json={"handle": "creator"}, headers=HEADERS).json == []
    writer = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        idle = client.post(PATH, json={"handle": "creator"}, headers=HEADERS)
        assert (idle.status_code, idle.json) == (200, [])
        # Something new must be recorded, so that poll waits for the lock (and gives up).
        video = world.post_video("creator")
        busy = client.post(PATH, json={"handle": "creator"}, headers=HEADERS)
        assert busy.status_code == 503
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    answer = client.post(PATH, json={"handle": "creator"}, headers=HEADERS)
    assert [v["id"] for v in answer.json] == [video.id]
    assert client.post(PATH, json={"handle": "creator"}, headers=HEADERS).json == []


def test_a_poll_maps_whole_only_the_videos_it_returns(
    make_app: t.Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mapping a record through its schema is most of a poll's work, and most of a page is
    known: an idle poll maps none of it, a poll finding one new video maps that one."""
    from connector.providers.dumplingai import DumplingAIProvider

    mapped: list[str] = []
    whole = DumplingAIProvider._map_aweme

    def counting(self: DumplingAIProvider, item: dict[str, t.Any]) -> dict[str, t.Any]:
        mapped.append(str(item.get("aweme_id")))
        return whole(self, item)

    monkeypatch.setattr(DumplingAIProvider, "_map_aweme", counting)
    client = make_app().test_client()
    assert client.post(PATH, json={"handle": "creator"}, headers=HEADERS).json == []
    assert client.post(PATH, json={"handle": "creator"}, headers=HEADERS).json == []
    assert mapped == []
    video = world.post_video("creator")
    answer = client.post(PATH, json={"handle": "creator"}, headers=HEADERS).json
    assert (
        [v["id"] for v in answer] == [video.id] and answer[0]["url"] and answer[0]["author_handle"]
    )
    assert mapped == [video.id]
