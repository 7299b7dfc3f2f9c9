"""The operator console, the landing page and the API reference, over real HTTP.

The browser tests (test_console_browser.py) drive the same pages in Chromium; these run
everywhere and check what a browser cannot see at a glance: cookies, CSRF, headers, and that
no page shows a secret.
"""

from __future__ import annotations

import re
import time
import typing as t

import pytest

from connector.callers import tenant_for
from connector.sandbox import World
from connector.store import WatchKey, open_store
from connector.store.activity import Activity, Attempt, Cycle, Usage

from .conftest import KEY
from .operator_console import (
    ADMIN_TOKEN,
    CONSOLE_PAGES,
    SECRET_KEY,
    Console,
    csrf_of,
    visible,
)
from .records import add, subscription


def test_the_root_is_a_landing_page_with_links(console: Console) -> None:
    page = console.browser.get("/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for link in ('href="/console/"', 'href="/docs"', 'href="/health"', 'href="/openapi.json"'):
        assert link in page.text
    assert "closed" not in visible(page.text)


def test_the_console_is_closed_without_an_admin_token(make_app: t.Callable[..., t.Any]) -> None:
    app = make_app()
    client = app.test_client()
    for path in ("/console/", "/console/login", "/console/handles"):
        page = client.get(path)
        assert page.status_code == 403
        assert "CONNECTOR_ADMIN_TOKEN" in page.text
    assert client.post("/console/login", data={"token": ""}).status_code == 403
    assert "closed" in visible(client.get("/").text)


def test_signing_in_needs_the_admin_token(console: Console) -> None:
    assert console.browser.get("/console/").url.path == "/console/login"
    refused = console.sign_in("not-the-token")
    assert refused.status_code == 401
    assert "That is not the admin token." in refused.text
    assert "connector_console=" not in refused.headers.get("set-cookie", "")
    signed_in = console.sign_in()
    assert signed_in.status_code == 200 and signed_in.url.path == "/console/"
    assert "Overview" in visible(signed_in.text)


def test_the_session_cookie_is_httponly_samesite_and_secure_behind_https(
    console: Console,
) -> None:
    form = console.browser.get("/console/login")
    answer = console.browser.post(
        "/console/login",
        data={"csrf": csrf_of(form.text), "token": ADMIN_TOKEN},
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("connector_console=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite", "path"} <= attributes
    assert "SameSite=Lax" in cookie and "Path=/console" in cookie
    plain = console.sign_in()
    assert plain.history and "secure" not in plain.history[0].headers["set-cookie"].lower()


def test_every_form_needs_its_csrf_token(console: Console, world: World) -> None:
    form = console.browser.get("/console/login")
    no_token = console.browser.post("/console/login", data={"token": ADMIN_TOKEN})
    assert no_token.status_code == 400, "the sign-in form has a double-submit token"
    assert csrf_of(form.text)
    console.sign_in()
    for path, data in (
        ("/console/dead-letters/replay", {"id": "1"}),
        ("/console/logout", {}),
        ("/console/dead-letters/replay", {"id": "1", "csrf": "forged"}),
        ("/console/handles/due", {"tenant": "t", "handle": "h"}),
    ):
        refused = console.browser.post(path, data=data)
        assert refused.status_code == 400, path
        assert "expired" in refused.text
    cross_site = console.browser.post(
        "/console/logout",
        data={"csrf": csrf_of(console.browser.get("/console/").text)},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert console.browser.get("/console/").url.path == "/console/", "still signed in"


def test_signing_out_ends_the_session(console: Console) -> None:
    page = console.sign_in()
    out = console.browser.post("/console/logout", data={"csrf": csrf_of(page.text)})
    assert out.url.path == "/console/login" and "Signed out." in out.text
    assert console.browser.get("/console/").url.path == "/console/login"


def test_console_pages_forbid_scripts_frames_and_caching(console: Console) -> None:
    console.sign_in()
    page = console.browser.get("/console/")
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in page.text


def test_the_api_reference_is_served_from_the_package(console: Console) -> None:
    page = console.browser.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), "nothing from the internet"
    for source in sources:
        asset = console.browser.get(source)
        assert asset.status_code == 200, source
    bundle = console.browser.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert console.browser.get("/docs/assets/index.html").status_code == 404
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
    init = console.browser.get("/assets/swagger-init.js").text
    assert "validatorUrl: null" in init, "Swagger UI must not call the public validator"


def test_a_watched_handle_and_its_subscription_show_after_a_poll(
    console: Console, world: World
) -> None:
    console.sign_in()
    created = console.subscribe("shown", consumer="zap-42")
    world.post_video("creator")
    assert console.cycle()["delivered"] == 1
    tenant = tenant_for(KEY)
    handles = console.text("/console/handles")
    assert "@creator" in handles and tenant[:8] in handles
    assert "dumplingai (default)" in handles
    subscriptions = console.text("/console/subscriptions")
    host = console.receiver_url.removeprefix("http://")
    for shown in (created["id"], "@creator", host, "new_video", "zap-42", "ZAPIER", "delivered"):
        assert shown in subscriptions, shown
    detail = console.text(f"/console/subscriptions/{created['id']}")
    assert "delivered 200" in detail
    overview = console.text("/console/")
    assert "DumplingAI" in overview and re.search(r"Handles Failed .* 1 0 1 1 0 0", overview)


def test_handles_filter_sort_and_paginate(
    console: Console, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.console import views

    monkeypatch.setattr(views, "PER_PAGE", 2)
    console.sign_in()
    for handle in ("alpha", "bravo", "charlie"):
        console.subscribe(f"h-{handle}", handle=handle)
    first = console.browser.get("/console/handles", params={"sort": "handle"})
    assert "Page 1 of 2" in visible(first.text)
    assert "@alpha" in first.text and "@charlie" not in first.text
    second = console.browser.get("/console/handles", params={"sort": "handle", "page": 2})
    assert "@charlie" in second.text and "@alpha" not in second.text
    backwards = console.text("/console/handles?sort=handle&order=desc")
    assert backwards.index("@charlie") < backwards.index("@bravo")
    only = console.text("/console/handles?q=rav")
    assert "@bravo" in only and "@alpha" not in only
    assert "No watched handle matches." in console.text("/console/handles?provider=apidirect")


def test_a_dead_letter_is_replayed_from_the_console_and_delivered(
    console: Console, world: World
) -> None:
    page = console.sign_in()
    created = console.subscribe("refusing")
    video = world.post_video("creator")
    console.receiver.script("refusing", (400, 0.0))
    report = console.cycle()
    assert report["dead"] == 1
    detail = console.text(f"/console/subscriptions/{created['id']}")
    assert "dead 400" in detail and "target answered 400" in detail
    dead = console.browser.get("/console/dead-letters")
    assert video.id in dead.text
    replayed = console.browser.post(
        "/console/dead-letters/replay",
        data={
            "csrf": csrf_of(page.text),
            "subscription_id": created["id"],
            "next": f"/console/subscriptions/{created['id']}",
        },
    )
    assert replayed.url.path == f"/console/subscriptions/{created['id']}"
    assert "Replayed 1 dead letter(s)" in visible(replayed.text)
    # Delivered in the background: the page says so once the attempt is logged.
    deadline = time.monotonic() + 5
    detail = ""
    while "delivered 200" not in detail and time.monotonic() < deadline:
        time.sleep(0.05)
        detail = console.text(f"/console/subscriptions/{created['id']}")
    assert "delivered 200" in detail and "Dead letters (0)" in detail
    assert [b["id"] for b in console.receiver.bodies("refusing")] == [video.id]


def test_a_failing_delivery_shows_as_retrying_with_its_answer(
    console: Console, world: World
) -> None:
    console.sign_in()
    created = console.subscribe("flaky")
    world.post_video("creator")
    console.receiver.script("flaky", (503, 0.0))
    assert console.cycle()["retried"] == 1
    listed = console.text("/console/subscriptions")
    assert "retried 503" in listed and "retrying attempt 2" in listed
    detail = console.text(f"/console/subscriptions/{created['id']}")
    assert "Waiting to be delivered (1)" in detail and "target answered 503" in detail
    overview = console.text("/console/")
    assert re.search(r"Retrying (\d+)", overview)[1] == "1"  # type: ignore[index]


def test_replay_takes_only_forms_back_into_the_console(console: Console) -> None:
    page = console.sign_in()
    away = console.browser.post(
        "/console/dead-letters/replay",
        data={"csrf": csrf_of(page.text), "id": "999", "next": "https://elsewhere.example/"},
        follow_redirects=False,
    )
    assert away.status_code == 303
    assert away.headers["Location"].startswith("/console/dead-letters?")


def test_usage_counts_calls_and_estimated_credits_per_tenant_provider_and_source(
    console: Console, world: World
) -> None:
    console.sign_in()
    for handle in ("one", "two", "missing.account"):
        console.api.post(
            "/v1/actions/get-profile",
            json={"handle": handle},
            headers={"X-Request-Source": "MAKE_DOT_COM"},
        )
    usage = console.text("/console/usage")
    row = re.search(rf"{tenant_for(KEY)[:8]} dumplingai MAKE_DOT_COM (\d+) (\d+) (\d+)", usage)
    assert row, usage
    assert row.groups() == ("3", "2", "0"), "calls, successful, failures (a 404 is no failure)"
    assert "20 credits" in usage, "10 credits per successful DumplingAI request"


@pytest.mark.parametrize("console", [{"SANDBOX": True}], indirect=True)
def test_the_sandbox_panel_shows_a_posted_video_detected_and_delivered(
    console: Console, world: World
) -> None:
    page = console.sign_in()
    before = len(world.profile("tiktok").videos)  # type: ignore[union-attr]
    flowed = console.browser.post(
        "/console/sandbox/", data={"csrf": csrf_of(page.text), "handle": "@TikTok"}
    )
    text = visible(flowed.text)
    assert len(world.profile("tiktok").videos) == before + 1  # type: ignore[union-attr]
    posted = world.profile("tiktok").videos[0].id  # type: ignore[union-attr]
    for step in (
        "Subscribed a webhook to @tiktok",
        f"Posted video {posted} on @tiktok",
        "Polling trigger: detected",
        "Webhook delivered",
    ):
        assert step in text, step
    assert "msg_" in text and "verified" in text
    again = console.browser.post(
        "/console/sandbox/", data={"csrf": csrf_of(flowed.text), "handle": "tiktok"}
    )
    assert "Subscribed a webhook" not in visible(again.text), "the demo subscription is kept"
    assert visible(again.text).count("Webhook delivered") == 1


def test_the_sandbox_panel_is_not_there_on_a_live_server(console: Console) -> None:
    console.sign_in()
    assert console.browser.get("/console/sandbox/").status_code == 404
    assert console.browser.post("/console/sandbox/inbox").status_code == 404


@pytest.mark.parametrize("console", [{"SANDBOX": True}], indirect=True)
def test_no_console_page_shows_a_secret(console: Console, world: World) -> None:
    page = console.sign_in()
    secret_target = "refusing/token-in-the-path-0123456789abcdef"
    created = console.subscribe(secret_target, consumer="zap-7")
    world.post_video("creator")
    console.receiver.script(secret_target, (400, 0.0))
    console.cycle()
    console.browser.post("/console/sandbox/", data={"csrf": csrf_of(page.text), "handle": "tiktok"})
    rt = console.rt
    tenants = {s.tenant for s in rt.store.subscriptions()}
    assert len(tenants) == 2, "the API caller's and the sandbox panel's"
    secrets = {
        KEY,
        created["secret"],
        created["secret"].removeprefix("whsec_"),
        ADMIN_TOKEN,
        SECRET_KEY,
        "token-in-the-path-0123456789abcdef",
        *tenants,
    }
    from connector.console.sandbox import DEMO_KEY

    secrets.add(DEMO_KEY)
    pages = [
        *CONSOLE_PAGES,
        "/console/sandbox/",
        *(f"/console/subscriptions/{s.id}" for s in rt.store.subscriptions()),
        "/",
        "/docs",
    ]
    for path in pages:
        html = console.browser.get(path).text
        assert html.strip(), path
        for secret in secrets:
            assert secret not in html, f"{path} shows a secret"
    assert "/console/subscriptions/" + created["id"] in pages


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_activity_logs_stay_bounded(
    store_url: str, request: pytest.FixtureRequest, tmp_path: t.Any
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'c.db'}"
        if store_url == "sqlite"
        else t.cast(str, request.getfixturevalue("postgres_url"))
    )
    store = open_store(url)
    try:
        _check_bounds(store)
    finally:
        store.close()


def _check_bounds(store: t.Any) -> None:
    from connector.store import activity as activity_module

    activity = Activity(store)
    sub = subscription("sub_" + "a" * 24, tenant="t" * 32)
    add(store, sub)
    for number in range(7):
        activity.record_attempt(
            Attempt(sub.id, str(number), f"msg_{number}", float(number), "retried", 500, 0.1, None),
            delivery_id=0,
            keep=3,
        )
    logged = activity.attempts(sub.id)
    assert [a.video_id for a in logged.items] == ["6", "5", "4"] and logged.total == 3
    activity.record_attempt(
        Attempt("sub_" + "b" * 24, "1", "msg", 1.0, "delivered", 200, 0.1, None),
        delivery_id=0,
        keep=3,
    )
    assert activity.attempts("sub_" + "b" * 24).total == 0, "no log for a removed subscription"
    for number in range(activity_module.CYCLES_KEPT + 5):
        activity.record_cycle(Cycle(float(number), 0.1, "w", {"watched": number}))
    cycles = activity.cycles(1000)
    assert len(cycles) == activity_module.CYCLES_KEPT
    assert cycles[0].counts["watched"] == activity_module.CYCLES_KEPT + 4
    now = 10 * 86400.0
    old, recent = 0, int(now) // activity_module.BUCKET * activity_module.BUCKET
    usage = {
        (old, "t", "dumplingai", "API", "ok"): Usage("t", "dumplingai", "API", "ok", 5, 1.0),
        (recent, "t", "dumplingai", "API", "ok"): Usage("t", "dumplingai", "API", "ok", 2, 0.5),
    }
    activity.add_usage(usage, now)
    activity.add_usage({k: v for k, v in usage.items() if k[0] == recent}, now)
    assert activity.usage(0) == [Usage("t", "dumplingai", "API", "ok", 4, 1.0)]
    activity.watch_failed(WatchKey(sub.tenant, "", "creator"), "DumplingAI: down", now)
    (row,) = activity.watches(now=now).items
    assert row.last_error == "DumplingAI: down" and row.subscriptions == 1
    store.remove_subscription(sub.id)
    assert activity.attempts(sub.id).total == 0, "the log goes with its subscription"


def test_reading_a_handle_next_cycle_needs_a_handle_and_stays_in_the_console(
    console: Console,
) -> None:
    console.sign_in()
    page = console.browser.get("/console/handles")
    nameless = console.browser.post("/console/handles/due", data={"csrf": csrf_of(page.text)})
    assert nameless.status_code == 400 and "names none" in nameless.text
    elsewhere = console.browser.post(
        "/console/handles/due",
        data={
            "csrf": csrf_of(page.text),
            "tenant": "t",
            "handle": "h",
            "next": "https://elsewhere.example/",
        },
    )
    assert elsewhere.url.path == "/console/handles"
    assert "read by the next poll cycle" in visible(elsewhere.text)
