"""What every emulated endpoint does: record the request, count it in flight, play faults."""

from __future__ import annotations

import contextlib
import time
import typing as t

from flask import Response, current_app, json, request

from .world import Fault, RecordedRequest, World

ErrorResponder = t.Callable[[int, str, "dict[str, str] | None"], Response]


def world() -> World:
    return t.cast(World, current_app.extensions["sandbox_world"])


def json_response(
    body: t.Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    response = Response(json.dumps(body), status, mimetype="application/json")
    response.headers.update(headers or {})
    return response


@contextlib.contextmanager
def received(endpoint: str, body: t.Any, slot_key: str | None = None) -> t.Iterator[int]:
    """Record the request and count it in flight (per ``slot_key`` too, when given) for
    the duration; yields how many requests for that key are in flight, this one included."""
    w = world()
    w.record(
        RecordedRequest(
            endpoint=endpoint,
            body=body,
            authorization=request.headers.get("Authorization"),
            user_agent=request.headers.get("User-Agent"),
            at=time.time(),
            api_key=request.headers.get("X-API-Key"),
        )
    )
    counter = f"{endpoint}:{slot_key}" if slot_key else endpoint
    in_flight = w.enter(counter)
    if counter != endpoint:
        w.enter(endpoint)
    try:
        delay = w.latency.get(endpoint, 0.0)
        if delay:
            time.sleep(delay)
        yield in_flight
    finally:
        w.leave(counter)
        if counter != endpoint:
            w.leave(endpoint)


def play_fault(
    endpoint: str,
    subject: t.Any,
    *,
    handle: str | None,
    page: int | None,
    error: ErrorResponder,
    messages: dict[int, str],
    wrong_shape: t.Any,
) -> Response | None:
    """The scripted answer for this request, if a fault matches; None to answer normally."""
    fault: Fault | None = world().take_fault(endpoint, handle.lower() if handle else None, page)
    if fault is None:
        return None
    if fault.delay:
        time.sleep(fault.delay)
    if fault.body is not None:
        return Response(fault.body, fault.status or 200, mimetype="application/json")
    if fault.malformed == "json":
        return Response("{not json", 200, mimetype="application/json")
    if fault.malformed == "shape":
        return json_response(wrong_shape)
    if fault.status is None:
        return None
    message = fault.error or messages.get(fault.status) or "The service reported an issue."
    message = message.format(subject=subject)
    if fault.echo_key:
        message = f"{message} (API key received: '{received_key()}')"
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else None
    return error(fault.status, message, headers)


def received_key() -> str:
    """The key this request carries, however the emulated provider takes it."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token
    return request.headers.get("X-API-Key", "")
