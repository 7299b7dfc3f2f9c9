"""Counting HTTP requests, and settling each request's upstream usage when it ends."""

from __future__ import annotations

import time
import typing as t

from flask import g, request

from .state import runtime

if t.TYPE_CHECKING:
    from flask import Flask, Response


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_count)
    app.teardown_request(_settle)


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    metrics = runtime().metrics
    elapsed = time.perf_counter() - g.get("metrics_started", time.perf_counter())
    # The route's template, not the path: ids and handles would make a series each.
    rule = request.url_rule
    metrics.request(
        rule.rule if rule is not None else "unmatched",
        request.method,
        response.status_code,
        elapsed,
    )
    if response.status_code == 503 and response.is_json:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and body.get("code") == "store_unavailable":
            metrics.store_error("request")
    return response


def _settle(error: BaseException | None) -> None:
    metrics = runtime().metrics
    # Written in batches: a store write per request would cost more than the request.
    metrics.flush(due_only=True)
    metrics.forget_attribution()
