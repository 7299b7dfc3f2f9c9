"""The provider interface every upstream TikTok data API implements."""

from __future__ import annotations

import dataclasses
import enum
import typing as t

if t.TYPE_CHECKING:
    import httpx

    from ..links import VideoRef


class Capability(enum.StrEnum):
    VIDEO_BY_URL = "video_by_url"
    VIDEO_BY_ID = "video_by_id"
    PROFILE = "profile"
    PROFILE_VIDEOS = "profile_videos"


@dataclasses.dataclass(frozen=True)
class VideoPage:
    """One page of a profile's feed, in upstream order (newest first, pinned videos on top).

    ``cursor`` asks for the next page; ``has_more`` says whether there is one.
    """

    videos: list[dict[str, t.Any]]
    cursor: str | None
    has_more: bool


class Provider:
    """An upstream TikTok data API, bound to one caller's key and requestSource.

    Implementations return records loaded through :class:`connector.schemas.VideoSchema`
    and :class:`connector.schemas.ProfileSchema`, so upstream field names stop at the
    provider module, and raise only :class:`connector.errors.ProviderError` subclasses.
    A method outside the provider's ``capabilities`` raises ``NotImplementedError``.
    """

    name: t.ClassVar[str]
    label: t.ClassVar[str]
    capabilities: t.ClassVar[frozenset[Capability]]

    def __init__(
        self,
        client: httpx.Client,
        *,
        api_key: str,
        request_source: str,
        default_retry_after: int = 60,
    ) -> None:
        self.client = client
        self.api_key = api_key
        self.request_source = request_source
        self.default_retry_after = default_retry_after

    def get_video(self, ref: VideoRef) -> dict[str, t.Any]:
        """The normalized video ``ref`` names.

        :raises ProviderNotFound: when upstream has no such video.
        """
        raise NotImplementedError

    def get_profile(self, handle: str) -> dict[str, t.Any]:
        """The normalized profile of ``handle`` (canonical form, no ``@``).

        :raises ProviderNotFound: when upstream has no such account.
        """
        raise NotImplementedError

    def list_videos(self, handle: str, cursor: str | None = None) -> VideoPage:
        """One page of ``handle``'s videos; ``cursor`` comes from the previous page."""
        raise NotImplementedError

    def check_credentials(self) -> None:
        """Return when upstream accepts the key, as cheaply as the API allows.

        :raises ProviderAuthFailed: when it does not.
        """
        raise NotImplementedError
