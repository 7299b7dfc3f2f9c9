"""One contract, checked against every registered provider (as cachelib checks every backend
against its base class): each capability a provider declares answers the sandbox with a
record its output schema accepts, names the provider, and maps each of the upstream's
documented error statuses to the documented :class:`~connector.errors.ProviderError`
subclass; a capability it does not declare is refused without a call upstream.
"""

from __future__ import annotations

import typing as t

import httpx
import pytest

from connector.errors import (
    ProviderError,
    ProviderInvalidResponse,
    ProviderRejectedInput,
    ProviderUnavailable,
)
from connector.links import VideoRef, parse_video_link, ref_from_id
from connector.providers.base import Capability, Provider
from connector.providers.registry import PROVIDERS, provider_class
from connector.sandbox import World, base_urls
from connector.schemas import ProfileSchema, VideoSchema

from .conftest import KEY, fault

HANDLE = "creator"

#: The sandbox endpoint (as faults and recorded requests name it) each provider calls for
#: each capability.
ENDPOINTS: dict[str, dict[Capability, str]] = {
    "dumplingai": {
        Capability.VIDEO_BY_URL: "video",
        Capability.VIDEO_BY_ID: "video",
        Capability.VIDEO_BY_HANDLE_AND_ID: "video",
        Capability.PROFILE: "profile",
        Capability.PROFILE_VIDEOS: "profile-videos",
    },
    "apidirect": {
        Capability.VIDEO_BY_URL: "apidirect-video",
        Capability.VIDEO_BY_ID: "apidirect-video",
        Capability.VIDEO_BY_HANDLE_AND_ID: "apidirect-video",
    },
    "byhandle": {
        Capability.PROFILE: "byhandle-user",
        Capability.VIDEO_BY_HANDLE_AND_ID: "byhandle-video",
    },
}

DECLARED = [
    (name, capability)
    for name in PROVIDERS
    for capability in sorted(provider_class(name).capabilities)
]
UNDECLARED = [
    (name, capability)
    for name in PROVIDERS
    for capability in sorted(set(Capability) - provider_class(name).capabilities)
]


def _provider(name: str, sandbox_url: str) -> Provider:
    base_url = base_urls(sandbox_url)[f"{name.upper()}_BASE_URL"]
    client = httpx.Client(base_url=base_url, timeout=5.0)
    return provider_class(name)(client, api_key=KEY, request_source="ZAPIER")


def _video_ref(world: World, capability: Capability) -> VideoRef:
    profile = world.profile(HANDLE)
    assert profile is not None
    video_id = profile.videos[0].id
    if capability is Capability.VIDEO_BY_ID:
        return ref_from_id(video_id)
    ref = parse_video_link(f"https://www.tiktok.com/@{HANDLE}/video/{video_id}")
    if capability is Capability.VIDEO_BY_URL:
        return VideoRef(url=ref.url)  # what a short link gives: its URL only
    return ref


def _look_up(provider: Provider, capability: Capability, world: World) -> list[dict[str, t.Any]]:
    """The records ``provider`` answers for the lookup ``capability`` names."""
    if capability is Capability.PROFILE:
        return [provider.get_profile(HANDLE)]
    if capability is Capability.PROFILE_VIDEOS:
        return provider.list_videos(HANDLE).videos
    return [provider.get_video(_video_ref(world, capability))]


def test_every_provider_has_its_endpoints_listed_here() -> None:
    assert {name: set(ENDPOINTS[name]) for name in PROVIDERS} == {
        name: set(provider_class(name).capabilities) for name in PROVIDERS
    }


@pytest.mark.parametrize(("name", "capability"), DECLARED)
def test_a_declared_capability_answers_a_record_of_the_output_schema(
    name: str, capability: Capability, sandbox_url: str, world: World
) -> None:
    provider = _provider(name, sandbox_url)
    with provider.client:
        records = _look_up(provider, capability, world)
    assert records
    schema = ProfileSchema() if capability is Capability.PROFILE else VideoSchema()
    for record in records:
        assert record["provider"] == name
        assert schema.load(schema.dump(record)) == record
    assert world.requests(ENDPOINTS[name][capability])


@pytest.mark.parametrize(("name", "capability"), UNDECLARED)
def test_an_undeclared_capability_is_refused_without_calling_upstream(
    name: str, capability: Capability, sandbox_url: str, world: World
) -> None:
    """A method the provider lacks raises ``NotImplementedError``; a video lookup it cannot
    make from this reference (By-Handle given no author) is rejected input."""
    provider = _provider(name, sandbox_url)
    with provider.client, pytest.raises((NotImplementedError, ProviderRejectedInput)):
        _look_up(provider, capability, world)
    assert world.requests() == []


@pytest.mark.parametrize(("name", "capability"), DECLARED)
def test_upstream_errors_become_the_documented_connector_errors(
    name: str, capability: Capability, sandbox_url: str, world: World
) -> None:
    endpoint = ENDPOINTS[name][capability]
    documented: dict[int | str, type[ProviderError]] = {}
    documented.update(provider_class(name).error_statuses.items())
    documented[500] = ProviderUnavailable  # an undocumented 5xx: upstream failing
    documented["malformed"] = ProviderInvalidResponse
    provider = _provider(name, sandbox_url)
    with provider.client:
        for answer, expected in documented.items():
            if answer == "malformed":
                fault(world, endpoint=endpoint, malformed="json")
            else:
                fault(world, endpoint=endpoint, status=answer)
            with pytest.raises(ProviderError) as raised:
                _look_up(provider, capability, world)
            assert type(raised.value) is expected, (answer, raised.value)
