"""Several providers as one: each call goes to the first that can serve it.

A call that fails with a rate limit, an upstream failure, malformed data or a timeout moves
on to the next provider with the capability; any other error (not found, refused input,
refused key, no credits) is the answer, since another provider would say the same or the
caller must act.
"""

from __future__ import annotations

import logging
import typing as t

from ..errors import (
    ProviderInvalidResponse,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    UnsupportedByProvider,
)
from .base import Capability, KeyCheck, Provider, VideoPage, capabilities_for

if t.TYPE_CHECKING:
    from ..links import VideoRef

log = logging.getLogger("connector.providers")

FAILOVER_ERRORS = (
    ProviderRateLimited,
    ProviderUnavailable,
    ProviderInvalidResponse,
    ProviderTimeout,
)

R = t.TypeVar("R")


class FailoverProvider:
    """Tries ``providers`` in order; the interface of :class:`Provider`."""

    def __init__(self, providers: t.Sequence[Provider]) -> None:
        self.providers = list(providers)
        self.label = " / ".join(p.label for p in self.providers)
        self._paging: Provider | None = None

    def get_video(self, ref: VideoRef) -> dict[str, t.Any]:
        return self._call(capabilities_for(ref), "look up this video", lambda p: p.get_video(ref))

    def get_profile(self, handle: str) -> dict[str, t.Any]:
        return self._call(
            {Capability.PROFILE}, "look up a profile", lambda p: p.get_profile(handle)
        )

    def list_videos(self, handle: str, cursor: str | None = None) -> VideoPage:
        # A cursor belongs to the provider that issued it: later pages stay with it.
        if cursor is not None and self._paging is not None:
            return self._paging.list_videos(handle, cursor)

        def first_page(provider: Provider) -> VideoPage:
            page = provider.list_videos(handle, cursor)
            self._paging = provider
            return page

        return self._call({Capability.PROFILE_VIDEOS}, "list a profile's videos", first_page)

    def check_credentials(self) -> KeyCheck:
        return self.providers[0].check_credentials()

    def _call(
        self, needs: t.AbstractSet[Capability], what: str, call: t.Callable[[Provider], R]
    ) -> R:
        able = [p for p in self.providers if p.capabilities & needs]
        if not able:
            raise UnsupportedByProvider(
                f"{self.label} cannot {what} (needs one of: {', '.join(sorted(needs))}). "
                f"Choose a provider that can with the X-Provider header; see GET /v1/providers.",
                details={"needs": sorted(needs), "providers": [p.name for p in self.providers]},
            )
        for index, provider in enumerate(able):
            try:
                return call(provider)
            except FAILOVER_ERRORS as exc:
                if index == len(able) - 1:
                    raise
                log.warning(
                    "%s failed (%s); failing over to %s",
                    provider.name,
                    exc.code,
                    able[index + 1].name,
                )
        raise AssertionError("unreachable")
