"""Database URL schemes -> store classes, imported on first use."""

from __future__ import annotations

import typing as t

from ..errors import ConfigError
from ..importer import import_string

if t.TYPE_CHECKING:
    from .base import Store

STORES: dict[str, str] = {
    "sqlite": "connector.store.sqlite:SQLiteStore",
    "postgresql": "connector.store.postgres:PostgresStore",
    "postgres": "connector.store.postgres:PostgresStore",
    "postgresql+psycopg": "connector.store.postgres:PostgresStore",
}


def open_store(url: str, **options: t.Any) -> Store:
    """The store for ``url`` (``sqlite:///path`` or ``postgresql://...``), migrated and ready.

    :raises ConfigError: for a scheme no store handles.
    """
    scheme = url.partition(":")[0].lower()
    target = STORES.get(scheme)
    if target is None:
        raise ConfigError(
            f"No store for database URL scheme {scheme!r}; supported: {', '.join(sorted(STORES))}"
        )
    try:
        store_class = import_string(target)
    except ImportError as exc:
        raise ConfigError(
            f"The {scheme} store needs an extra: pip install 'tiktok-connector[postgres]' ({exc})"
        ) from exc
    return t.cast("Store", store_class(url, **options))
