"""Workers claiming watched handles at the same moment each get a share (both backends)."""

from __future__ import annotations

import concurrent.futures
import threading
import typing as t

import pytest

from connector.store import Store, open_store

from .records import add, subscription


@pytest.fixture
def store(any_db_url: str) -> t.Iterator[Store]:
    opened = open_store(any_db_url)
    yield opened
    opened.close()


def test_workers_claiming_at_once_each_get_their_share(store: Store) -> None:
    for index in range(12):
        add(store, subscription(f"sub_{index}", handle=f"h{index}"))
    for round_ in range(3):
        start = threading.Barrier(4)
        now = 1000.0 * (round_ + 1)

        def claim(worker: int, now: float = now, start: threading.Barrier = start) -> list[str]:
            start.wait()
            keys = store.claim_watches(f"w{worker}", now=now, lease=50.0, min_gap=0.0, limit=3)
            return [key.handle for key in keys]

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            shares = list(pool.map(claim, range(4)))
        # The LIMIT locks only the rows taken: no worker finds the others' rows locked
        # and goes away empty-handed.
        assert [len(share) for share in shares] == [3, 3, 3, 3]
        assert len({h for share in shares for h in share}) == 12
        for worker, share in enumerate(shares):
            for sub in store.subscriptions():
                if sub.handle in share:
                    store.release_watch(sub.watch, f"w{worker}", polled_at=now)


def test_a_claim_takes_only_its_limit_and_frees_a_gone_workers_handles(store: Store) -> None:
    for index in range(5):
        add(store, subscription(f"sub_{index}", handle=f"h{index}"))
    held = store.claim_watches("gone", now=100.0, lease=500.0, min_gap=0.0, limit=2)
    assert len(held) == 2
    taken = store.claim_watches("b", now=100.0, lease=500.0, min_gap=0.0, limit=10)
    assert len(taken) == 3 and not set(taken) & set(held)
    freed = store.claim_watches(
        "c", now=100.0, lease=500.0, min_gap=0.0, limit=10, is_stale=lambda o: o == "gone"
    )
    assert sorted(map(str, freed)) == sorted(map(str, held))


def test_release_watches_releases_only_the_owners_claims_in_one_call(store: Store) -> None:
    for index in range(4):
        add(store, subscription(f"sub_{index}", handle=f"h{index}"))
    mine = store.claim_watches("a", now=100.0, lease=500.0, min_gap=0.0, limit=2)
    theirs = store.claim_watches("b", now=100.0, lease=500.0, min_gap=0.0, limit=2)
    store.release_watches("a", [(key, 150.0) for key in [*mine, *theirs]])
    # Released at 150, mine are due again once the gap has passed; theirs stay claimed.
    again = store.claim_watches("c", now=200.0, lease=500.0, min_gap=40.0, limit=10)
    assert sorted(map(str, again)) == sorted(map(str, mine))
