"""Provider names -> implementing classes, imported on first use."""

from __future__ import annotations

import typing as t

from ..errors import ConfigError
from ..importer import import_string

if t.TYPE_CHECKING:
    from .base import Provider

# Adding a provider: one module, one line here.
PROVIDERS: dict[str, str] = {
    "dumplingai": "connector.providers.dumplingai:DumplingAIProvider",
    "apidirect": "connector.providers.apidirect:APIDirectProvider",
    "byhandle": "connector.providers.byhandle:ByHandleProvider",
}


class UnknownProvider(ConfigError):
    """A provider name that is not in :data:`PROVIDERS`."""


def provider_class(name: str) -> type[Provider]:
    """The class registered under ``name``.

    :raises UnknownProvider: for an unknown name, listing the known ones.
    """
    try:
        target = PROVIDERS[name]
    except KeyError:
        raise UnknownProvider(
            f"Unknown provider {name!r}; known providers: {', '.join(PROVIDERS)}"
        ) from None
    return t.cast("type[Provider]", import_string(target))
