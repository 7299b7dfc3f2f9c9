"""The AWS Lambda path through Zappa's own handler, against PostgreSQL."""

from __future__ import annotations

import base64
import json
import pathlib
import subprocess
import sys
import typing as t

import pytest

from connector.sandbox import World, base_urls
from connector.serving import BackgroundServer

from .conftest import KEY, scheduled_event
from .receiver import Receiver

ROOT = pathlib.Path(__file__).parent.parent
ZAPPA = pathlib.Path(sys.executable).parent / "zappa"

pytest.importorskip("zappa", reason="zappa is not installed (the [lambda] extra)")


class Context:
    """What Lambda passes as the context object, as far as the handler reads it."""

    function_name = "tiktok-connector-production"
    aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
    invoked_function_arn = (
        "arn:aws:lambda:us-east-1:123456789012:function:tiktok-connector-production"
    )
    memory_limit_in_mb = 512

    def get_remaining_time_in_millis(self) -> int:
        return 100_000


def api_gateway_event(
    method: str,
    path: str,
    body: dict[str, t.Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, t.Any]:
    """An API Gateway REST (v1) proxy event."""
    all_headers = {
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "X-Forwarded-For": "203.0.113.7",
        "Content-Type": "application/json",
        **(headers or {}),
    }
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/production{path}",
            "stage": "production",
            "requestId": "req-1",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": all_headers.get("User-Agent", "")},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def decoded(response: dict[str, t.Any]) -> t.Any:
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


@pytest.mark.postgres
def test_zappas_handler_serves_http_and_scheduled_events_on_postgres(
    postgres_url: str,
    sandbox_url: str,
    world: World,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subprocess.run(
        [
            str(ZAPPA),
            "save-python-settings-file",
            "production",
            "-o",
            str(tmp_path / "zappa_settings.py"),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", postgres_url)
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", "lambda-test-secret-key-3e8a1f6c0d9b27d4")
    monkeypatch.setenv("CONNECTOR_ALLOW_PRIVATE_TARGETS", "true")
    monkeypatch.setenv("CONNECTOR_POLL_MIN_GAP", "0")
    for name, value in base_urls(sandbox_url).items():
        monkeypatch.setenv(f"CONNECTOR_{name}", value)
    for module in ("zappa_settings", "connector.wsgi"):
        monkeypatch.delitem(sys.modules, module, raising=False)

    from zappa import handler as zappa_handler

    from connector import jobs

    monkeypatch.setattr(
        zappa_handler.LambdaHandler, "_LambdaHandler__instance", None, raising=False
    )
    jobs._runtime.cache_clear()
    context = Context()
    auth = {"Authorization": f"Bearer {KEY}", "User-Agent": "Zapier"}

    health = zappa_handler.lambda_handler(api_gateway_event("GET", "/health"), context)
    assert health["statusCode"] == 200
    assert decoded(health)["store"] == "postgresql"

    first = zappa_handler.lambda_handler(
        api_gateway_event("POST", "/v1/triggers/new-video", {"handle": "creator"}, auth), context
    )
    assert first["statusCode"] == 200 and decoded(first) == []
    video = world.post_video("creator")
    second = zappa_handler.lambda_handler(
        api_gateway_event("POST", "/v1/triggers/new-video", {"handle": "creator"}, auth), context
    )
    assert [v["id"] for v in decoded(second)] == [video.id]
    assert world.requests("profile-videos")[-1].body["requestSource"] == "ZAPIER"

    receiver = Receiver()
    server = BackgroundServer(receiver.app).start()
    subscribed = zappa_handler.lambda_handler(
        api_gateway_event(
            "POST", "/v1/hooks", {"target_url": f"{server.url}/lambda", "handle": "creator"}, auth
        ),
        context,
    )
    assert subscribed["statusCode"] == 201
    receiver.expect("lambda", decoded(subscribed)["secret"])
    later = world.post_video("creator")

    scheduled = scheduled_event("tiktok-connector-production-connector.jobs.poll")
    try:
        report = zappa_handler.lambda_handler(scheduled, context)
        again = zappa_handler.lambda_handler(scheduled, context)  # delivered twice by EventBridge
    finally:
        jobs._runtime.cache_clear()
        server.stop()
    assert (report["watched"], report["queued"], report["delivered"]) == (1, 1, 1)
    assert (again["queued"], again["delivered"]) == (0, 0)
    (delivery,) = receiver.all("lambda")
    assert delivery.verified and delivery.body["id"] == later.id
