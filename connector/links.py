"""Reading the TikTok video links people paste into a zap, scenario or workflow."""

from __future__ import annotations

import dataclasses
import re
import urllib.parse

# TikTok ids are decimal snowflakes (19 digits today); allow a little range either way.
_VIDEO_ID = re.compile(r"^\d{6,25}$")
_LONG_HOSTS = {"tiktok.com", "www.tiktok.com", "m.tiktok.com"}
_SHORT_HOSTS = {"vm.tiktok.com", "vt.tiktok.com"}
_LONG_PATHS = (
    re.compile(r"^/@(?P<handle>[^/]+)/video/(?P<id>\d+)/?$"),
    re.compile(r"^/v/(?P<id>\d+)(?:\.html)?/?$"),
    re.compile(r"^/embed(?:/v2)?/(?P<id>\d+)/?$"),
)
_SHORT_CODE = re.compile(r"^/(?:t/)?(?P<code>[A-Za-z0-9]{5,20})/?$")


# What parse_video_link accepts, for the OpenAPI document (parse_video_link is the authority).
VIDEO_LINK_PATTERN = (
    r"^\s*((https?://)?(www\.|m\.)?tiktok\.com/"
    r"(@[^/\s?#]+/video/\d{6,25}|v/\d{6,25}(\.html)?|embed(/v2)?/\d{6,25}|t/[A-Za-z0-9]{5,20})"
    r"|(https?://)?(vm|vt)\.tiktok\.com/[A-Za-z0-9]{5,20})/?([?#][^\s]*)?\s*$"
)
VIDEO_ID_PATTERN = r"^\s*\d{6,25}\s*$"


class InvalidVideoLink(ValueError):
    """The text is not a TikTok video link or id this connector can look up."""


@dataclasses.dataclass(frozen=True)
class VideoRef:
    """A video as the user named it.

    ``url`` is always set (a short link stays a short link: the provider resolves it);
    ``video_id`` and ``handle`` are set when the link carries them.
    """

    url: str
    video_id: str | None = None
    handle: str | None = None


def ref_from_id(video_id: str) -> VideoRef:
    """A numeric id -> a reference with a canonical URL for providers that only take URLs."""
    value = video_id.strip()
    if not _VIDEO_ID.match(value):
        raise InvalidVideoLink(f"Not a TikTok video id: {video_id!r}; expected digits only.")
    # TikTok resolves a video by its id whatever handle the path names.
    return VideoRef(url=f"https://www.tiktok.com/@_/video/{value}", video_id=value)


def parse_video_link(text: str) -> VideoRef:
    """Read a pasted TikTok link.

    Accepted: ``https://www.tiktok.com/@user/video/ID`` (any query string or fragment, with or
    without ``www.``/``m.`` and scheme), ``/v/ID.html`` and ``/embed/v2/ID`` forms, and the
    short links ``vm.tiktok.com/CODE``, ``vt.tiktok.com/CODE`` and ``www.tiktok.com/t/CODE``.

    :raises InvalidVideoLink: with a message naming the accepted forms.
    """
    raw = text.strip()
    candidate = raw if "://" in raw else f"https://{raw}"
    try:
        parts = urllib.parse.urlsplit(candidate)
    except ValueError as exc:
        raise InvalidVideoLink(_explain(raw)) from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https"):
        raise InvalidVideoLink(_explain(raw))
    path = parts.path
    if host in _LONG_HOSTS:
        for pattern in _LONG_PATHS:
            match = pattern.match(path)
            if match:
                video_id = match.group("id")
                handle = match.groupdict().get("handle")
                handle = urllib.parse.unquote(handle).lstrip("@").lower() if handle else None
                url = (
                    f"https://www.tiktok.com/@{handle}/video/{video_id}"
                    if handle
                    else f"https://www.tiktok.com/@_/video/{video_id}"
                )
                return VideoRef(url=url, video_id=video_id, handle=handle)
        short = _SHORT_CODE.match(path)
        if short and path.startswith("/t/"):
            return VideoRef(url=f"https://www.tiktok.com/t/{short.group('code')}/")
    if host in _SHORT_HOSTS:
        short = _SHORT_CODE.match(path)
        if short and not path.startswith("/t/"):
            return VideoRef(url=f"https://{host}/{short.group('code')}/")
    raise InvalidVideoLink(_explain(raw))


def _explain(raw: str) -> str:
    shown = raw if len(raw) <= 200 else raw[:200] + "..."
    return (
        f"Not a TikTok video link: {shown!r}. Paste a link like "
        "https://www.tiktok.com/@user/video/7321234567890123456 or a short link like "
        "https://vm.tiktok.com/ZMabc123/, or give the numeric video_id instead."
    )
