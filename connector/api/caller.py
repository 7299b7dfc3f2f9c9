"""Reading the caller from request headers: key, tenant, platform, providers."""

from __future__ import annotations

import typing as t

from flask import current_app, g, request

from ..errors import InvalidInput, MissingCredentials
from ..platforms import UnknownRequestSource, request_source_for
from ..runtime import Caller, Runtime


def runtime() -> Runtime:
    return t.cast(Runtime, current_app.extensions["connector"])


def current_caller() -> Caller:
    """The request's caller; also kept on ``g`` for the request log.

    ``Authorization: Bearer <key>`` is either the caller's own key for the provider named
    by ``X-Provider`` (default: the configured one), or one of the operator's access tokens,
    in which case the operator's keys serve the request, ``X-Provider`` first.

    :raises MissingCredentials: without a bearer key.
    :raises InvalidInput: for an unknown ``X-Provider`` or ``X-Request-Source``.
    """
    if "caller" in g:
        return t.cast(Caller, g.caller)
    scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise MissingCredentials("Send your TikTok data API key as 'Authorization: Bearer <key>'.")
    try:
        source = request_source_for(
            request.headers.get("X-Request-Source"), request.headers.get("User-Agent")
        )
    except UnknownRequestSource as exc:
        raise InvalidInput(str(exc)) from exc
    chosen = request.headers.get("X-Provider", "").strip().lower() or None
    caller = runtime().caller_for(key, chosen, source)
    g.caller = caller
    return caller
