"""SQLite store: the embedded default, for one process on one machine (WAL mode).

A transaction takes a connection that waits between transactions (opening one costs more than
a whole idle trigger poll) and gives it back when it ends, so the store is safe to share
between the WSGI server's threads, and a few connections serve all of them; a connection that
failed is dropped and a fresh one is opened. Writes take the database lock up front
(``BEGIN IMMEDIATE``), which serializes read-modify-write transactions, so feed locks need
nothing more.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import typing as t

from ..errors import ConfigError, StoreFull, StoreReadOnly, StoreUnavailable
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
    """The embedded store in one SQLite file, for one machine's processes."""

    backend = "sqlite"
    MIGRATIONS = MIGRATIONS
    #: Connections kept waiting for the next transactions. A transaction holds one only
    #: while it runs, so a process's threads seldom need more at once; each one kept costs
    #: ~175 KB (the schema, cached statements).
    KEEP_IDLE = 8

    def __init__(self, url: str, *, busy_timeout: float = 15.0) -> None:
        self.path = path_from_url(url)
        if self.path == ":memory:":
            raise ConfigError("An in-memory SQLite store would forget every feed; name a file.")
        self.busy_timeout = busy_timeout
        # While the disk is known to be full: the message, and the database's size (pages)
        # when a write failed for lack of space (see ping).
        self.full: tuple[str, int] | None = None
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._idle: list[_Connection] = []  # the most recently used last
        self._idle_pid = os.getpid()
        self._generation = 0  # close() retires every connection open before it
        self._idle_lock = threading.Lock()
        with contextlib.closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        self.migrate()

    def _connection(self, write: bool) -> _Connection:
        """A connection for one transaction: the one that waited least (its pages are the
        likeliest in cache), or a new one; never one opened before a fork or :meth:`close`."""
        if write and not os.access(self.path, os.W_OK) and os.path.exists(self.path):
            # Made read-only while open: SQLite would go on writing into the WAL through the
            # descriptors it already holds, and fail only at the next checkpoint.
            raise _read_only()
        with self._idle_lock:
            if self._idle_pid != os.getpid():  # a forked child: those are its parent's
                self._idle, self._idle_pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _give_back(self, conn: _Connection) -> None:
        with self._idle_lock:
            current = (conn.pid, conn.generation) == (os.getpid(), self._generation)
            if current and not conn.in_transaction and len(self._idle) < self.KEEP_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the waiting connections; those in a transaction close when it ends."""
        with self._idle_lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _connect(self) -> _Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                factory=_Connection,
            )
        except sqlite3.Error as exc:
            raise _unavailable(exc, "Cannot open the SQLite store") from exc
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            # FULL: a delivered id survives a power cut, so it is never delivered again.
            # Even a pragma may wait for the lock, and fail when it stays taken.
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            conn.close()
            raise _unavailable(exc, "The store could not be opened") from exc
        conn.pid, conn.generation = os.getpid(), self._generation
        return conn

    @contextlib.contextmanager
    def _transaction(
        self, *, write: bool = True, lock: str | None = None
    ) -> t.Iterator[Statements]:
        conn = self._connection(write)
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
        except sqlite3.Error as exc:
            error = self._failed(exc, conn)
            conn.close()
            raise error from exc
        try:
            yield Statements(conn, "?")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # SQLite may already have rolled the whole transaction back (a full disk, an
            # I/O error); either way nothing of it stays.
            _rollback(conn)
            if _code(exc) in _UNAVAILABLE:
                error = self._failed(exc, conn)
                conn.close()
                raise error from exc
            self._give_back(conn)
            raise
        except BaseException:
            _rollback(conn)
            self._give_back(conn)
            raise
        if write and self.full is not None:
            self._check_space(conn)
        self._give_back(conn)

    def _failed(self, exc: sqlite3.Error, conn: sqlite3.Connection) -> StoreUnavailable:
        error = _unavailable(exc, "The store failed")
        if isinstance(error, StoreFull):
            self.full = (error.message, _pages(conn))
        return error

    def _check_space(self, conn: sqlite3.Connection) -> None:
        # A small write may still fit in the pages the database has: only one that grew the
        # database past its size at the failure shows that there is space again.
        full = self.full
        if full is not None and _pages(conn) > full[1]:
            self.full = None

    def ping(self) -> None:
        """Reads, and checks that a write would be accepted, without writing.

        :raises StoreReadOnly: when SQLite refuses writes.
        :raises StoreFull: after a write failed for lack of space, until a write has grown
            the database (a full disk shows only when something needs space).
        """
        if not os.access(self.path, os.W_OK) and os.path.exists(self.path):
            raise _read_only()
        with self._transaction(write=False) as sql:
            sql.one("SELECT 1 FROM schema_version")
            # Refused at once on a read-only database, before any lock is taken; a writer
            # holding the lock (busy) means the database takes writes.
            sql.run("PRAGMA busy_timeout = 50")
            try:
                sql.run("UPDATE schema_version SET version = version WHERE 0")
            except sqlite3.OperationalError as exc:
                if _code(exc) not in _BUSY:
                    raise
            finally:  # the connection serves this thread's next transactions too
                sql.run(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        full = self.full
        if full is not None:
            raise StoreFull(full[0])


class _Connection(sqlite3.Connection):
    """A connection that knows the process and the store generation it was opened in."""

    pid: int
    generation: int


# SQLite's primary result codes, by what they mean for a caller.
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_UNAVAILABLE = _BUSY | {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_CORRUPT,
    sqlite3.SQLITE_NOTADB,
    sqlite3.SQLITE_PROTOCOL,
    sqlite3.SQLITE_PERM,
}


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _unavailable(exc: sqlite3.Error, what: str) -> StoreUnavailable:
    """The error a caller gets for SQLite's ``exc``: what happened, and that nothing was
    recorded."""
    code = _code(exc)
    if code in _BUSY:
        return StoreUnavailable("The store is busy; nothing was recorded. Try again shortly.")
    if code == sqlite3.SQLITE_FULL:
        return StoreFull(
            "The store's disk is full; nothing was recorded. The server's operator must free space."
        )
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return _read_only()
    return StoreUnavailable(f"{what} ({exc}); nothing was recorded.")


def _read_only() -> StoreReadOnly:
    return StoreReadOnly(
        "The store is read-only (file permissions or a read-only disk); nothing was "
        "recorded. The server's operator must make it writable."
    )


def _pages(conn: sqlite3.Connection) -> int:
    try:
        return int(conn.execute("PRAGMA page_count").fetchone()[0])
    except sqlite3.Error:
        return 0


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # closing the connection rolls back what is left
