"""Running WSGI apps: waitress in the foreground, and a loopback server in a thread."""

from __future__ import annotations

import threading
import typing as t

from werkzeug.serving import BaseWSGIServer, make_server

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class BackgroundServer:
    """A threaded werkzeug server in a daemon thread (the sandbox beside the connector, and
    the tests' servers). Port 0 picks a free port; ``url`` tells which."""

    def __init__(self, app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(app: WSGIApplication, host: str, port: int, threads: int = 8) -> None:
    """Serve ``app`` with waitress, a production WSGI server, until interrupted."""
    import waitress

    waitress.serve(app, host=host, port=port, threads=threads, ident="tiktok-connector")
