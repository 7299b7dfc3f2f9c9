"""Provider names -> implementing classes, imported on first use."""

from __future__ import annotations

import typing as t

from ..errors import ConfigError
from ..importer import import_string

if t.TYPE_CHECKING:
    from .base import Provider

PROVIDERS: dict[str, str] = {
    "dumplingai": "connector.providers.dumplingai:DumplingAIProvider",
}


def provider_class(name: str) -> type[Provider]:
    """The class registered under ``name``.

    :raises ConfigError: for an unknown name, listing the known ones.
    """
    try:
        target = PROVIDERS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown provider {name!r}; known providers: {', '.join(sorted(PROVIDERS))}"
        ) from None
    return t.cast("type[Provider]", import_string(target))
