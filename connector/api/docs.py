"""OpenAPI documentation shared by the authenticated endpoints."""

from __future__ import annotations

import typing as t

from apispec import BasePlugin

from ..platforms import REQUEST_SOURCES
from ..providers import PROVIDERS

SECURITY = "upstreamKey"
AUTHENTICATED: dict[str, t.Any] = {"security": [{SECURITY: []}]}

PLATFORM_HEADERS: list[dict[str, t.Any]] = [
    {
        "in": "header",
        "name": "X-Request-Source",
        "required": False,
        "description": "The calling platform, forwarded upstream as requestSource "
        "(default: recognised from the User-Agent, else API).",
        # Empty is the same as absent.
        "schema": {"type": "string", "enum": [*REQUEST_SOURCES, ""]},
    },
    {
        "in": "header",
        "name": "X-Provider",
        "required": False,
        "description": "Which upstream provider the key is for (default: the server's).",
        "schema": {"type": "string", "enum": [*PROVIDERS, ""]},
    },
]


class PlatformHeadersPlugin(BasePlugin):
    """Documents X-Request-Source and X-Provider on every authenticated operation.

    A plugin rather than ``@blp.doc(parameters=...)``: that would replace the parameters
    flask-smorest derives from a query schema instead of adding to them.
    """

    def operation_helper(
        self, path: str | None = None, operations: dict[str, t.Any] | None = None, **kwargs: t.Any
    ) -> None:
        for operation in (operations or {}).values():
            if any(SECURITY in requirement for requirement in operation.get("security", [])):
                operation.setdefault("parameters", []).extend(PLATFORM_HEADERS)
