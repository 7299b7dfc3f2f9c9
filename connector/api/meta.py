"""Service endpoints: health and the credentials test."""

from __future__ import annotations

import typing as t

from .. import __version__
from ..providers import PROVIDERS, provider_class
from ..schemas import AuthTestSchema, HealthSchema, ProviderInfoSchema
from .blueprint import Blueprint
from .caller import current_caller, runtime
from .docs import AUTHENTICATED

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
        "sandbox": runtime().settings.sandbox,
    }


@blp.route("/v1/auth/test")
@blp.response(200, AuthTestSchema)
@blp.doc(**AUTHENTICATED)
def auth_test() -> dict[str, t.Any]:
    """Check the caller's key upstream (what a platform's "test connection" calls).

    401 only when upstream refuses the key; a key that works on an account out of credits
    is 200 with ``credits: exhausted`` and a message saying so.
    """
    caller = current_caller()
    check = runtime().providers_for(caller).check_credentials()
    return {
        "status": "ok",
        "provider": caller.provider,
        "request_source": caller.request_source,
        "tenant": caller.tenant[:8],
        "credits": check.credits,
        "message": check.message,
    }


@blp.route("/v1/providers")
@blp.response(200, ProviderInfoSchema(many=True))
def providers() -> list[dict[str, t.Any]]:
    """The upstream providers: what each can do and whether this server holds a key for it."""
    rt = runtime()
    listed = []
    for name in PROVIDERS:
        cls = provider_class(name)
        listed.append(
            {
                "name": name,
                "label": cls.label,
                "capabilities": sorted(cls.capabilities),
                "default": name == rt.default_provider,
                "server_key": name in rt.server_keys,
                "failover_rank": rt.failover_order.index(name) + 1
                if name in rt.failover_order
                else None,
                "concurrency_limit": cls.concurrency_limit,
                "key_check": cls.probe_description,
            }
        )
    return listed
