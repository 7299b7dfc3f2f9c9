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


#: How many times the app's body limit waitress buffers before refusing a body itself.
WAITRESS_BODY_FACTOR = 16


def waitress_server(app: WSGIApplication, host: str, port: int, threads: int = 8) -> t.Any:
    """A waitress server for ``app``, bound and ready to ``run()`` (port 0: a free one).

    Waitress reads a whole body before the app sees it, so it gets a bound of its own: bodies
    past the app's limit (``MAX_CONTENT_LENGTH``) and up to ``WAITRESS_BODY_FACTOR`` times it
    are buffered (at most 512 KiB in memory, the rest in a temporary file) and answered 413
    in JSON by the app; a body declared larger still is refused by waitress itself with a
    plain-text 413, before any of it is read.
    """
    import waitress

    limit = getattr(app, "config", {}).get("MAX_CONTENT_LENGTH")
    options: dict[str, t.Any] = {}
    if limit:
        options["max_request_body_size"] = limit * WAITRESS_BODY_FACTOR
    return waitress.create_server(
        app, host=host, port=port, threads=threads, ident="tiktok-connector", **options
    )


def serve_forever(app: WSGIApplication, host: str, port: int, threads: int = 8) -> None:
    """Serve ``app`` with waitress, a production WSGI server, until interrupted.

    Not ``waitress.serve``: it configures the root logger, which would write every log line
    a second time (the connector's loggers have their own handler, see ``connector.logs``).
    """
    waitress_server(app, host, port, threads).run()
