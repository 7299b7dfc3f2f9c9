"""Service endpoints: health and the credentials test."""

from __future__ import annotations

import typing as t

from flask import current_app

from .. import __version__
from ..schemas import AuthTestSchema, HealthSchema
from .blueprint import Blueprint
from .caller import current_caller, runtime

blp = Blueprint("meta", __name__, description="Health and connection test.")


@blp.route("/health")
@blp.response(200, HealthSchema)
def health() -> dict[str, t.Any]:
    """Is the service up and its store reachable?"""
    store = runtime().store
    store.ping()
    return {
        "status": "ok",
        "version": __version__,
        "store": store.backend,
        "sandbox": bool(current_app.config["SANDBOX"]),
    }


@blp.route("/v1/auth/test")
@blp.response(200, AuthTestSchema)
@blp.doc(security=[{"upstreamKey": []}])
def auth_test() -> dict[str, t.Any]:
    """Check the caller's key upstream (what a platform's "test connection" calls)."""
    caller = current_caller()
    runtime().provider(caller).check_credentials()
    return {
        "status": "ok",
        "provider": caller.provider,
        "request_source": caller.request_source,
        "tenant": caller.tenant[:8],
    }
