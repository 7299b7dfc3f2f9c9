"""Sending one delivery: to the addresses the target check approved, ending at a deadline.

Two things httpx does not do on its own. It resolves the host again when it connects, so a
resolver may answer the check with a public address and the connection with 127.0.0.1
(DNS rebinding): here the connection goes to the checked addresses, while the URL's host
stays in the ``Host`` header, TLS SNI and certificate verification. And its timeouts bound
each connect, write and read, never their sum, so a target dripping its answer a byte at a
time holds a delivery indefinitely: here every socket operation ends at the deadline
:mod:`connector.deadlines` holds for the delivery, and at most ``max_body`` bytes of the
answer are read (only its status and ``Retry-After`` matter).
"""

from __future__ import annotations

import dataclasses
import ssl
import typing as t

import httpx

from ..retry_after import parse_retry_after
from ..transport import pinned_transport

if t.TYPE_CHECKING:
    from .targets import Target


@dataclasses.dataclass(frozen=True)
class Answer:
    """What a target answered: its status, and ``Retry-After`` in seconds if it gave one."""

    status: int
    retry_after: float | None


def post(
    target: Target,
    body: bytes,
    headers: t.Mapping[str, str],
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None,
    max_body: int = 4096,
    on_response: t.Callable[[httpx.Response], None] | None = None,
) -> Answer:
    """POST ``body`` to a checked target, connecting only to ``target.addresses``.

    Call it under a deadline (``deadlines.within``): connecting, TLS, sending and reading
    the answer all end there. The connection is not kept.

    :param timeout: httpx's per-operation timeout (the deadline cuts it shorter).
    :param ssl_context: verifies the target's certificate; required for https:// targets.
    :param on_response: called with the response once its status and headers are in.
    :raises httpx.HTTPError: when no answer came (``httpx.TimeoutException`` at the
        deadline).
    """
    if ssl_context is None:
        if target.scheme == "https":
            raise ValueError("an https:// target needs an SSL context")
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # never used: plain HTTP
    transport = pinned_transport(target.addresses, ssl_context)
    with (
        httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would resolve the host again
            headers={"User-Agent": "tiktok-connector-webhooks"},
            event_hooks={"response": [on_response]} if on_response else None,
        ) as client,
        client.stream("POST", target.url, content=body, headers=dict(headers)) as response,
    ):
        # Not clamped here: RetryPolicy.delay caps it at the policy's max_delay.
        answer = Answer(
            response.status_code, parse_retry_after(response.headers.get("Retry-After"))
        )
        received = 0
        try:
            for chunk in response.iter_raw():
                received += len(chunk)
                if received >= max_body:
                    break
        except httpx.HTTPError:
            pass  # the status is in; a body that stalls or breaks changes nothing
        return answer
