"""A webhook receiver for tests: verifies Standard Webhooks signatures with the reference
implementation, records what arrives, and answers as scripted per path."""

from __future__ import annotations

import dataclasses
import threading
import time
import typing as t

from flask import Flask, Response, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclasses.dataclass
class Received:
    path: str
    webhook_id: str
    body: t.Any
    verified: bool
    status: int
    at: float = dataclasses.field(default_factory=time.time)  # when it arrived


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.secrets: dict[str, str] = {}
        self.scripts: dict[str, list[tuple[int, float]]] = {}
        self.received: list[Received] = []
        self.app = Flask("receiver")
        self.app.add_url_rule("/<path:path>", view_func=self._receive, methods=["POST"])

    def expect(self, path: str, secret: str) -> None:
        with self.lock:
            self.secrets[path] = secret

    def script(self, path: str, *answers: tuple[int, float]) -> None:
        """Answer the next requests to ``path`` with (status, delay) in turn, then 200."""
        with self.lock:
            self.scripts[path] = list(answers)

    def bodies(self, path: str) -> list[t.Any]:
        with self.lock:
            return [r.body for r in self.received if r.path == path and 200 <= r.status < 300]

    def all(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def _receive(self, path: str) -> Response:
        data = request.get_data(as_text=True)
        with self.lock:
            secret = self.secrets.get(path)
            answers = self.scripts.get(path) or []
            status, delay = answers.pop(0) if answers else (200, 0.0)
        verified = False
        body: t.Any = None
        if secret is not None:
            try:
                body = Webhook(secret).verify(data, dict(request.headers))
                verified = True
            except WebhookVerificationError:
                verified = False
        with self.lock:
            self.received.append(
                Received(path, request.headers.get("webhook-id", ""), body, verified, status)
            )
        if delay:
            time.sleep(delay)
        headers = {"Retry-After": "0"} if status == 429 else {}
        return Response("ok", status, headers)
