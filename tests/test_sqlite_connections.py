"""The SQLite store keeps one connection per thread: opening one costs more than a whole idle
trigger poll. These check that reuse never crosses a thread, a fork or a close."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import pytest

from connector.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(f"sqlite:///{tmp_path / 'c.db'}", busy_timeout=7.5)


def test_a_thread_reuses_its_connection_and_threads_do_not_share(store: SQLiteStore) -> None:
    mine = store._connection(write=False)
    assert store._connection(write=True) is mine
    theirs: list[object] = []
    worker = threading.Thread(target=lambda: theirs.append(store._connection(write=False)))
    worker.start()
    worker.join()
    assert theirs[0] is not mine
    # The thread has ended: its connection goes with it (the store holds it weakly).
    del theirs[:]
    gc.collect()
    assert list(store._open) == [mine]


def test_close_makes_every_thread_open_a_fresh_connection(store: SQLiteStore) -> None:
    before = store._connection(write=False)
    store.close()
    after = store._connection(write=False)
    assert after is not before
    with store._transaction() as sql:  # and it works
        assert sql.one("SELECT count(*) FROM schema_version")[0] >= 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork (gunicorn --preload forks)")
def test_a_forked_child_never_uses_its_parents_connection(store: SQLiteStore) -> None:
    parent = store._connection(write=False)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh connection, and a write through it
        try:
            fresh = store._connection(write=True) is not parent
            with store._transaction() as sql:
                sql.run("UPDATE schema_version SET version = version")
            os.write(write, b"ok" if fresh else b"shared")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 16) == b"ok" and status == 0
    os.close(read)
    assert store._connection(write=False) is parent


def test_a_health_check_leaves_the_connection_waiting_as_long_as_configured(
    store: SQLiteStore,
) -> None:
    store.ping()  # waits only 50 ms for the lock while it probes
    with store._transaction(write=False) as sql:
        assert sql.one("PRAGMA busy_timeout")[0] == 7500
