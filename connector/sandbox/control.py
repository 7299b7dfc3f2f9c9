"""The sandbox's control API, for tests and demos: post videos, script faults, read requests."""

from __future__ import annotations

import dataclasses
import typing as t

from flask import Blueprint, abort, jsonify, request

from ._common import world
from .world import Fault

blp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

_FAULT_FIELDS = {f.name for f in dataclasses.fields(Fault)}


@blp.post("/reset")
def reset() -> t.Any:
    world().reset()
    return jsonify({"status": "reset"})


@blp.post("/faults")
def add_fault() -> t.Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) - _FAULT_FIELDS:
        abort(400, f"Expected a JSON object with keys among: {', '.join(sorted(_FAULT_FIELDS))}")
    world().add_fault(Fault(**body))
    return jsonify({"status": "scripted"}), 201


@blp.get("/requests")
def requests() -> t.Any:
    recorded = world().requests(request.args.get("endpoint"))
    return jsonify([dataclasses.asdict(r) for r in recorded])


@blp.post("/latency")
def set_latency() -> t.Any:
    body = request.get_json(silent=True) or {}
    seconds = body.get("seconds")
    if not isinstance(body.get("endpoint"), str) or not isinstance(seconds, int | float):
        abort(400, 'Expected {"endpoint": "...", "seconds": number}')
    world().latency[body["endpoint"]] = float(seconds)
    return jsonify({"status": "set"})


@blp.get("/concurrency")
def concurrency() -> t.Any:
    return jsonify(world().max_in_flight)


@blp.get("/profiles/<handle>/videos")
def list_videos(handle: str) -> t.Any:
    profile = world().profile(handle)
    if profile is None:
        abort(404)
    return jsonify(
        [
            {
                "id": v.id,
                "create_time": v.create_time,
                "url": f"https://www.tiktok.com/@{profile.handle}/video/{v.id}",
                "pinned": v.id in profile.pinned,
            }
            for v in profile.videos
        ]
    )


@blp.post("/profiles/<handle>/videos")
def post_video(handle: str) -> t.Any:
    body = request.get_json(silent=True) or {}
    try:
        video = world().post_video(
            handle, description=body.get("description"), create_time=body.get("create_time")
        )
    except KeyError:
        abort(404)
    return jsonify(
        {
            "id": video.id,
            "create_time": video.create_time,
            "url": f"https://www.tiktok.com/@{video.handle}/video/{video.id}",
        }
    ), 201


@blp.post("/profiles/<handle>/raw-videos")
def add_raw_video(handle: str) -> t.Any:
    """The request body, verbatim, becomes an item on top of the handle's first DumplingAI
    feed page: any JSON text, however hostile (1e400, NaN, deep nesting), is served as is."""
    text = request.get_data(as_text=True)
    if not text.strip():
        abort(400, "Expected the raw JSON text of one feed item as the body.")
    world().add_raw_item(handle, text)
    return jsonify({"status": "added"}), 201


@blp.delete("/profiles/<handle>/videos/<video_id>")
def delete_video(handle: str, video_id: str) -> t.Any:
    if not world().delete_video(handle, video_id):
        abort(404)
    return "", 204


@blp.post("/profiles/<handle>/pinned")
def pin_video(handle: str) -> t.Any:
    body = request.get_json(silent=True) or {}
    if not world().pin_video(handle, str(body.get("video_id"))):
        abort(404)
    return jsonify({"status": "pinned"}), 201
