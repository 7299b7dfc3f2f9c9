"""The provider interface every upstream TikTok data API implements."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import typing as t

from .. import deadlines
from ..errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from ._http import error_for_status

if t.TYPE_CHECKING:
    import httpx

    from ..links import VideoRef
    from .limits import SlotLimiter


class Capability(enum.StrEnum):
    """What a provider can look up."""

    VIDEO_BY_URL = "video_by_url"  # any video link, short links included
    VIDEO_BY_ID = "video_by_id"  # a bare numeric id
    VIDEO_BY_HANDLE_AND_ID = "video_by_handle_and_id"  # a long link naming the author
    PROFILE = "profile"
    PROFILE_VIDEOS = "profile_videos"


def capabilities_for(ref: VideoRef) -> frozenset[Capability]:
    """The capabilities any one of which can look up ``ref``."""
    if ref.video_id is None:
        return frozenset({Capability.VIDEO_BY_URL})
    if ref.handle is None:
        return frozenset({Capability.VIDEO_BY_URL, Capability.VIDEO_BY_ID})
    return frozenset(
        {Capability.VIDEO_BY_URL, Capability.VIDEO_BY_ID, Capability.VIDEO_BY_HANDLE_AND_ID}
    )


@dataclasses.dataclass(frozen=True)
class KeyCheck:
    """A key upstream accepted, and what its answer told of the account's credits:
    ``available``, ``exhausted`` (the key works but calls will fail until topped up) or
    ``unknown`` (the probe was refused before credits were looked at)."""

    credits: t.Literal["available", "exhausted", "unknown"]
    message: str | None = None


@dataclasses.dataclass(frozen=True)
class VideoPage:
    """One page of a profile's feed, in upstream order (newest first, pinned videos on top).

    ``listed`` has an entry per usable item with at least its ``id`` and
    ``created_at_timestamp``: all that deciding what is new needs. ``expand`` maps and
    checks one entry's whole record (None for a malformed one, logged): most of a page is
    usually known already, and mapping the rest would be most of a poll's work. Without
    ``expand`` the entries are whole records. ``cursor`` asks for the next page;
    ``has_more`` says whether there is one. ``unlisted`` counts the items left out of
    ``listed`` for want of a readable id or posting time (each one logged).
    """

    listed: list[dict[str, t.Any]]
    cursor: str | None
    has_more: bool
    unlisted: int = 0
    expand: t.Callable[[dict[str, t.Any]], dict[str, t.Any] | None] | None = None

    def records(self, entries: t.Iterable[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """The whole records of ``entries`` (of this page), malformed ones left out."""
        if self.expand is None:
            return list(entries)
        return [record for entry in entries if (record := self.expand(entry)) is not None]

    @functools.cached_property
    def videos(self) -> list[dict[str, t.Any]]:
        """Every listed video's whole record."""
        return self.records(self.listed)

    @property
    def skipped(self) -> int:
        """Items left out of :attr:`videos` as malformed (maps the whole page)."""
        return self.unlisted + len(self.listed) - len(self.videos)


class VideoLister(t.Protocol):
    """What the new-video trigger needs: a label for messages and the profile feed."""

    @property
    def label(self) -> str: ...  # read-only: a provider's class attribute, failover's own

    def list_videos(self, handle: str, cursor: str | None = None) -> VideoPage: ...


class Provider:
    """An upstream TikTok data API, bound to one key and the caller's requestSource.

    Implementations return records loaded through :class:`connector.schemas.VideoSchema`
    and :class:`connector.schemas.ProfileSchema`, so upstream field names stop at the
    provider module, and raise only :class:`connector.errors.ProviderError` subclasses.
    A method whose capability the provider lacks altogether raises ``NotImplementedError``
    (a caller checks ``capabilities`` first, as :class:`FailoverProvider` does); one it has
    for some references only (By-Handle reads a video only from a link naming its author)
    refuses the others with :class:`connector.errors.ProviderRejectedInput`.
    """

    name: t.ClassVar[str]
    label: t.ClassVar[str]
    capabilities: t.ClassVar[frozenset[Capability]]
    default_base_url: t.ClassVar[str]
    #: Simultaneous requests per endpoint per key that upstream allows; None for no limit.
    concurrency_limit: t.ClassVar[int | None] = None
    #: The upstream's documented error statuses and the connector error each becomes.
    error_statuses: t.ClassVar[t.Mapping[int, type[ProviderError]]] = {}

    def __init__(
        self,
        client: httpx.Client,
        *,
        api_key: str,
        request_source: str,
        default_retry_after: int = 60,
        limits: SlotLimiter | None = None,
    ) -> None:
        self.client = client
        self.api_key = api_key
        self.request_source = request_source
        self.default_retry_after = default_retry_after
        self.limits = limits

    def get_video(self, ref: VideoRef) -> dict[str, t.Any]:
        """The normalized video ``ref`` names.

        :raises ProviderNotFound: when upstream has no such video.
        :raises ProviderRejectedInput: for a reference this provider cannot look up.
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

    #: What :meth:`probe` sends and what it costs, for the README and GET /v1/providers.
    probe_description: t.ClassVar[str] = ""

    def check_credentials(self) -> KeyCheck:
        """Whether upstream accepts the key, judged on a cheap probe's answer only by the
        statuses that mean a refused key: whatever upstream checks first (the key or the
        input), any other answer shows the key got through.

        :raises ProviderAuthFailed: when upstream refuses the key.
        :raises ProviderUnavailable, ProviderTimeout: when upstream gave no answer to judge.
        """
        try:
            self.probe()
        except ProviderAuthFailed:
            raise
        except ProviderOutOfCredits as exc:
            return KeyCheck("exhausted", exc.message)
        except ProviderRateLimited as exc:
            return KeyCheck("unknown", f"{exc.message} The key was accepted.")
        except (ProviderUnavailable, ProviderTimeout):
            raise
        except ProviderError:
            # 400, 404, a malformed body...: an answer past the key check.
            return KeyCheck("unknown")
        return KeyCheck("available")

    def probe(self) -> None:
        """Send the provider's cheapest request that upstream answers only once the key is
        accepted (see ``probe_description``)."""
        raise NotImplementedError

    def _error(self, response: httpx.Response, message: str) -> ProviderError:
        """The connector error for one of upstream's error answers."""
        return error_for_status(
            response,
            message,
            label=self.label,
            statuses=self.error_statuses,
            default_retry_after=self.default_retry_after,
        )

    @contextlib.contextmanager
    def slot(self, endpoint: str) -> t.Iterator[None]:
        """Hold one of upstream's concurrent-request slots for ``endpoint`` while calling it.

        Callers over the limit queue here instead of being refused upstream; one that waits
        longer than the client's timeout (or what is left of the request's budget) gets a
        rate-limit error.
        """
        if self.concurrency_limit is None or self.limits is None:
            yield
            return
        wait = self.client.timeout.read or 30.0
        left = deadlines.remaining()
        if left is not None:
            wait = min(wait, left)
        with self.limits.hold((self.name, endpoint, self.api_key), self.concurrency_limit, wait):
            yield
