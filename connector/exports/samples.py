"""Output samples, generated: the built-in sandbox answers, normalized by the real provider
code and dumped through the output schemas. Nothing is typed by hand, and a schema change
shows up in every platform's sample."""

from __future__ import annotations

import typing as t

import httpx

from ..links import parse_video_link
from ..providers.dumplingai import DumplingAIProvider
from ..sandbox import World, create_sandbox_app
from ..schemas import ProfileSchema, VideoSchema

SAMPLE_HANDLE = "tiktok"
OUTPUT_SCHEMAS: dict[str, type[VideoSchema] | type[ProfileSchema]] = {
    "Video": VideoSchema,
    "Profile": ProfileSchema,
}


def samples() -> dict[str, dict[str, t.Any]]:
    """One sample record per output shape, the same on every run."""
    world = World()
    transport = httpx.WSGITransport(app=create_sandbox_app(world))
    with httpx.Client(transport=transport, base_url="http://sandbox.invalid") as client:
        provider = DumplingAIProvider(client, api_key="sample", request_source="API")
        newest = world.profile(SAMPLE_HANDLE).videos[0]  # type: ignore[union-attr]
        video = provider.get_video(
            parse_video_link(f"https://www.tiktok.com/@{SAMPLE_HANDLE}/video/{newest.id}")
        )
        profile = provider.get_profile(SAMPLE_HANDLE)
    return {
        "Video": VideoSchema().dump(video),
        "Profile": ProfileSchema().dump(profile),
    }
