"""Logs: one line per request, written once; text or JSON lines with the request id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t

import httpx
import pytest

from connector.errors import ConfigError
from connector.sandbox import World

from .conftest import KEY
from .servers import free_port, wait_until_up


def test_connector_serve_writes_one_access_line_per_request(tmp_path: t.Any) -> None:
    """`connector serve` as people run it (granian, a worker per core): each line once,
    not also through the root logger or granian's own handlers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(
        CONNECTOR_DATABASE_URL=f"sqlite:///{tmp_path / 'connector.db'}",
        CONNECTOR_POLL_INTERVAL="0",
    )
    command = [sys.executable, "-m", "connector", "serve", "--sandbox", "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/health", server, seconds=30)
        response = httpx.get(
            f"{url}/v1/auth/test",
            headers={"Authorization": f"Bearer {KEY}", "X-Request-Id": "one-line-please"},
        )
        assert response.status_code == 200
        assert response.headers["X-Request-Id"] == "one-line-please"
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if "/v1/auth/test" in line]
    assert len(lines) == 1, stderr
    assert "[one-line-please]" in lines[0] and " 200 " in lines[0]
    assert KEY not in stderr


def _json_lines(err: str) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_json_logs_are_one_object_per_line_with_the_request_id(
    make_app: t.Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_app(LOG_FORMAT="json").test_client()
    capsys.readouterr()
    response = client.post(
        "/v1/actions/get-profile",
        json={"handle": "creator"},
        headers={"Authorization": f"Bearer {KEY}", "X-Request-Id": "req-42"},
    )
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "req-42"
    records = _json_lines(capsys.readouterr().err)  # every line parses
    (access,) = [r for r in records if r.get("path") == "/v1/actions/get-profile"]
    assert access["request_id"] == "req-42"
    assert access["level"] == "INFO" and access["logger"] == "connector.api"
    assert access["method"] == "POST" and access["status"] == 200
    assert access["source"] == "API" and len(access["tenant"]) == 8
    assert isinstance(access["duration_ms"], float) and access["time"]
    assert access["message"].startswith("POST /v1/actions/get-profile 200 ")


@pytest.mark.parametrize("given", [None, "", "has space", "x" * 200, 'quote"d', "ünï"])
def test_a_request_id_is_made_when_none_sane_is_given(
    make_app: t.Any, capsys: pytest.CaptureFixture[str], given: str | None
) -> None:
    client = make_app(LOG_FORMAT="json").test_client()
    capsys.readouterr()
    headers = {} if given is None else {"X-Request-Id": given}
    response = client.get("/health", headers=headers)
    made = response.headers["X-Request-Id"]
    assert made != given and len(made) == 32 and int(made, 16) >= 0
    (access,) = _json_lines(capsys.readouterr().err)
    assert access["request_id"] == made


def test_each_request_has_its_own_id(make_app: t.Any) -> None:
    client = make_app().test_client()
    ids = {client.get("/health").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3
    error = client.get("/nowhere")
    assert error.status_code == 404 and error.headers["X-Request-Id"] not in ids


def test_a_log_line_written_outside_a_request_has_no_request_id(
    make_app: t.Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    make_app(LOG_FORMAT="json")
    capsys.readouterr()
    logging.getLogger("connector.hooks").warning("between requests")
    (record,) = _json_lines(capsys.readouterr().err)
    assert record["message"] == "between requests" and record["request_id"] == "-"


def test_an_unknown_log_format_stops_start_up(make_app: t.Any) -> None:
    with pytest.raises(ConfigError, match="CONNECTOR_LOG_FORMAT"):
        make_app(LOG_FORMAT="xml")
