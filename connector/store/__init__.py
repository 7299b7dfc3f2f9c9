"""Durable state behind one interface: SQLite by default."""

from .base import FeedKey, FeedState, FeedTransaction, Observed, Store
from .registry import STORES, open_store

__all__ = ["STORES", "FeedKey", "FeedState", "FeedTransaction", "Observed", "Store", "open_store"]
