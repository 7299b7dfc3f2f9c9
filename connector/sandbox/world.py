"""The sandbox's deterministic TikTok: profiles, videos, scripted faults, recorded requests.

Every handle exists (except those starting with ``missing``) and has the same generated
videos on every run; tests and people can post, pin and delete videos and script faults.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
import threading
import time
import typing as t

BASE_TIME = 1767225600  # 2026-01-01T00:00:00Z: the newest generated video is a little older.
VIDEO_SPACING = 6 * 3600
CDN = "https://sandbox.tiktokcdn.invalid"

_VIDEO_URL = re.compile(
    r"^https?://(?:www\.|m\.)?tiktok\.com/(?:@(?P<handle>[^/]+)/video/|v/)(?P<id>\d+)",
    re.IGNORECASE,
)
_SHORT_URL = re.compile(
    r"^https?://(?:(?:vm|vt)\.tiktok\.com/|(?:www\.)?tiktok\.com/t/)(?P<code>[A-Za-z0-9]+)/?",
    re.IGNORECASE,
)


@dataclasses.dataclass
class SandboxVideo:
    """A video in the sandbox world; each emulated provider answers it in its own shape."""

    id: str
    handle: str
    create_time: int
    description: str
    duration: int
    plays: int
    likes: int
    comments: int
    shares: int
    saves: int
    downloads: int
    music_id: str
    music_title: str
    music_author: str
    music_original: bool
    hashtags: list[str]


@dataclasses.dataclass
class SandboxProfile:
    """An account in the sandbox world, with its videos newest first."""

    handle: str
    user_id: str
    nickname: str
    bio: str
    verified: bool
    created: int
    followers: int
    following: int
    hearts: int
    videos: list[SandboxVideo]  # newest first, pinned ones included
    pinned: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Fault:
    """A scripted upstream failure, used ``times`` times by matching requests."""

    endpoint: str = "*"  # "video", "profile", "profile-videos" or "*"
    status: int | None = None  # an error status answered with the documented message
    error: str | None = None  # overrides that message
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    malformed: str | None = None  # "json": not JSON; "shape": JSON of the wrong shape
    body: str | None = None  # answered verbatim (status 200 unless ``status``): hostile JSON
    page: int | None = None  # profile-videos only: which page (1-based) it hits
    handle: str | None = None
    retry_after: int | None = None
    times: int = 1
    echo_key: bool = False  # the error message quotes the key received, as careless APIs do

    def matches(self, endpoint: str, handle: str | None, page: int | None) -> bool:
        return (
            self.endpoint in ("*", endpoint)
            and (self.handle is None or self.handle == handle)
            and (self.page is None or self.page == page)
        )


@dataclasses.dataclass
class RecordedRequest:
    """A request the sandbox upstream received, for tests to check what the connector sent."""

    endpoint: str
    body: t.Any
    authorization: str | None
    user_agent: str | None
    at: float
    api_key: str | None = None


class World:
    """Thread-safe state of one sandbox upstream."""

    def __init__(self, *, page_size: int = 10, videos_per_profile: int = 30) -> None:
        self.page_size = page_size
        self.videos_per_profile = videos_per_profile
        self._lock = threading.RLock()
        self._profiles: dict[str, SandboxProfile] = {}
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.latency: dict[str, float] = {}  # endpoint -> seconds added to every answer
        # handle -> raw JSON texts put on top of the first feed page, as upstream sent them
        self.raw_items: dict[str, list[str]] = {}

    # -- profiles and videos -----------------------------------------------------------------

    def profile(self, handle: str) -> SandboxProfile | None:
        """The profile for ``handle`` (generated on first use); None for ``missing*``."""
        key = handle.lower()
        if key.startswith("missing"):
            return None
        with self._lock:
            if key not in self._profiles:
                self._profiles[key] = _generate_profile(key, self.videos_per_profile)
            return self._profiles[key]

    def page(self, handle: str, cursor: int | None) -> tuple[list[SandboxVideo], int | None, bool]:
        """Videos of one feed page, the next cursor (ms), and whether more pages follow.

        Page 1 shows pinned videos on top; the cursor is the last regular video's time in
        milliseconds, and later pages hold the regular videos older than it.
        """
        profile = self.profile(handle)
        assert profile is not None
        with self._lock:
            regular = [v for v in profile.videos if v.id not in profile.pinned]
            pinned = [v for pid in profile.pinned for v in profile.videos if v.id == pid]
            if cursor is None:
                chosen = regular[: self.page_size]
                shown = pinned + chosen
            else:
                older = [v for v in regular if v.create_time * 1000 < cursor]
                chosen = older[: self.page_size]
                shown = chosen
            remaining = regular[regular.index(chosen[-1]) + 1 :] if chosen else []
            next_cursor = chosen[-1].create_time * 1000 if chosen else cursor
            return list(shown), next_cursor, bool(remaining)

    def page_number(self, handle: str, cursor: int | None) -> int:
        if cursor is None:
            return 1
        profile = self.profile(handle)
        if profile is None:
            return 1
        with self._lock:
            newer = [
                v
                for v in profile.videos
                if v.id not in profile.pinned and v.create_time * 1000 >= cursor
            ]
            return len(newer) // self.page_size + 1

    def find_video(self, video_id: str) -> SandboxVideo | None:
        with self._lock:
            for profile in self._profiles.values():
                for video in profile.videos:
                    if video.id == video_id:
                        return video
        return None

    def video_for(self, video_id: str, handle: str | None) -> SandboxVideo | None:
        """The video with ``video_id``; an unknown id of a plausible age is made up for
        ``handle``, so that any pasted link answers. None for a ``missing*`` handle or an id
        whose time bits are no plausible posting time (``123456789``)."""
        found = self.find_video(video_id)
        if found is not None:
            return found
        if handle is not None and handle.lower().startswith("missing"):
            return None
        profile = self.profile(handle if handle and handle != "_" else "sandbox")
        assert profile is not None
        created = int(video_id) >> 32
        # Not a TikTok id when its time bits are no plausible posting time: before 2014, or
        # later than now (the providers refuse such a time as malformed data).
        if not 1_400_000_000 <= created <= time.time():
            return None
        rng = random.Random(video_id)
        return _generate_video(rng, profile.handle, video_id, created, 0)

    def resolve_link(self, url: str) -> SandboxVideo | None:
        """The video a pasted link names; a short link resolves to a stable made-up video
        of the ``sandbox`` account. Raises ValueError for what is not a video link."""
        match = _VIDEO_URL.match(url)
        if match:
            return self.video_for(match.group("id"), match.group("handle"))
        short = _SHORT_URL.match(url)
        if not short:
            raise ValueError(url)
        code = int.from_bytes(short.group("code").encode()[:8].ljust(8, b"0"), "big")
        return self.video_for(str((1_760_000_000 << 32) | (code & 0xFFFFFFFF)), None)

    def post_video(
        self, handle: str, *, description: str | None = None, create_time: int | None = None
    ) -> SandboxVideo:
        """Publish a new video on ``handle``'s feed, newer than every other one by default."""
        profile = self.profile(handle)
        if profile is None:
            raise KeyError(handle)
        with self._lock:
            newest = max((v.create_time for v in profile.videos), default=BASE_TIME)
            created = create_time if create_time is not None else newest + 600
            rng = random.Random(f"{handle}/{created}/{len(profile.videos)}")
            video_id = str((created << 32) | rng.getrandbits(32))
            video = _generate_video(rng, profile.handle, video_id, created, len(profile.videos))
            if description is not None:
                video.description = description
                video.hashtags = [w[1:] for w in description.split() if w.startswith("#")]
            profile.videos.append(video)
            profile.videos.sort(key=lambda v: v.create_time, reverse=True)
            return video

    def delete_video(self, handle: str, video_id: str) -> bool:
        profile = self.profile(handle)
        if profile is None:
            return False
        with self._lock:
            before = len(profile.videos)
            profile.videos = [v for v in profile.videos if v.id != video_id]
            profile.pinned = [p for p in profile.pinned if p != video_id]
            return len(profile.videos) < before

    def pin_video(self, handle: str, video_id: str) -> bool:
        profile = self.profile(handle)
        if profile is None or not any(v.id == video_id for v in profile.videos):
            return False
        with self._lock:
            if video_id not in profile.pinned:
                profile.pinned.append(video_id)
            return True

    def add_raw_item(self, handle: str, text: str) -> None:
        """Put ``text`` (any JSON value, not checked) on top of ``handle``'s first feed page,
        on every read until reset: a hostile item as an upstream might send it."""
        with self._lock:
            self.raw_items.setdefault(handle.lower(), []).append(text)

    def raw_items_for(self, handle: str) -> list[str]:
        with self._lock:
            return list(self.raw_items.get(handle.lower(), ()))

    # -- faults, requests, concurrency -------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Forget the scripted faults not yet used up."""
        with self._lock:
            self._faults.clear()

    def take_fault(self, endpoint: str, handle: str | None, page: int | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(endpoint, handle, page):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self, endpoint: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if endpoint is None or r.endpoint == endpoint]

    def enter(self, endpoint: str) -> int:
        """Count a request in flight; returns how many are in flight now."""
        with self._lock:
            now = self._in_flight.get(endpoint, 0) + 1
            self._in_flight[endpoint] = now
            self.max_in_flight[endpoint] = max(self.max_in_flight.get(endpoint, 0), now)
            return now

    def leave(self, endpoint: str) -> None:
        with self._lock:
            self._in_flight[endpoint] -= 1

    def reset(self) -> None:
        with self._lock:
            self._profiles.clear()
            self._faults.clear()
            self._requests.clear()
            self._in_flight.clear()
            self.max_in_flight.clear()
            self.latency.clear()
            self.raw_items.clear()


def _generate_profile(handle: str, count: int) -> SandboxProfile:
    rng = random.Random(hashlib.sha256(handle.encode()).digest())
    videos = []
    created = BASE_TIME
    for index in range(count):
        created -= VIDEO_SPACING + rng.randrange(3600)
        video_id = str((created << 32) | rng.getrandbits(32))
        videos.append(_generate_video(rng, handle, video_id, created, count - index))
    return SandboxProfile(
        handle=handle,
        user_id=str(rng.randrange(6 * 10**18, 7 * 10**18)),
        nickname=handle.replace("_", " ").replace(".", " ").title(),
        bio=f"Sandbox account @{handle}. Not a real TikTok profile.",
        verified=rng.random() < 0.3,
        created=1_500_000_000 + rng.randrange(200_000_000),
        followers=rng.randrange(100, 5_000_000),
        following=rng.randrange(0, 2_000),
        hearts=rng.randrange(1_000, 200_000_000),
        videos=videos,
    )


def _generate_video(
    rng: random.Random, handle: str, video_id: str, created: int, number: int
) -> SandboxVideo:
    tags = ["sandbox", rng.choice(["dance", "cooking", "travel", "comedy", "tech", "pets"])]
    plays = rng.randrange(1_000, 10_000_000)
    return SandboxVideo(
        id=video_id,
        handle=handle,
        create_time=created,
        description=f"Sandbox video {number} by @{handle} #{tags[0]} #{tags[1]}",
        duration=rng.randrange(5, 180),
        plays=plays,
        likes=plays // rng.randrange(5, 50),
        comments=plays // rng.randrange(200, 2_000),
        shares=plays // rng.randrange(100, 1_000),
        saves=plays // rng.randrange(50, 500),
        downloads=plays // rng.randrange(500, 5_000),
        music_id=str(rng.randrange(7 * 10**18, 8 * 10**18)),
        music_title=f"original sound - {handle}",
        music_author=handle,
        music_original=rng.random() < 0.6,
        hashtags=tags,
    )


def now_ms() -> int:
    return int(time.time() * 1000)
