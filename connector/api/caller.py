"""Reading the caller from request headers: key, tenant, platform, providers."""

from __future__ import annotations

import re
import typing as t

from flask import current_app, g, request

from .. import logs
from ..callers import Caller
from ..errors import InvalidInput, MissingCredentials, UnusableKey
from ..platforms import UnknownRequestSource, request_source_for
from ..runtime import Runtime

# Keys are printable ASCII, as every provider issues them; anything else was mangled on the
# way (a pasted smart quote, a stray byte) and cannot even be sent in an HTTP header.
_KEY = re.compile(r"[\x21-\x7e]+")


def runtime() -> Runtime:
    return t.cast(Runtime, current_app.extensions["connector"])


def current_caller() -> Caller:
    """The request's caller; also kept on ``g`` for the request log.

    ``Authorization: Bearer <key>`` is either the caller's own key for the provider named
    by ``X-Provider`` (default: the configured one), or one of the operator's access tokens,
    in which case the operator's keys serve the request, ``X-Provider`` first.

    :raises MissingCredentials: without a bearer key.
    :raises UnusableKey: for a key with characters no key has (it is not sent upstream).
    :raises InvalidInput: for an unknown ``X-Provider`` or ``X-Request-Source``.
    """
    if "caller" in g:
        return t.cast(Caller, g.caller)
    scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise MissingCredentials("Send your TikTok data API key as 'Authorization: Bearer <key>'.")
    if not _KEY.fullmatch(key):
        raise UnusableKey(
            "The API key holds characters no API key has (only printable ASCII, no spaces): "
            "copy it again from the provider's dashboard."
        )
    try:
        source = request_source_for(
            request.headers.get("X-Request-Source"), request.headers.get("User-Agent")
        )
    except UnknownRequestSource as exc:
        raise InvalidInput(str(exc)) from exc
    chosen = request.headers.get("X-Provider", "").strip().lower() or None
    # Whatever happens next, no log line of this request shows these keys.
    logs.hold({key})
    caller = runtime().caller_for(key, chosen, source)
    logs.hold(caller.secrets)
    g.caller = caller
    return caller
