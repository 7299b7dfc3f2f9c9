"""Fixtures: the sandbox upstream and the connector, as real servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pathlib
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import typing as t

import httpx
import pytest

from connector import create_app
from connector.sandbox import Fault, World, base_urls, create_sandbox_app
from connector.serving import BackgroundServer

from .receiver import Receiver

if t.TYPE_CHECKING:
    from .operator_console import Console

KEY = "sk_test_0123456789abcdef"

ROOT = pathlib.Path(__file__).parent.parent
# The platforms' own npm packages the tests run the generated apps with: (folder, command).
NPM_PACKAGES = (
    (ROOT / "zapier_schema", ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"]),
    (ROOT / "tests" / "n8n" / "npm", ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]),
)


def pytest_configure(config: pytest.Config) -> None:
    """Install the platforms' npm packages when Node is here and they are not, so that the
    test command alone runs every test this machine can run (the tests that need them are
    skipped, saying why, when npm cannot install them). Under pytest-xdist only the
    controller installs, before it starts the workers; a lock keeps two test runs on one
    work tree from installing into the same folder at once, and lets the run keep bytecode
    (see ``_keep_bytecode``). Then TLS contexts are made cheap for every process of the run
    (see ``_lazy_trust_store``)."""
    if not hasattr(config, "workerinput"):
        _install_npm_packages()
        _keep_bytecode()
    _lazy_trust_store()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: two workers per core, not one. About half of the suite's time is spent
    waiting (on servers, processes the tests start, deliberate delays), so one worker per core
    left the cores idle a third of the time; more than two per core cost more CPU (each worker
    imports and collects the suite and starts its own servers and PostgreSQL) than the waits
    free. The fast lane on 2 cores: 83 s with 2 workers, 51 to 65 s with 4, 65 to 70 s with 5
    or 6. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` and ``-n logical`` are left to pytest-xdist."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or config.option.numprocesses != "auto":
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 2 * cores


def _install_npm_packages() -> None:
    if shutil.which("npm") is None:
        return
    for folder, command in NPM_PACKAGES:
        if (folder / "node_modules").is_dir():
            continue
        with _lock(folder):
            if (folder / "node_modules").is_dir():
                continue  # another run installed them while this one waited
            try:
                subprocess.run(command, cwd=folder, check=True, capture_output=True, timeout=600)
            except (OSError, subprocess.SubprocessError) as exc:
                print(f"could not install the npm packages in {folder}: {exc}")


@contextlib.contextmanager
def _lock(folder: pathlib.Path) -> t.Iterator[None]:
    """An exclusive lock on ``folder`` across processes (a file in the temporary folder)."""
    name = "connector-npm-" + hashlib.sha256(str(folder).encode()).hexdigest()[:16] + ".lock"
    with open(os.path.join(tempfile.gettempdir(), name), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _keep_bytecode() -> None:
    """Let this run's processes write bytecode (to the ``__pycache__`` folders, ignored by git)
    when ``PYTHONDONTWRITEBYTECODE`` forbade it, as some containers' environments do.

    Without it every pytest-xdist worker rewrote the assertions of every test module and of
    the plugins' packages (hypothesis, anyio, ...) anew, about 3.5 s of CPU each before its
    first test, and every ``connector`` process a test starts compiled the connector anew:
    together a fifth of the fast lane's CPU time. Run by the controller before it starts the
    workers, so that they, and the processes they start, inherit the environment without it.
    """
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        sys.dont_write_bytecode = False


def _lazy_trust_store() -> None:
    """Point TLS at the system's hashed CA folder, which OpenSSL reads only when it checks a
    certificate, instead of a CA bundle file, which it parses whole for every TLS context.

    Every httpx client builds a TLS context, even for plain HTTP: the connector builds two
    for each upstream client of each app, and the tests build hundreds of apps. Parsing the
    bundle took about 30 ms of CPU each, a third of the fast lane's CPU time. No test reaches a
    server that the system's CAs vouch for (the servers are on loopback over plain HTTP; the
    TLS delivery test brings its own CA), so what they test is the same. The test process's
    environment is what changes (``SSL_CERT_DIR`` set, ``SSL_CERT_FILE`` unset), and with it
    that of the servers the tests start as processes; nothing changes where the system has
    no such folder.
    """
    folder = ssl.get_default_verify_paths().capath
    if not folder or not any(name.endswith(".0") for name in os.listdir(folder)):
        return
    os.environ.pop("SSL_CERT_FILE", None)
    os.environ["SSL_CERT_DIR"] = folder


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CONNECTOR_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sandbox_server() -> t.Iterator[tuple[World, BackgroundServer]]:
    world = World()
    with BackgroundServer(create_sandbox_app(world)) as server:
        yield world, server


@pytest.fixture
def world(sandbox_server: tuple[World, BackgroundServer]) -> World:
    """The worker's sandbox upstream, emptied, once the previous test's reads have ended."""
    world, _ = sandbox_server
    _wait_until_idle(world)
    world.reset()
    return world


def _wait_until_idle(world: World, seconds: float = 10.0) -> None:
    """Wait until the sandbox serves no request. A read whose client gave up (a timeout, a
    budget, a killed process) sleeps on in the sandbox through its latency or its fault's
    delay; one left by the previous test would then take a fault this test scripts, as the
    Zapier test's rate-limit fault was once taken from under it by such a read."""
    deadline = time.monotonic() + seconds
    while True:
        with world._lock:
            busy = {name: count for name, count in world._in_flight.items() if count}
        if not busy:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the previous test left sandbox requests in flight: {busy}")
        time.sleep(0.01)


@pytest.fixture
def sandbox_url(sandbox_server: tuple[World, BackgroundServer], world: World) -> str:
    return sandbox_server[1].url


@pytest.fixture
def db_url(tmp_path: t.Any) -> str:
    return f"sqlite:///{tmp_path / 'connector.db'}"


@pytest.fixture(scope="session")
def postgres_server() -> t.Iterator[str]:
    from . import postgres

    try:
        with postgres.server() as url:
            yield url
    except LookupError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def postgres_url(postgres_server: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for one test."""
    from . import postgres

    name = "t_" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    return postgres.new_database(postgres_server, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: t.Any) -> str:
    """The same test on the embedded SQLite store and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'connector.db'}"
    return t.cast(str, request.getfixturevalue("postgres_url"))


@pytest.fixture
def make_app(sandbox_url: str, db_url: str) -> t.Callable[..., t.Any]:
    def make(**overrides: t.Any) -> t.Any:
        settings: dict[str, t.Any] = {"DATABASE_URL": db_url, **base_urls(sandbox_url)}
        settings["UPSTREAM_TIMEOUT"] = 2.0
        settings.update(overrides)
        return create_app(settings)

    return make


@pytest.fixture
def app(make_app: t.Callable[..., t.Any]) -> t.Any:
    return make_app()


@pytest.fixture
def client(app: t.Any) -> t.Any:
    return app.test_client()


@contextlib.contextmanager
def served(app: t.Any) -> t.Iterator[httpx.Client]:
    """``app`` on a real loopback socket, and an httpx client calling it with :data:`KEY`."""
    with (
        BackgroundServer(app) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        ) as http,
    ):
        yield http


@pytest.fixture
def live(app: t.Any) -> t.Iterator[httpx.Client]:
    """An httpx client talking to the connector served on a real loopback socket."""
    with served(app) as http:
        yield http


def subscribe(
    app: t.Any,
    receiver: Receiver,
    root: str,
    path: str,
    handle: str = "creator",
    key: str = KEY,
) -> dict[str, t.Any]:
    """Subscribe the receiver's ``path`` (under ``root``) to ``handle``'s new videos, and
    tell the receiver the signing secret to verify deliveries with."""
    response = app.test_client().post(
        "/v1/hooks",
        json={"target_url": f"{root}/{path}", "handle": handle},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.json
    receiver.expect(path, response.json["secret"])
    return t.cast(dict[str, t.Any], response.json)


def fault(world: World, **kwargs: t.Any) -> None:
    world.add_fault(Fault(**kwargs))


@pytest.fixture(scope="module")
def receiver_server() -> t.Iterator[tuple[Receiver, BackgroundServer]]:
    """A webhook receiver on 127.0.0.1 that verifies signatures (see receiver.py)."""
    receiver = Receiver()
    with BackgroundServer(receiver.app) as server:
        yield receiver, server


@pytest.fixture
def receiver(receiver_server: tuple[Receiver, BackgroundServer]) -> Receiver:
    """The module's receiver, emptied: nothing received, scripted or expected yet."""
    receiver, _ = receiver_server
    with receiver.lock:
        receiver.received.clear()
        receiver.scripts.clear()
        receiver.secrets.clear()
    return receiver


def scheduled_event(rule: str) -> dict[str, t.Any]:
    """An EventBridge scheduled event, as Lambda receives it for the rule named ``rule``."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-26T12:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


@pytest.fixture
def console(
    make_app: t.Callable[..., t.Any],
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
    request: pytest.FixtureRequest,
) -> t.Iterator[Console]:
    """A console with its settings (and the test's ``param``), its receiver ready."""
    from .operator_console import serve_console

    extra = getattr(request, "param", {})
    with serve_console(make_app, receiver, receiver_server[1].url, **extra) as console:
        yield console
