"""SQLite store: the embedded default, for one process on one machine (WAL mode).

Each transaction opens its own connection: connections are cheap here, and it keeps the
store safe to share between the WSGI server's threads. Writes take the database lock up
front (``BEGIN IMMEDIATE``), which serializes read-modify-write transactions, so feed locks
need nothing more.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import typing as t

from ..errors import ConfigError, StoreUnavailable
from ._sql import SCHEMA, SQLStore, Statements

MIGRATIONS = tuple(
    script.format(
        identity="INTEGER PRIMARY KEY AUTOINCREMENT",
        bigint="INTEGER",
        float="REAL",
        bytes="BLOB",
        without_rowid="WITHOUT ROWID",
    )
    for script in SCHEMA
)


def path_from_url(url: str) -> str:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` -> path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ConfigError(f"Not a SQLite URL: {url!r}; expected sqlite:///path/to/file.db")
    path = url[len(prefix) :]
    if not path:
        raise ConfigError("The SQLite URL names no file: use sqlite:///connector.db")
    return path


class SQLiteStore(SQLStore):
    backend = "sqlite"
    MIGRATIONS = MIGRATIONS

    def __init__(self, url: str, *, busy_timeout: float = 15.0) -> None:
        self.path = path_from_url(url)
        if self.path == ":memory:":
            raise ConfigError("An in-memory SQLite store would forget every feed; name a file.")
        self.busy_timeout = busy_timeout
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        self.migrate()

    def _connect(self) -> contextlib.closing[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"Cannot open the SQLite store: {exc}") from exc
        conn.execute("PRAGMA foreign_keys=ON")
        # FULL: a delivered id survives a power cut, so it is never delivered again.
        conn.execute("PRAGMA synchronous=FULL")
        return contextlib.closing(conn)

    @contextlib.contextmanager
    def _transaction(
        self, *, write: bool = True, lock: str | None = None
    ) -> t.Iterator[Statements]:
        with self._connect() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(
                    "The store is busy; nothing was recorded. Try again shortly."
                ) from exc
            try:
                yield Statements(conn, "?")
            except sqlite3.OperationalError as exc:
                conn.execute("ROLLBACK")
                raise StoreUnavailable("The store is busy; nothing was recorded.") from exc
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                conn.execute("ROLLBACK")
                raise StoreUnavailable("The store could not commit; nothing was recorded.") from exc
