"""A throwaway PostgreSQL server for the tests, on a loopback port in a temporary folder.

``CONNECTOR_TEST_POSTGRES_URL`` points the tests at an existing server instead. Without
either, the PostgreSQL tests are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import typing as t

from .servers import free_port


def _bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def _memory_folder() -> str | None:
    """/dev/shm when it is a writable folder (a tmpfs on Linux), else None (the temporary
    folder): each test's CREATE DATABASE copies a template of some 7 MB, which took 140 to
    280 ms on disk and takes about 40 ms in memory."""
    folder = "/dev/shm"
    return folder if os.path.isdir(folder) and os.access(folder, os.W_OK) else None


@contextlib.contextmanager
def server() -> t.Iterator[str]:
    """Yield a superuser URL (database ``postgres``) of a server that lives for the block."""
    configured = os.environ.get("CONNECTOR_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    pgbin = _bin()
    if pgbin is None:
        raise LookupError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    folder = tempfile.mkdtemp(prefix="connector-pg-", dir=_memory_folder())
    as_root = os.geteuid() == 0
    run_as: list[str] = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(folder, "postgres", "postgres")
    data = os.path.join(folder, "data")
    port = free_port()
    subprocess.run(
        [
            *run_as,
            f"{pgbin}/initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=200"
    )
    subprocess.run(
        [
            *run_as,
            f"{pgbin}/pg_ctl",
            "-D",
            data,
            "-l",
            os.path.join(folder, "log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, f"{pgbin}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def new_database(admin_url: str, name: str) -> str:
    """Create an empty database on the server; returns its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
