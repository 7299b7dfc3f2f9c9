"""Reading the caller from request headers: key, tenant, platform."""

from __future__ import annotations

from flask import current_app, g, request

from ..errors import InvalidInput, MissingCredentials
from ..platforms import UnknownRequestSource, request_source_for, tenant_for
from ..runtime import Caller, Runtime


def runtime() -> Runtime:
    return current_app.extensions["connector"]  # type: ignore[no-any-return]


def current_caller() -> Caller:
    """The request's caller; also kept on ``g`` for the request log.

    :raises MissingCredentials: without ``Authorization: Bearer <key>``.
    :raises InvalidInput: for an ``X-Request-Source`` outside the documented enum.
    """
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
    caller = Caller(
        api_key=key,
        tenant=tenant_for(key),
        request_source=source,
        provider=current_app.config["PROVIDER"],
    )
    g.caller = caller
    return caller
