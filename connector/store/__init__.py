"""Durable state behind one interface: SQLite by default."""

from .base import (
    Delivery,
    FeedKey,
    FeedState,
    FeedTransaction,
    Gap,
    LimitReached,
    Observed,
    Sealed,
    Store,
    Subscription,
    WatchKey,
)
from .registry import STORES, open_store

__all__ = [
    "STORES",
    "Delivery",
    "FeedKey",
    "FeedState",
    "FeedTransaction",
    "Gap",
    "LimitReached",
    "Observed",
    "Sealed",
    "Store",
    "Subscription",
    "WatchKey",
    "open_store",
]
