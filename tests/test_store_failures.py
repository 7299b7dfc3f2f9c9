"""A store that is busy, full or read-only answers 503 with a code saying which, keeps what
it held, and /health tells the truth about it."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
import sqlite3
import subprocess
import typing as t

import httpx
import pytest

from connector.sandbox import World
from connector.store import FeedKey
from connector.store.sqlite import SQLiteStore

from .conftest import KEY, served


def error(response: httpx.Response, status: int, code: str) -> dict[str, t.Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["error"], body
    return t.cast(dict[str, t.Any], body)


def poll(http: httpx.Client, handle: str = "creator", **extra: t.Any) -> httpx.Response:
    return http.post("/v1/triggers/new-video", json={"handle": handle, **extra})


@pytest.fixture
def serve(make_app: t.Any) -> t.Callable[..., t.ContextManager[httpx.Client]]:
    return lambda **settings: served(make_app(**settings))


# -- busy --------------------------------------------------------------------------------


def test_a_locked_store_is_a_503_with_retry_after(serve: t.Any, db_url: str, world: World) -> None:
    with serve(SQLITE_BUSY_TIMEOUT=0.05) as http:
        assert poll(http).status_code == 200
        video = world.post_video("creator")
        # Another process (a cron `connector poll`, a maintenance script) holds the write
        # lock past the busy timeout, mid-way through a write of its own.
        holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            holder.execute("DELETE FROM seen_videos")
            response = poll(http)  # a new video: this poll must record
            error(response, 503, "store_unavailable")
            assert response.headers["Retry-After"] == "5"
            # The store takes writes, only not this moment: health does not cry wolf.
            assert http.get("/health").status_code == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # Nothing was lost by the refused poll: the video comes now, once.
        assert [v["id"] for v in poll(http).json()] == [video.id]
        assert poll(http).json() == []


def test_a_busy_store_under_load_answers_200_or_503_never_500(serve: t.Any, world: World) -> None:
    with serve(SQLITE_BUSY_TIMEOUT=0.001) as http:

        def one(number: int) -> httpx.Response:
            return poll(http, f"creator{number % 4}", consumer=str(number))

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(one, range(96)))
    assert {r.status_code for r in answers} <= {200, 503}
    for response in answers:
        if response.status_code == 503:
            error(response, 503, "store_unavailable")
            assert response.headers["Retry-After"] == "5"


# -- full --------------------------------------------------------------------------------


@contextlib.contextmanager
def disk_full(store: SQLiteStore) -> t.Iterator[None]:
    """Every connection the store opens may not grow the file: what a full disk does."""
    probe = sqlite3.connect(store.path, isolation_level=None)
    probe.execute("VACUUM")  # no free pages left to reuse
    (pages,) = probe.execute("PRAGMA page_count").fetchone()
    probe.close()
    connect = SQLiteStore._connect

    def capped(self: SQLiteStore) -> sqlite3.Connection:
        conn = connect(self)
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SQLiteStore, "_connect", capped)
        store.close()  # every thread's next transaction opens a capped connection
        try:
            yield
        finally:
            store.close()  # and uncapped ones after


def _store(app: t.Any) -> SQLiteStore:
    return t.cast(SQLiteStore, app.extensions["connector"].store)


def test_a_full_disk_is_a_503_that_records_nothing(app: t.Any, world: World) -> None:
    with served(app) as http:
        assert poll(http, include_recent=True).json() == []  # the feed's baseline
        posted = [world.post_video("creator").id for _ in range(12)]
        with disk_full(_store(app)):
            # Recording them (with their payloads, for include_recent) needs more pages.
            response = poll(http, include_recent=True)
            error(response, 503, "store_full")
            assert response.headers["Retry-After"] == "60"
            error(http.get("/health"), 503, "store_full")
        # Nothing of the failed poll stayed: the same videos come, once.
        assert [v["id"] for v in poll(http, include_recent=True).json()] == posted[::-1]
        assert poll(http).json() == []
        assert http.get("/health").json()["status"] == "ok"


def test_a_full_disk_when_a_feed_starts_leaves_no_half_feed(app: t.Any) -> None:
    with served(app) as http:
        everything = {"consumer": "c", "since": 0, "include_recent": True}
        with disk_full(_store(app)):
            error(poll(http, "brand.new", **everything), 503, "store_full")
        store = _store(app)
        key = FeedKey(tenant=_tenant(), platform="API", consumer="c", handle="brand.new")
        assert store.peek(key, []) == (None, set())
        assert len(poll(http, "brand.new", **everything).json()) == 30
        assert poll(http, "brand.new", consumer="c").json() == []


def _tenant() -> str:
    from connector.callers import tenant_for

    return tenant_for(KEY)


# -- read-only ---------------------------------------------------------------------------


@contextlib.contextmanager
def read_only(path: str) -> t.Iterator[None]:
    """Make the database file refuse writes for real. Root ignores file modes, so as root
    the file is made immutable (chattr +i), which binds root too."""
    undo: t.Callable[[], object]
    if os.geteuid() != 0:
        mode = os.stat(path).st_mode
        os.chmod(path, 0o444)
        undo = lambda: os.chmod(path, mode)  # noqa: E731
    else:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", path]).returncode != 0:
            pytest.skip("cannot make a file read-only as root here (chattr +i)")
        undo = lambda: subprocess.run([chattr, "-i", path], check=True)  # noqa: E731
    try:
        with pytest.raises(OSError):
            open(path, "r+b").close()  # the precondition: truly read-only
        yield
    finally:
        undo()


def test_a_read_only_store_says_so_in_answers_and_health(
    serve: t.Any, db_url: str, world: World
) -> None:
    with serve() as http:
        assert poll(http).json() == []
        with read_only(db_url.removeprefix("sqlite:///")):
            # An idle poll only reads, so it still answers; one that must record says why not.
            assert poll(http).json() == []
            video = world.post_video("creator")
            response = poll(http)
            error(response, 503, "store_read_only")
            assert response.headers["Retry-After"] == "60"
            error(http.get("/health"), 503, "store_read_only")
        assert http.get("/health").json()["status"] == "ok"
        assert [v["id"] for v in poll(http).json()] == [video.id]


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_read_only_postgres_says_so(postgres_url: str) -> None:
    import psycopg

    from connector.errors import StoreReadOnly
    from connector.store import open_store

    store = open_store(postgres_url)
    name = psycopg.conninfo.conninfo_to_dict(postgres_url)["dbname"]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        store.pool.drain()  # type: ignore[attr-defined]  # new sessions take the setting
        with pytest.raises(StoreReadOnly):
            store.ping()
        with pytest.raises(StoreReadOnly):
            store.remove_subscription("sub_" + "0" * 24)
        with pytest.raises(StoreReadOnly):
            open_store(postgres_url).close()
    finally:
        writable = "-c default_transaction_read_only=off"
        with psycopg.connect(postgres_url, autocommit=True, options=writable) as admin:
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        store.close()
