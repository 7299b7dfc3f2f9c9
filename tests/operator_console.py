"""An operator's console on a loopback socket: the settings, a session that signs in and
reads pages as a person sees them, and an API caller subscribing webhooks."""

from __future__ import annotations

import contextlib
import re
import typing as t

import httpx

from connector.hooks.poller import run_cycle
from connector.serving import BackgroundServer

from .conftest import KEY
from .receiver import Receiver

ADMIN_TOKEN = "admin-7Kq2vN9xLp4TzR8w"
SECRET_KEY = "Jq3v9XkT2pLw8RzN4bYc6HdF1mGsA7eU-console"
CONSOLE_SETTINGS: dict[str, t.Any] = {
    "ADMIN_TOKEN": ADMIN_TOKEN,
    "SECRET_KEY": SECRET_KEY,
    "ALLOW_PRIVATE_TARGETS": True,
    "DELIVERY_TIMEOUT": 1.0,
    "DELIVERY_FIRST_RETRY": 0.01,
    "DELIVERY_MAX_DELAY": 0.05,
    "DELIVERY_CLIENT_ERROR_ATTEMPTS": 1,
    "POLL_MIN_GAP": 0,
    "POLL_INTERVAL": 0,
}
CONSOLE_PAGES = (
    "/console/",
    "/console/handles",
    "/console/subscriptions",
    "/console/dead-letters",
    "/console/usage",
)


class Console:
    """A connector on a loopback socket, an operator's session on it, and an API caller."""

    def __init__(self, app: t.Any, url: str, receiver: Receiver, receiver_url: str) -> None:
        self.app, self.url = app, url
        self.rt = app.extensions["connector"]
        self.receiver, self.receiver_url = receiver, receiver_url
        self.browser = httpx.Client(base_url=url, follow_redirects=True, timeout=30)
        self.api = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        )

    def close(self) -> None:
        self.browser.close()
        self.api.close()

    def sign_in(self, token: str = ADMIN_TOKEN) -> httpx.Response:
        form = self.browser.get("/console/login")
        return self.browser.post(
            "/console/login", data={"csrf": csrf_of(form.text), "token": token}
        )

    def subscribe(self, path: str, handle: str = "creator", **extra: t.Any) -> dict[str, t.Any]:
        created = self.api.post(
            "/v1/hooks",
            json={"target_url": f"{self.receiver_url}/{path}", "handle": handle, **extra},
            headers={"User-Agent": "Zapier"},
        )
        assert created.status_code == 201, created.text
        body = t.cast(dict[str, t.Any], created.json())
        self.receiver.expect(path, body["secret"])
        return body

    def cycle(self) -> dict[str, int]:
        return run_cycle(self.rt.poll_context).as_dict()

    def text(self, path: str) -> str:
        page = self.browser.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:500])
        return visible(page.text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has a form with a CSRF token"
    return found[1]


def visible(html: str) -> str:
    """The page's text, roughly as a person reads it."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@contextlib.contextmanager
def serve_console(
    make_app: t.Callable[..., t.Any],
    receiver: Receiver,
    receiver_url: str,
    **extra: t.Any,
) -> t.Iterator[Console]:
    """A connector with the console's settings (and ``extra``) on a loopback socket."""
    app = make_app(**{**CONSOLE_SETTINGS, **extra})
    with BackgroundServer(app) as server:
        console = Console(app, server.url, receiver, receiver_url)
        try:
            yield console
        finally:
            console.close()
