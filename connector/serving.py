"""Running WSGI apps: granian in the foreground, and a loopback server in a thread."""

from __future__ import annotations

import os
import tempfile
import threading
import typing as t

from werkzeug.serving import BaseWSGIServer, make_server

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class BackgroundServer:
    """A threaded werkzeug server in a daemon thread (the sandbox beside the connector, and
    the tests' servers), or in the foreground (``connector sandbox``). Port 0 picks a free
    port; ``url`` tells which."""

    def __init__(self, app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def serve_forever(self) -> None:
        """Serve in this thread instead (``connector sandbox``), until interrupted."""
        try:
            self._server.serve_forever(poll_interval=0.05)
        finally:
            self._server.server_close()

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


def shared_metrics() -> tempfile.TemporaryDirectory[str] | None:
    """Have this process and the workers it starts count their metrics in one folder, so
    that ``/metrics``, whichever worker answers, reports them all (prometheus_client's
    multiprocess mode). A new, empty folder for this run, removed by the caller at the end;
    ``None`` when the operator set ``PROMETHEUS_MULTIPROC_DIR`` already."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    folder = tempfile.TemporaryDirectory(prefix="connector-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder.name
    return folder


#: What every worker of ``connector serve`` calls to build its app (from ``CONNECTOR_*`` in its
#: environment): a granian factory.
WSGI_TARGET = "connector.serving:worker_app"

#: Request keys a WSGI server sets besides ``HTTP_*`` and ``wsgi.*`` (PEP 3333, and what
#: granian and werkzeug add): never taken for the process environment's.
_REQUEST_KEYS = frozenset(
    (
        "REQUEST_METHOD SCRIPT_NAME PATH_INFO QUERY_STRING CONTENT_TYPE CONTENT_LENGTH"
        " SERVER_NAME SERVER_PORT SERVER_PROTOCOL SERVER_SOFTWARE GATEWAY_INTERFACE"
        " REMOTE_ADDR REMOTE_PORT REMOTE_HOST REMOTE_USER RAW_URI REQUEST_URI HTTPS"
    ).split()
)


def worker_app() -> WSGIApplication:
    """The app of one ``connector serve`` worker, as granian calls it per request.

    granian puts a copy of the whole process environment in every request's environ (the
    CGI way), ``CONNECTOR_SECRET_KEY``, upstream keys and database passwords included, where
    anything that logs or shows a request's environ would show them: they are taken out
    before the app sees the request.
    """
    from .wsgi import app

    return without_process_environment(app)


def without_process_environment(app: WSGIApplication) -> WSGIApplication:
    """``app``, called with environs from which the keys of this process's environment (as
    it is now) are removed, but for the request's own."""
    inherited = tuple(
        name
        for name in os.environ
        if name not in _REQUEST_KEYS and not name.startswith(("HTTP_", "wsgi."))
    )

    def without(environ: dict[str, t.Any], start_response: t.Any) -> t.Iterable[bytes]:
        for name in inherited:
            environ.pop(name, None)
        return app(environ, start_response)

    return t.cast("WSGIApplication", without)


def serve_forever(host: str, port: int, *, workers: int, threads: int) -> None:
    """Serve :data:`WSGI_TARGET` with granian until SIGINT or SIGTERM: ``workers`` processes
    on one listening socket, ``threads`` requests at once in each.

    Processes, because one Python process runs its Python code on one core at a time and an
    idle trigger poll costs about 3 ms of it: one process tops out near 300 requests a
    second however many threads wait on upstream. granian reads and writes HTTP in Rust,
    outside the GIL, so the Python left per request is the app's own.

    Workers are spawned, not forked: the calling process already runs threads (the
    scheduler, the sandbox), and a fork copies whatever lock one of them holds. A spawned
    worker builds its app from the environment, so settings given in code must be put
    there first (see ``connector serve``); its ``atexit`` handlers run when it stops.
    """
    import multiprocessing

    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    multiprocessing.set_start_method("spawn", force=True)
    Server(
        WSGI_TARGET,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        websockets=False,
        # A worker that dies (killed, out of memory) is replaced, as gunicorn does; one that
        # keeps dying at start stops the server (granian's crash-loop check).
        respawn_failed_workers=True,
        log_level=LogLevels.info,
        # Incremental: granian sets its loggers' levels but leaves their handlers alone;
        # connector.logs gives them the connector's (one line each, secrets redacted).
        log_dictconfig={"version": 1, "incremental": True, "handlers": {}, "loggers": {}},
    ).serve()
