"""One HTTP client per provider serves every tenant: nothing one tenant's calls leave in it
may ride along with another's."""

from __future__ import annotations

import typing as t

from connector import create_app
from connector.sandbox import World, base_urls, create_sandbox_app
from connector.serving import BackgroundServer


def test_a_cookie_upstream_sets_for_one_key_is_never_sent_with_another(
    world: World, db_url: str
) -> None:
    """Upstreams behind CDNs and load balancers set cookies (sessions, bot scores, sticky
    routing). Kept by the shared client, the one set on a call with tenant A's key would
    go out with tenant B's calls."""
    cookies: list[str | None] = []
    sandbox = create_sandbox_app(world)

    def cookie_setting(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        cookies.append(environ.get("HTTP_COOKIE"))
        key = environ.get("HTTP_AUTHORIZATION", "")[-6:]

        def start(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            return start_response(
                status, [*headers, ("Set-Cookie", f"session={key}; Path=/")], exc_info
            )

        return sandbox(environ, start)

    with BackgroundServer(cookie_setting) as upstream:
        app = create_app({"DATABASE_URL": db_url, **base_urls(upstream.url)})
        client = app.test_client()
        for key, handle in (
            ("key-of-tenant-a", "one"),
            ("key-of-tenant-b", "two"),
            ("key-of-tenant-a", "three"),
            ("key-of-tenant-b", "four"),
        ):
            answer = client.post(
                "/v1/actions/get-profile",
                json={"handle": handle},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answer.status_code == 200, answer.json
    assert len(cookies) == 4 and cookies == [None] * 4
