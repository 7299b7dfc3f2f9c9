"""What ``connector serve``'s server hands the app with each request: granian puts a copy of
the whole process environment in every WSGI environ (granian/wsgi.py, ``_callback_wrapper``:
``basic_env = dict(os.environ)``, merged into each request's scope), so the secret key, the
upstream keys and the database password would be one ``request.environ`` away from a log
line or an error page. Real granian processes on 127.0.0.1, called over HTTP."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import types
import typing as t

import httpx
import pytest

from connector import serving

from .servers import free_port, wait_until_up

ROOT = pathlib.Path(__file__).parent.parent
SECRETS = {
    "CONNECTOR_SECRET_KEY": "probe-secret-key-b1Zq9Lr0dT6x",
    "CONNECTOR_DUMPLINGAI_API_KEY": "sk_probe_upstream_key_9f8e7d",
    "CONNECTOR_DATABASE_URL": "postgresql://app:pr0be-pa55word@127.0.0.1/connector",
    "AWS_SECRET_ACCESS_KEY": "probe/aws/secret/Kq1w2e3r4t5y",
}


@contextlib.contextmanager
def granian(factory: str) -> t.Iterator[str]:
    """granian serving the ``tests.environ_probe`` factory ``factory`` as ``connector serve``
    runs it (WSGI, a factory target), with :data:`SECRETS` in its environment."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "wsgi", "--factory"]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        + [f"tests.environ_probe:{factory}"],
        cwd=ROOT,
        env={**os.environ, **SECRETS},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def environ_seen(url: str) -> tuple[dict[str, str], str]:
    answer = httpx.get(f"{url}/some/path?q=1", headers={"X-Probe": "yes"}, timeout=10)
    assert answer.status_code == 200
    return answer.json(), answer.text


def test_granian_hands_the_app_its_process_environment() -> None:
    # The adversary is real: without the wrapper, the secrets reach the app.
    with granian("bare") as url:
        seen, _ = environ_seen(url)
    assert seen["CONNECTOR_SECRET_KEY"] == SECRETS["CONNECTOR_SECRET_KEY"]


def test_the_app_served_sees_the_request_and_none_of_the_process_environment() -> None:
    with granian("as_served") as url:
        seen, text = environ_seen(url)
    for name, value in SECRETS.items():
        assert name not in seen and value not in text
    assert "PATH" not in seen and "HOME" not in seen
    # What the request itself brings is all there.
    assert seen["REQUEST_METHOD"] == "GET" and seen["PATH_INFO"] == "/some/path"
    assert seen["QUERY_STRING"] == "q=1" and seen["HTTP_X_PROBE"] == "yes"
    assert seen["wsgi.url_scheme"] == "http" and seen["SERVER_PROTOCOL"].startswith("HTTP/")


def test_connector_serve_serves_the_app_so_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    assert serving.WSGI_TARGET == "connector.serving:worker_app"
    seen: list[dict[str, t.Any]] = []
    built = types.ModuleType("connector.wsgi")  # connector.wsgi builds an app when imported
    built.app = lambda environ, start: seen.append(environ)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "connector.wsgi", built)
    monkeypatch.setenv("SOME_SETTING", "hidden-from-requests")
    served = serving.worker_app()
    request = {"SOME_SETTING": "hidden-from-requests", "HTTP_HOST": "x", "PATH_INFO": "/"}
    served(request, t.cast(t.Any, None))
    assert seen == [{"HTTP_HOST": "x", "PATH_INFO": "/"}]
