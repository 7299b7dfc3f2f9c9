"""The connector command, including the README's sandbox command as a real process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from connector.cli import cli

from .servers import CONNECTOR, free_port, sandbox_process, wait_until_up


def test_help_says_what_each_command_does() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for command in ("serve", "sandbox", "db"):
        assert command in top.output
    serve = runner.invoke(cli, ["serve", "--help"])
    assert "--sandbox" in serve.output and "granian" in serve.output
    assert runner.invoke(cli, ["db", "upgrade", "--help"]).exit_code == 0


def test_db_upgrade_creates_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state" / "c.db"
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{target}")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert target.exists()
    assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0  # idempotent


def test_bad_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", "mysql://nope")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "No store for database URL scheme 'mysql'" in result.output


def test_serve_sandbox_answers_every_endpoint(tmp_path: Path) -> None:
    assert CONNECTOR.exists(), "the connector console script is installed"
    port = free_port()
    process = sandbox_process(tmp_path, port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/health", process, output=lambda: process.communicate()[0])
        headers = {"Authorization": "Bearer any-key-works"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            assert http.get("/health").json()["sandbox"] is True
            assert http.get("/v1/auth/test").status_code == 200
            profile = http.post("/v1/actions/get-profile", json={"handle": "@tiktok"}).json()
            assert profile["handle"] == "tiktok"
            sample = http.post("/v1/triggers/new-video", json={"handle": "tiktok", "sample": True})
            assert len(sample.json()) == 3
            video = http.post("/v1/actions/get-video", json={"url": sample.json()[0]["url"]})
            assert video.json()["id"] == sample.json()[0]["id"]
            assert http.post("/v1/triggers/new-video", json={"handle": "tiktok"}).json() == []
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "SANDBOX MODE" in output
    assert (tmp_path / "connector.db").exists()


def test_serve_writes_the_usage_it_batched_when_stopped(tmp_path: Path) -> None:
    """Upstream calls are counted in memory and written in batches; a service manager's
    SIGTERM (systemd, docker stop, Kubernetes) must not lose the last batch."""
    port = free_port()
    process = sandbox_process(tmp_path, port, USAGE_FLUSH_INTERVAL="3600")
    from connector.store.activity import Activity
    from connector.store.sqlite import SQLiteStore

    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/health", process, output=lambda: process.communicate()[0])
        headers = {"Authorization": "Bearer any-key-works", "X-Request-Source": "N8N"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            for handle in ("tiktok", "someone"):
                assert http.post("/v1/actions/get-profile", json={"handle": handle}).is_success
        store = SQLiteStore(f"sqlite:///{tmp_path / 'connector.db'}")
        assert Activity(store).usage(0) == [], "batched: not one store write per request"
    finally:
        process.terminate()  # SIGTERM
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    usage = Activity(store).usage(0)
    assert [(u.provider, u.request_source, u.outcome) for u in usage] == [
        ("dumplingai", "N8N", "ok")
    ]
    assert usage[0].calls == 2
    store.close()


def test_serve_replaces_a_worker_that_dies(tmp_path: Path) -> None:
    """A worker killed outright (the kernel's OOM killer sends SIGKILL) is replaced; the
    others serve meanwhile and the server goes on."""
    import os
    import signal
    import subprocess
    import threading
    import time

    port = free_port()
    process = sandbox_process(tmp_path, port, WORKERS="2", POLL_INTERVAL="0")
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    output = process.stdout
    assert output is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(output.readline, "")))
    reader.start()
    try:
        # Both workers serving (granian says so once a worker has built its app): the first
        # /health answer may come while the second still builds its own.
        deadline = time.monotonic() + 30
        while sum("Started worker-" in line for line in list(lines)) < 2:
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        wait_until_up(base + "/health", process, output=lambda: "".join(lines))

        def workers() -> set[int]:
            found = subprocess.run(
                ["pgrep", "-P", str(process.pid), "-f", "spawn_main"],
                capture_output=True,
                text=True,
            ).stdout.split()
            return {int(pid) for pid in found}

        first = workers()
        assert len(first) == 2, first
        os.kill(min(first), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = workers()
            if len(now) == 2 and now != first:
                break
            time.sleep(0.2)
        assert len(workers()) == 2 and workers() != first, "a new worker took its place"
        assert process.poll() is None, "the server went on"
        for _ in range(10):  # new connections: either worker answers
            assert httpx.get(base + "/health", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=10)
        output.close()
    assert process.returncode == 0, "".join(lines)
