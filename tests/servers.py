"""Servers a test starts as processes: a free port to give them, and waiting until they answer.

Servers in a thread of the test process (the sandbox upstream, webhook receivers) are
:class:`connector.serving.BackgroundServer`, which picks its own port.
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
import typing as t

import httpx

#: The installed ``connector`` command.
CONNECTOR = pathlib.Path(sys.executable).parent / "connector"


def sandbox_process(cwd: pathlib.Path, port: int, **settings: str) -> subprocess.Popen[str]:
    """``connector serve --sandbox`` as the README's first command starts it: the installed
    command, in ``cwd``, with none of this run's ``CONNECTOR_*`` variables (only
    ``settings``, names without the prefix); its output captured as text."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update({f"CONNECTOR_{name}": value for name, value in settings.items()})
    return subprocess.Popen(
        [str(CONNECTOR), "serve", "--sandbox", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the system picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    url: str,
    process: subprocess.Popen[t.Any] | None = None,
    *,
    seconds: float = 20.0,
    any_status: bool = False,
    output: t.Callable[[], str] | None = None,
) -> None:
    """Wait until a GET of ``url`` answers 200 (any status with ``any_status``).

    :param process: the server's process; it exiting first fails the wait at once.
    :param output: what to show when ``process`` exited (its output or log, say).
    :raises AssertionError: when the process exited or ``seconds`` went by first.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited: {output() if output else process.args!r}")
        try:
            status = httpx.get(url, timeout=1).status_code
        except httpx.TransportError:
            pass
        else:
            if any_status or status == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {seconds:g} s")
