"""The SQLite store keeps a few connections waiting between transactions: opening one costs
more than a whole idle trigger poll, and one per server thread cost ~175 KB each (32 threads
per worker). These check that a connection serves one transaction at a time, and that reuse
never crosses a fork or a close."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from connector.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(f"sqlite:///{tmp_path / 'c.db'}", busy_timeout=7.5)


def _connection_of(store: SQLiteStore) -> object:
    with store._transaction(write=False) as sql:
        return sql.conn


def test_the_next_transaction_reuses_the_connection_the_last_gave_back(
    store: SQLiteStore,
) -> None:
    first = _connection_of(store)
    assert _connection_of(store) is first
    other: list[object] = []
    worker = threading.Thread(target=lambda: other.append(_connection_of(store)))
    worker.start()
    worker.join()
    assert other == [first]  # any thread: it is no longer in a transaction


def test_transactions_at_once_never_share_a_connection(store: SQLiteStore) -> None:
    both_in = threading.Barrier(3, timeout=10)
    seen: list[object] = []

    def hold() -> None:
        with store._transaction(write=False) as sql:
            seen.append(sql.conn)
            both_in.wait()  # the other transaction is open too
            both_in.wait()

    workers = [threading.Thread(target=hold) for _ in range(2)]
    for worker in workers:
        worker.start()
    both_in.wait()
    with store._transaction(write=False) as sql:  # and a third, in this thread
        seen.append(sql.conn)
    both_in.wait()
    for worker in workers:
        worker.join()
    assert len({id(conn) for conn in seen}) == 3


def test_only_so_many_connections_wait_between_transactions(store: SQLiteStore) -> None:
    many = store.KEEP_IDLE + 3
    all_in = threading.Barrier(many + 1, timeout=10)

    def hold() -> None:
        with store._transaction(write=False):
            all_in.wait()
            all_in.wait()

    workers = [threading.Thread(target=hold) for _ in range(many)]
    for worker in workers:
        worker.start()
    all_in.wait()
    assert len(store._idle) == 0
    all_in.wait()
    for worker in workers:
        worker.join()
    assert len(store._idle) == store.KEEP_IDLE


def test_close_makes_the_next_transaction_open_a_fresh_connection(store: SQLiteStore) -> None:
    before = _connection_of(store)
    store.close()
    after = _connection_of(store)
    assert after is not before
    with store._transaction() as sql:  # and it works
        assert sql.one("SELECT count(*) FROM schema_version")[0] >= 1


def test_a_connection_in_a_transaction_during_close_is_not_reused(store: SQLiteStore) -> None:
    with store._transaction(write=False) as sql:
        during = sql.conn
        store.close()
    assert store._idle == []
    assert _connection_of(store) is not during


def test_a_connection_whose_transaction_failed_is_given_back_rolled_back(
    store: SQLiteStore,
) -> None:
    with pytest.raises(RuntimeError), store._transaction() as sql:
        failed = sql.conn
        sql.run("UPDATE schema_version SET version = version + 1")
        raise RuntimeError("the caller's own failure")
    assert store._idle == [failed] and not failed.in_transaction
    with store._transaction() as sql:  # BEGIN IMMEDIATE again on it: nothing was left open
        assert sql.conn is failed
        assert sql.one("SELECT max(version) FROM schema_version")[0] == len(store.MIGRATIONS)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork (gunicorn --preload forks)")
def test_a_forked_child_never_uses_its_parents_connection(store: SQLiteStore) -> None:
    parent = _connection_of(store)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh connection, and a write through it
        try:
            with store._transaction() as sql:
                fresh = sql.conn is not parent
                sql.run("UPDATE schema_version SET version = version")
            os.write(write, b"ok" if fresh else b"shared")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 16) == b"ok" and status == 0
    os.close(read)
    assert _connection_of(store) is parent


def test_a_health_check_leaves_the_connection_waiting_as_long_as_configured(
    store: SQLiteStore,
) -> None:
    store.ping()  # waits only 50 ms for the lock while it probes
    with store._transaction(write=False) as sql:
        assert sql.one("PRAGMA busy_timeout")[0] == 7500
