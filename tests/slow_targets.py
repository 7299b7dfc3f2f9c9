"""Misbehaving webhook targets for tests: a raw TCP server on 127.0.0.1 that answers a POST
slowly, or endlessly, as its path says, and records when each request arrived and ended.

Paths (``/<mode>/<anything>``):

- ``fast``: 200 at once;
- ``drip-headers``: the status line and headers, one byte every ``step`` seconds;
- ``drip-body``: 200 and its headers at once, then the body one byte every ``step`` seconds;
- ``endless``: 200, then a chunked body as fast as the client reads, never ending;
- ``stall``: reads the request and answers nothing.

Every connection is given up after ``limit`` seconds, so a client with no deadline of its
own is held that long (not forever) and the test still ends.
"""

from __future__ import annotations

import dataclasses
import socket
import socketserver
import threading
import time
import typing as t


@dataclasses.dataclass
class Hit:
    path: str
    arrived: float  # time.monotonic() when the request was read
    ended: float | None = None  # when the server stopped answering it


class SlowTargets:
    def __init__(self, *, step: float = 0.2, limit: float = 4.0) -> None:
        self.step = step
        self.limit = limit
        self.lock = threading.Lock()
        self.hits: list[Hit] = []
        self.connections = 0
        targets = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                targets._handle(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = t.cast(tuple[str, int], self._server.server_address[:2])
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> SlowTargets:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def hits_for(self, prefix: str) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.path.startswith(prefix)]

    def _handle(self, sock: socket.socket) -> None:
        with self.lock:
            self.connections += 1
        until = time.monotonic() + self.limit
        sock.settimeout(self.limit)
        hit: Hit | None = None
        try:
            path = _read_request(sock)
            hit = Hit(path, time.monotonic())
            with self.lock:
                self.hits.append(hit)
            mode = path.strip("/").split("/")[0]
            answer = {
                "fast": self._fast,
                "drip-headers": self._drip_headers,
                "drip-body": self._drip_body,
                "endless": self._endless,
            }.get(mode, self._stall)
            answer(sock, until)
        except OSError:
            pass  # the client hung up: what the connector does at its deadline
        finally:
            if hit is not None:
                hit.ended = time.monotonic()

    def _fast(self, sock: socket.socket, until: float) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def _drip_headers(self, sock: socket.socket, until: float) -> None:
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"x" * 400 + b"\r\n"
        self._drip(sock, head, until)

    def _drip_body(self, sock: socket.socket, until: float) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        self._drip(sock, b"x" * 100000, until)

    def _endless(self, sock: socket.socket, until: float) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
        while time.monotonic() < until:
            sock.sendall(chunk)

    def _stall(self, sock: socket.socket, until: float) -> None:
        while time.monotonic() < until and sock.recv(1):
            pass

    def _drip(self, sock: socket.socket, data: bytes, until: float) -> None:
        for index in range(len(data)):
            if time.monotonic() >= until:
                return
            sock.sendall(data[index : index + 1])
            time.sleep(self.step)


def _read_request(sock: socket.socket) -> str:
    """Read one request (headers and a Content-Length body); return its path."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the request ended")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return lines[0].split(" ")[1]


def serve() -> t.Iterator[SlowTargets]:
    """A fixture body: the server for one test."""
    with SlowTargets() as targets:
        yield targets
