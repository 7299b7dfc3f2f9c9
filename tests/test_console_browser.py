"""The operator console in a real browser: headless Chromium (Debian's package) driven by
Playwright for Python.

Screenshots of the main pages are saved to a temporary folder (printed with ``-s``), or to
the folder named by ``CONSOLE_SCREENSHOTS``; its ``console.png`` (the sandbox panel after a
video went through) is the README's ``docs/console.png``.
"""

from __future__ import annotations

import os
import re
import time
import typing as t
from pathlib import Path

import httpx
import pytest

from connector.sandbox import World
from connector.serving import BackgroundServer

from .operator_console import ADMIN_TOKEN, CONSOLE_SETTINGS, KEY
from .receiver import Receiver
from .servers import free_port, sandbox_process, wait_until_up

if t.TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"no browser at {CHROMIUM}: apt-get update && apt-get install -y chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install playwright (never `playwright install`)"
    return None


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_missing() is not None, reason=_missing() or ""),
]


@pytest.fixture(scope="module")
def browser() -> t.Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path_factory.mktemp("console"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots in {folder}")
    return folder


@pytest.fixture
def page(browser: Browser) -> t.Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(5000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def sign_in(page: Page, base: str, token: str) -> None:
    page.goto(base + "/console/")
    page.fill("#token", token)
    page.click("button[type=submit]")


def wait_for_text(page: Page, text: str, seconds: float = 5.0) -> None:
    """Reload until ``text`` shows (background work such as a replay's delivery)."""
    deadline = time.monotonic() + seconds
    while text not in page.inner_text("main"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never showed on {page.url}")
        time.sleep(0.1)
        page.reload()


def test_an_operator_follows_a_failed_delivery_to_its_replay(
    page: Page,
    make_app: t.Callable[..., t.Any],
    world: World,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
    shots: Path,
) -> None:
    from connector.hooks.poller import run_cycle

    app = make_app(**CONSOLE_SETTINGS)
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}) as api,
    ):
        sign_in(page, server.url, "not-the-admin-token")
        assert "That is not the admin token." in page.inner_text("main")
        assert page.url.startswith(server.url + "/console/login")
        page.screenshot(path=shots / "login-refused.png")

        sign_in(page, server.url, ADMIN_TOKEN)
        assert page.url == server.url + "/console/"
        assert page.inner_text("h1") == "Overview"

        target = f"{receiver_server[1].url}/zap-hook"
        created = api.post(
            "/v1/hooks",
            json={"target_url": target, "handle": "creator", "consumer": "zap-42"},
            headers={"User-Agent": "Zapier"},
        ).json()
        receiver.expect("zap-hook", created["secret"])
        video = world.post_video("creator")
        receiver.script("zap-hook", (400, 0.0))  # refused once: a dead letter at once
        assert run_cycle(app.extensions["connector"].poll_context).as_dict()["dead"] == 1

        page.click("nav >> text=Handles")
        row = page.locator("tbody tr", has_text="@creator")
        assert "1" in row.locator("td").nth(3).inner_text(), "one subscription"
        assert row.locator("td").nth(4).inner_text() != "never", "polled"
        page.screenshot(path=shots / "handles.png", full_page=True)

        page.click("nav >> text=Subscriptions")
        row = page.locator("tbody tr", has_text=created["id"])
        assert "zap-42" in row.inner_text() and "ZAPIER" in row.inner_text()
        assert "dead 400" in row.inner_text() and "1 dead" in row.inner_text()
        page.screenshot(path=shots / "subscriptions.png", full_page=True)

        page.click("nav >> text=Dead letters")
        assert video.id in page.inner_text("main")
        page.screenshot(path=shots / "dead-letters.png", full_page=True)

        page.click(f"text={created['id']}")
        history = page.locator("table").last
        assert "target answered 400" in history.inner_text()
        page.click("button:has-text('Replay all 1')")
        assert "Replayed 1 dead letter(s)" in page.inner_text(".notice")
        wait_for_text(page, "delivered 200")
        assert "Dead letters (0)" in page.inner_text("main")
        assert [body["id"] for body in receiver.bodies("zap-hook")] == [video.id]
        page.screenshot(path=shots / "subscription.png", full_page=True)

        page.click("nav >> text=Usage")
        usage = page.locator("tbody tr", has_text="ZAPIER").inner_text()
        assert "dumplingai" in usage and "credits" in usage
        page.screenshot(path=shots / "usage.png", full_page=True)

        page.click("nav >> text=Overview")
        assert page.inner_text("#dead") == "0"
        page.screenshot(path=shots / "overview.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the overview fits a phone's width (wide tables scroll inside)"
        page.screenshot(path=shots / "overview-phone.png", full_page=True)


def test_an_operator_sees_a_deleted_account_back_off_and_has_it_read_again(
    page: Page,
    make_app: t.Callable[..., t.Any],
    world: World,
    receiver_server: tuple[Receiver, BackgroundServer],
    shots: Path,
) -> None:
    from connector.hooks.poller import run_cycle
    from connector.sandbox import Fault

    app = make_app(**{**CONSOLE_SETTINGS, "POLL_MIN_GAP": 30})
    store = app.extensions["connector"].store
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}) as api,
    ):
        for handle in ("still.here", "deleted.since"):
            answer = api.post(
                "/v1/hooks",
                json={"target_url": f"{receiver_server[1].url}/{handle}", "handle": handle},
            )
            assert answer.status_code == 201, answer.text
        # The account is deleted after the subscription: upstream's documented 404.
        world.add_fault(
            Fault(endpoint="profile-videos", handle="deleted.since", status=404, times=10)
        )
        run_cycle(app.extensions["connector"].poll_context)
        with store._transaction() as sql:  # as if it had been failing for two days
            sql.run(
                "UPDATE watches SET failing_since = failing_since - 172800,"
                " last_polled_at = 0, gap_from = 0 WHERE handle = 'deleted.since'"
            )
        assert run_cycle(app.extensions["connector"].poll_context).as_dict()["failed"] == 1

        sign_in(page, server.url, ADMIN_TOKEN)
        page.click("nav >> text=Handles")
        gone = page.locator("tbody tr", has_text="@deleted.since").inner_text()
        assert "in 60 min · backing off: failing" in gone
        assert "TikTok profile not found for handle: deleted.since" in gone
        here = page.locator("tbody tr", has_text="@still.here").inner_text()
        assert "backing off" not in here and "not found" not in here
        page.screenshot(path=shots / "handles-backing-off.png", full_page=True)
        page.click("nav >> text=Overview")
        assert "1 backing off" in page.inner_text("main").lower()
        page.screenshot(path=shots / "overview-backing-off.png")
        page.click("nav >> text=Handles")

        # The account is back: the operator has it read at the next cycle, which works.
        world.clear_faults()
        page.locator("tbody tr", has_text="@deleted.since").locator(
            "button:has-text('Read next cycle')"
        ).click()
        assert "will be read by the next poll cycle" in page.inner_text(".notice")
        gone = page.locator("tbody tr", has_text="@deleted.since").inner_text()
        assert "due (next cycle)" in gone
        assert run_cycle(app.extensions["connector"].poll_context).as_dict()["failed"] == 0
        page.reload()
        back = page.locator("tbody tr", has_text="@deleted.since").inner_text()
        assert "in 29 s" in back or "in 30 s" in back, back
        assert "backing off" not in back
        page.screenshot(path=shots / "handles-read-again.png", full_page=True)


def test_the_api_reference_renders_offline(
    page: Page, make_app: t.Callable[..., t.Any], shots: Path
) -> None:
    app = make_app(**CONSOLE_SETTINGS)
    asked: list[str] = []
    with BackgroundServer(app) as server:
        page.on("request", lambda request: asked.append(request.url))
        page.goto(server.url + "/docs")
        page.wait_for_selector(".swagger-ui .info .title")
        assert "TikTok connector" in page.inner_text(".swagger-ui .info .title")
        assert page.locator(".opblock").count() > 5
        page.screenshot(path=shots / "docs.png")
    assert asked and all(url.startswith(server.url) for url in asked), "nothing from elsewhere"


def test_a_newcomer_posts_a_sandbox_video_and_sees_it_detected_and_delivered(
    page: Page, tmp_path: Path, shots: Path
) -> None:
    """The README's first run: `connector serve --sandbox`, open the printed console URL
    with the printed token, post a video from the sandbox panel."""
    process = sandbox_process(tmp_path, free_port())
    try:
        assert process.stdout is not None
        printed = ""
        deadline = time.monotonic() + 20
        while "Operator console:" not in printed and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            printed += line
        found = re.search(r"Operator console: (\S+) \(admin token for this run: (\S+)\)", printed)
        assert found, printed
        url, token = found[1], found[2]
        wait_until_up(url, any_status=True)
        page.goto(url)
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.click("nav >> text=Sandbox")
        page.click("button:has-text('Post a new video')")
        story = page.inner_text("ol.story")
        for step in ("Posted video", "Polling trigger: detected", "Webhook delivered"):
            assert step in story, story
        assert "verified" in page.inner_text("main")
        page.screenshot(path=shots / "console.png", full_page=True)  # the README's picture
        page.click("nav >> text=Overview")
        page.screenshot(path=shots / "overview-sandbox.png")
    finally:
        process.terminate()
        process.communicate(timeout=10)
