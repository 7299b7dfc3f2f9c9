"""The floor of the action measure: a WSGI app that does nothing but forward.

It reads the request body, posts it to the upstream's get-video endpoint with one pooled
``httpx.Client`` (the Authorization header passed on) and answers upstream's bytes. Served
by granian as ``connector serve`` serves the connector (a worker per core, 32 threads), it
costs what any connector built on this server and this HTTP client pays on this machine:
one more HTTP hop and one more client call. ``bench/run.py`` times it beside the direct
call and the connector.

Run: ``CONNECTOR_BENCH_UPSTREAM=<url> granian --interface wsgi --working-dir bench
passthrough:app``.
"""

from __future__ import annotations

import os
import typing as t

import httpx

_client = httpx.Client(base_url=os.environ["CONNECTOR_BENCH_UPSTREAM"], timeout=30)


def app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    answer = _client.post(
        "/api/v1/get-tiktok-video",
        content=body,
        headers={
            "authorization": environ.get("HTTP_AUTHORIZATION", ""),
            "content-type": "application/json",
        },
    )
    start_response(
        f"{answer.status_code} {answer.reason_phrase}",
        [("content-type", "application/json"), ("content-length", str(len(answer.content)))],
    )
    return [answer.content]
