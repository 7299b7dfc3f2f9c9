"""One store suite, run on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import concurrent.futures
import typing as t

import pytest

from connector.errors import StoreUnavailable
from connector.store import FeedKey, Observed, Store, WatchKey, open_store

from .records import add, subscription

FEED = FeedKey("tenant-a", "ZAPIER", "zap-1", "creator")


@pytest.fixture
def store(any_db_url: str) -> t.Iterator[Store]:
    opened = open_store(any_db_url)
    yield opened
    opened.close()


def test_migrating_again_changes_nothing(any_db_url: str) -> None:
    first = open_store(any_db_url)
    with first.feed(FEED) as tx:
        tx.create(floor=5)
    first.close()
    second = open_store(any_db_url)
    state, seen = second.peek(FEED, [])
    assert state is not None and state.floor == 5
    assert seen == set()
    assert second.migrate() == 8
    second.close()


def test_a_feed_remembers_and_forgets_the_least_recently_seen(store: Store) -> None:
    assert store.peek(FEED, ["1"]) == (None, set())
    with store.feed(FEED) as tx:
        assert tx.state is None
        tx.create(floor=0)
        tx.remember([Observed(str(i), 100 + i) for i in range(10)], now=1.0)
    with store.feed(FEED) as tx:
        assert tx.seen(["3", "42"]) == {"3"}
        tx.remember([Observed("0", 100), Observed("1", 101)], now=2.0)  # seen again, recently
        assert tx.prune(keep=4) == 6
    state, seen = store.peek(FEED, [str(i) for i in range(10)])
    # Kept: the two seen again plus the two newest of the rest; the floor covers the others.
    assert seen == {"0", "1", "8", "9"}
    assert state is not None and state.floor == 107


def test_a_peek_never_reports_an_unseen_video_as_seen(store: Store) -> None:
    """One statement per peek, whatever it is asked: a page's ids, none, duplicates, or
    more than it looks up (those past its bound count as unseen: the locked decision
    reads them again)."""
    with store.feed(FEED) as tx:
        tx.create(floor=7)
        tx.remember([Observed(str(i), 100 + i) for i in range(0, 1200, 2)], now=1.0)
    asked = [str(i) for i in range(1200)]
    state, seen = store.peek(FEED, [*asked, "0", "2"])
    assert state is not None and state.floor == 7
    assert seen <= {str(i) for i in range(0, 1200, 2)}
    assert {str(i) for i in range(0, 500, 2)} <= seen
    assert store.peek(FEED, []) == (state, set())
    assert store.peek(FeedKey("tenant-b", "ZAPIER", "zap-1", "creator"), asked) == (None, set())
    # The connection that served the peek goes back as it came: a transaction after it
    # still rolls back whole.
    with pytest.raises(RuntimeError), store.feed(FEED) as tx:
        tx.remember([Observed("1", 101)], now=2.0)
        raise RuntimeError("failed halfway")
    assert store.peek(FEED, ["1"])[1] == set()


def test_a_failed_transaction_records_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.feed(FEED) as tx:
        tx.create(floor=0)
        tx.remember([Observed("1", 1)], now=1.0)
        raise RuntimeError("upstream failed halfway")
    assert store.peek(FEED, ["1"]) == (None, set())


def test_concurrent_feed_transactions_never_both_see_a_video_as_new(store: Store) -> None:
    with store.feed(FEED) as tx:
        tx.create(floor=0)
    candidates = [Observed(str(i), i) for i in range(20)]

    def claim(_: int) -> list[str]:
        with store.feed(FEED) as tx:
            new = [
                c.video_id
                for c in candidates
                if c.video_id not in tx.seen(c.video_id for c in candidates)
            ]
            tx.remember(candidates, now=1.0)
            return new

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(claim, range(8)))
    assert sorted(i for r in results for i in r) == sorted(c.video_id for c in candidates)


def test_subscriptions_their_keys_and_watches(store: Store) -> None:
    assert not store.has_subscriptions()
    add(store, subscription("sub_1"), baseline=[Observed("9", 9)])
    assert store.has_subscriptions()
    add(store, subscription("sub_2"))
    add(store, subscription("sub_3", tenant="tenant-b"))
    assert [s.id for s in store.subscriptions("tenant-a")] == ["sub_1", "sub_2"]
    assert store.subscription("sub_1") == subscription("sub_1")
    assert store.peek(subscription("sub_1").feed, ["9"])[1] == {"9"}
    assert store.tenant_key("tenant-a") == b"\x01sealed-key"
    watches = store.claim_watches("w", now=10.0, lease=5.0, min_gap=0.0)
    assert sorted(watches, key=str) == sorted(
        [WatchKey("tenant-a", "", "creator"), WatchKey("tenant-b", "", "creator")], key=str
    )
    assert store.remove_subscription("sub_1")
    assert store.tenant_key("tenant-a") is not None
    assert store.remove_subscription("sub_2")
    assert not store.remove_subscription("sub_2")
    assert store.tenant_key("tenant-a") is None
    assert store.peek(subscription("sub_1").feed, ["9"]) == (None, set())
    assert store.claim_watches("w2", now=100.0, lease=5.0, min_gap=0.0) == [
        WatchKey("tenant-b", "", "creator")
    ]


def test_watches_are_split_and_respect_the_gap_lease_and_dead_workers(store: Store) -> None:
    for index in range(6):
        add(store, subscription(f"sub_{index}", handle=f"h{index}"))
    first = store.claim_watches("a", now=100.0, lease=50.0, min_gap=30.0)
    second = store.claim_watches("b", now=100.0, lease=50.0, min_gap=30.0)
    assert len(first) == 6 and second == []
    for key in first[:3]:
        store.release_watch(key, "a", polled_at=101.0)
    # Released ones are not due before the gap; held ones wait for the lease...
    assert store.claim_watches("b", now=120.0, lease=50.0, min_gap=30.0) == []
    # ...unless their holder is known to be gone.
    taken = store.claim_watches(
        "b", now=120.0, lease=50.0, min_gap=30.0, is_stale=lambda o: o == "a"
    )
    assert sorted(map(str, taken)) == sorted(map(str, first[3:]))
    assert len(store.claim_watches("c", now=140.0, lease=50.0, min_gap=30.0)) == 3
    store.release_watch(first[0], "someone-else", polled_at=999.0)  # not the holder: ignored


def test_the_outbox_delivers_heads_in_order_and_claims_once(store: Store) -> None:
    add(store, subscription("sub_1"))
    add(store, subscription("sub_2"))
    with store.feed(subscription("sub_1").feed) as tx:
        tx.enqueue("sub_1", [("v1", '{"id": "v1"}'), ("v2", '{"id": "v2"}')], now=10.0)
        tx.enqueue("sub_1", [("v1", '{"id": "again"}')], now=11.0)  # already queued: ignored
    with store.feed(subscription("sub_2").feed) as tx:
        tx.enqueue("sub_2", [("v1", '{"id": "v1"}')], now=10.0)
    heads = store.next_deliveries(now=10.0)
    assert [(d.subscription_id, d.video_id) for d in heads] == [("sub_1", "v1"), ("sub_2", "v1")]
    assert heads[0].webhook_id == "msg_sub_1_v1" and heads[0].payload == '{"id": "v1"}'
    never = lambda owner: False  # noqa: E731
    claimed = store.claim(heads[0].id, "a", now=10.0, lease=30.0, is_stale=never)
    assert claimed is not None
    assert store.claim(heads[0].id, "b", now=20.0, lease=30.0, is_stale=never) is None
    assert store.claim(heads[0].id, "b", now=41.0, lease=30.0, is_stale=never) is not None
    store.retry_later(heads[0].id, at=50.0, status=503, error="target answered 503")
    assert store.next_deliveries(now=49.0) == [heads[1]]
    store.claim(heads[0].id, "c", now=50.0, lease=30.0, is_stale=never)
    store.delivered(heads[0].id)
    assert [
        d.video_id for d in store.next_deliveries(now=50.0) if d.subscription_id == "sub_1"
    ] == ["v2"]
    store.dead_letter(heads[1].id, status=400, error="target answered 400")
    (dead,) = store.dead_letters("tenant-a")
    assert (dead.attempts, dead.last_status) == (1, 400)
    assert store.dead_letters("tenant-b") == []
    assert store.replay([dead.id], tenant="tenant-b", now=60.0) == 0
    assert store.replay(None, tenant="tenant-a", now=60.0) == 1
    assert store.dead_letters() == []
    assert any(d.id == dead.id and d.attempts == 0 for d in store.next_deliveries(now=60.0))


def test_an_unreachable_postgres_is_a_clear_store_error() -> None:
    with pytest.raises(StoreUnavailable, match="Cannot reach PostgreSQL"):
        open_store("postgresql://nobody@127.0.0.1:9/none", busy_timeout=1.0)
