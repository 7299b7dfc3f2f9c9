"""Shared httpx plumbing: one request, its transport errors and its body, translated."""

from __future__ import annotations

import contextlib
import json as jsonlib
import math
import time
import typing as t

import httpx

from .. import deadlines
from ..errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderInvalidResponse,
    ProviderOutOfCredits,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
)
from ..retry_after import parse_retry_after

ErrorMapper = t.Callable[[httpx.Response, str], ProviderError]

#: The largest answer read from upstream, raw or decoded: a page of videos is well under 1 MB.
MAX_BODY_BYTES = 10 * 2**20
# Headers describing the raw body, wrong once the body read is the decoded one.
_REDECODING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def send_json(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    label: str,
    to_error: ErrorMapper,
    headers: dict[str, str] | None = None,
    json: t.Any = None,
    params: dict[str, str] | None = None,
) -> t.Any:
    """Send one request and return its decoded JSON body.

    The call ends within the client's timeout, or what is left of the current
    :mod:`~connector.deadlines` budget if less, whatever the peer does: the deadline is in
    force for the whole call, so the transport
    (:func:`connector.transport.upstream_transport`) cuts every
    connect, write and read at it (httpx's own timeouts bound each read, not the sum of
    them), and a body still arriving then is given up on. A body over
    :data:`MAX_BODY_BYTES` (raw or decoded) is refused.

    :param label: the provider's name as people know it, for messages.
    :param to_error: builds the error for a non-2xx answer from the response and the
        upstream's own message.
    :raises ProviderError: the most specific subclass; httpx exceptions never escape.
    """
    limit = client.timeout.read or 30.0
    left = deadlines.remaining()
    if left is not None and left < limit:
        limit = left
    if limit <= 0:
        raise ProviderTimeout(f"{label} was not called: this request's time is used up.")
    deadline = time.monotonic() + limit
    try:
        request = client.build_request(
            method, path, headers=headers, json=json, params=params, timeout=limit
        )
    except (ValueError, httpx.InvalidURL) as exc:
        raise _unsendable(label, headers) from exc
    try:
        with (
            deadlines.until(deadline),
            contextlib.closing(client.send(request, stream=True)) as streamed,
        ):
            _refuse_declared_size(streamed, label)
            content = bytearray()
            for chunk in streamed.iter_bytes():  # decoded: a gzip bomb is cut at the cap too
                content += chunk
                if max(len(content), streamed.num_bytes_downloaded) > MAX_BODY_BYTES:
                    raise _too_large(label)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the answer took too long", request=streamed.request)
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(
            f"{label} did not answer in time ({type(exc).__name__}); try again later."
        ) from exc
    except httpx.HTTPError as exc:
        # The message names the failure class only: an httpx message may carry the URL.
        raise ProviderUnavailable(f"Could not reach {label} ({type(exc).__name__}).") from exc
    if streamed.is_success:  # the body is all that is read of a success
        try:
            return decode_json(content)
        except ValueError as exc:
            raise ProviderInvalidResponse(
                f"{label} answered {streamed.status_code} with a body that is not JSON "
                f"({_why_not_json(exc)})."
            ) from exc
    response = httpx.Response(
        streamed.status_code,
        # The content is decoded already: it must not be decoded again.
        headers=[
            (name, value)
            for name, value in streamed.headers.multi_items()
            if name.lower() not in _REDECODING_HEADERS
        ],
        content=bytes(content),
        request=streamed.request,
    )
    raise to_error(response, upstream_message(response))


def _unsendable(label: str, headers: dict[str, str] | None) -> ProviderError:
    """The error for a request that cannot even be encoded (never sent): the caller's key
    when it holds what no header can carry, else the caller's input."""
    if any(not v.isascii() or not v.isprintable() for v in (headers or {}).values()):
        return ProviderAuthFailed(
            f"{label} was not called: the API key holds characters no API key has."
        )
    return ProviderRejectedInput(f"{label} was not called: the request could not be encoded.")


def decode_json(content: bytes | bytearray) -> t.Any:
    """``content`` parsed as JSON, bounded: a number too long to be one becomes infinity
    (which no record accepts), so that only the item holding it is refused.

    :raises ValueError: for what is not JSON, or nests too deeply to parse.
    """
    try:
        return jsonlib.loads(content, parse_int=_int_or_infinity)
    except RecursionError as exc:
        raise _TooDeep("nested too deeply") from exc


class _TooDeep(ValueError):
    pass


def _why_not_json(exc: ValueError) -> str:
    return "nested too deeply" if isinstance(exc, _TooDeep) else type(exc).__name__


def _int_or_infinity(digits: str) -> int | float:
    # int() of more than 4300 digits raises; no count or id comes near 100.
    return int(digits) if len(digits) <= 100 else math.inf


def _refuse_declared_size(response: httpx.Response, label: str) -> None:
    declared = response.headers.get("Content-Length", "").strip()
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > 12 or int(declared) > MAX_BODY_BYTES)
    ):
        raise _too_large(label)


def _too_large(label: str) -> ProviderInvalidResponse:
    return ProviderInvalidResponse(
        f"{label} sent an answer larger than {MAX_BODY_BYTES // 2**20} MB; it was refused."
    )


def upstream_message(response: httpx.Response) -> str:
    """The upstream's own error text (its ``error`` or ``message`` field), else its reason."""
    try:
        body = decode_json(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:500]
    return response.reason_phrase or f"HTTP {response.status_code}"


def retry_after_seconds(response: httpx.Response, default: int) -> int:
    """``Retry-After`` in whole seconds when upstream gave a usable one, else ``default``.

    Clamped to 1 s–1 h: the connector passes it on in its own 429, and a client told 0 (or
    a day) would retry at once (or give up).
    """
    seconds = parse_retry_after(response.headers.get("Retry-After"))
    if seconds is None:
        return default
    return max(1, min(math.ceil(seconds), 3600))


def error_for_status(
    response: httpx.Response,
    message: str,
    *,
    label: str,
    statuses: t.Mapping[int, type[ProviderError]],
    default_retry_after: int,
) -> ProviderError:
    """The connector error for an upstream error answer.

    :param statuses: the provider's documented statuses and what each means; other 5xx are
        upstream failures, anything else unexpected.
    """
    status = response.status_code
    error_class = statuses.get(status) or (ProviderUnavailable if status >= 500 else ProviderError)
    text = f"{label}: {message}"
    if error_class is ProviderRateLimited:
        return ProviderRateLimited(
            text, retry_after=retry_after_seconds(response, default_retry_after)
        )
    if error_class is ProviderAuthFailed:
        text += " Check the API key of this connection."
    elif error_class is ProviderOutOfCredits:
        text += f" Top up the {label} account (or add a payment method), then retry."
    elif error_class is ProviderUnavailable:
        text += f" (upstream {status})"
    elif error_class is ProviderError:
        text += f" (unexpected upstream status {status})"
    return error_class(text)
