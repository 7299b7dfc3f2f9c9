"""An idle trigger poll (nothing new) reads the store and writes nothing: no write lock."""

from __future__ import annotations

import sqlite3
import typing as t

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
