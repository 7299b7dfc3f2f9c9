"""The process's logs: one handler, text or JSON lines, the request id, secrets redacted.

Every ``connector.*`` logger (and granian's) writes through one handler on stderr and does
not propagate, so a line is written once whatever else configured the root logger (AWS
Lambda's runtime, say). Before a line is written, every secret known to be in play
is replaced by ``[redacted]``: the operator's (given to :func:`configure`) and those of the
work at hand (:func:`holding`; a request holds its caller's keys), whatever the message quotes.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import typing as t

REDACTED = "[redacted]"
SHORT = 8
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# "_granian": what the server of ``connector serve`` says (workers started, stopped, died).
LOGGERS = ("connector", "_granian")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "connector_request_id", default="-"
)
_secrets: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "connector_secrets", default=frozenset()
)
# The attributes every LogRecord has; the others were given with ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}


def redact(text: str, secrets: t.Iterable[str]) -> str:
    """``text`` with every non-empty secret in ``secrets`` replaced by ``[redacted]``.

    A secret shorter than :data:`SHORT` characters (a test key such as ``demo``) is replaced
    only where it stands alone, not inside words, so that a message stays readable.
    """
    # Longest first: a secret that contains another is replaced whole.
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        if len(secret) >= SHORT:
            text = text.replace(secret, REDACTED)
        elif secret in text:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", REDACTED, text)
    return text


def secrets_in_play() -> frozenset[str]:
    """The secrets held by the current work (see :func:`holding`)."""
    return _secrets.get()


@contextlib.contextmanager
def holding(secrets: t.Iterable[str]) -> t.Iterator[None]:
    """Redact ``secrets`` from every line logged inside the block (in this thread or task):
    for work done with keys outside a request, such as polling on a subscriber's behalf."""
    token = _secrets.set(_secrets.get() | frozenset(filter(None, secrets)))
    try:
        yield
    finally:
        _secrets.reset(token)


def begin_request(request_id: str) -> None:
    """Tag the lines logged from now on in this context with ``request_id``."""
    _request_id.set(request_id)
    _secrets.set(frozenset())


def hold(secrets: t.Iterable[str]) -> None:
    """Redact ``secrets`` from the lines logged until :func:`end_request`."""
    _secrets.set(_secrets.get() | frozenset(filter(None, secrets)))


def end_request() -> None:
    _request_id.set("-")
    _secrets.set(frozenset())


class _ContextFilter(logging.Filter):
    """Adds ``request_id`` to each record and redacts secrets from everything it carries."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()  # the operator's, for the life of the process

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        secrets = self.secrets | _secrets.get()
        if not secrets:
            return True
        message = record.getMessage()
        clean = redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            # Formatted here, so that the formatter (text or JSON) prints the redacted text.
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, redact(text, secrets)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value, secrets))
        return True


class _StderrHandler(logging.StreamHandler[t.Any]):
    """Writes to whatever ``sys.stderr`` is when a line is logged (as logging's last-resort
    handler does), so that a replaced stderr (a test's capture) receives the lines."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> t.Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: t.Any) -> None:
        pass


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    return logging.Formatter(TEXT_FORMAT)


def configure(level: str, fmt: str, secrets: t.Iterable[str] = ()) -> None:
    """Send the connector's and granian's logs, once each, through one stderr handler.

    Idempotent: apps built later in the same process reuse the handler (their ``fmt`` and
    ``level`` win) and add their ``secrets`` to those redacted.

    :param level: a :mod:`logging` level name for the ``connector`` loggers.
    :param fmt: ``text`` (one readable line each) or ``json`` (one JSON object per line).
    :param secrets: the operator's secrets: server keys, access tokens, the secret key.
    """
    from flask.logging import default_handler

    handler = _handler()
    if handler is None:
        handler = _StderrHandler()
        handler.addFilter(_ContextFilter())
    handler.setFormatter(_formatter(fmt))
    for flt in handler.filters:
        if isinstance(flt, _ContextFilter):
            flt.secrets.update(filter(None, secrets))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        # Flask adds its own handler to the app's logger ("connector") when nothing handles
        # it yet; with ours it would write every line twice.
        logger.removeHandler(default_handler)
        if handler not in logger.handlers:
            logger.addHandler(handler)
        logger.propagate = False
    logging.getLogger("connector").setLevel(level)


def _handler() -> _StderrHandler | None:
    for handler in logging.getLogger("connector").handlers:
        if isinstance(handler, _StderrHandler):
            return handler
    return None


__all__ = [
    "FORMATS",
    "REDACTED",
    "begin_request",
    "configure",
    "end_request",
    "hold",
    "holding",
    "redact",
    "secrets_in_play",
]
