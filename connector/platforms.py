"""Which platform is calling: the requestSource to tag upstream calls with."""

from __future__ import annotations

import re

# The requestSource enum that DumplingAI's API reference documents.
REQUEST_SOURCES: tuple[str, ...] = (
    "API",
    "WEB",
    "MAKE_DOT_COM",
    "ZAPIER",
    "N8N",
    "PLAYGROUND",
    "DEFAULT_AUTOMATION",
    "AGENT_PREVIEW",
    "AGENT_LIVE",
    "AUTOPILOT",
    "STUDIO",
)

# How each platform's HTTP client introduces itself:
# - zapier-platform-core sends "User-Agent: Zapier" on every z.request;
# - Make's HTTP module and custom apps send "Make/production" ("Integromat/..." before the rename);
# - n8n sends "n8n", "n8n/<version>" or "Mozilla/5.0 (compatible; n8n/<version>; ...)".
_USER_AGENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bzapier\b", re.IGNORECASE), "ZAPIER"),
    (re.compile(r"\b(?:make|integromat)/", re.IGNORECASE), "MAKE_DOT_COM"),
    (re.compile(r"\bn8n\b", re.IGNORECASE), "N8N"),
)


class UnknownRequestSource(ValueError):
    """An explicit requestSource outside the documented enum."""


def request_source_for(explicit: str | None, user_agent: str | None) -> str:
    """The requestSource to tag upstream calls with.

    An explicit value (the ``X-Request-Source`` header, which the generated platform
    definitions send) wins and must be in :data:`REQUEST_SOURCES` (case-insensitive);
    otherwise the platform is recognised from its User-Agent, else ``API``.

    :raises UnknownRequestSource: for an explicit value outside the enum.
    """
    if explicit is not None and explicit.strip():
        value = explicit.strip().upper()
        if value not in REQUEST_SOURCES:
            raise UnknownRequestSource(
                f"X-Request-Source {explicit.strip()!r} is not one of: "
                + ", ".join(REQUEST_SOURCES)
            )
        return value
    for pattern, source in _USER_AGENTS:
        if user_agent and pattern.search(user_agent):
            return source
    return "API"
