"""The sandbox panel: post a video on a sandbox profile and follow it through the polling
trigger and a webhook, as a newcomer's first look at the product working.

Only in sandbox mode. The panel acts as a demo tenant (any key works on the sandbox): its
polling-trigger feed and its webhook subscription go through the same code as the API's, and
the webhook's target is a receiver served here, which checks each delivery's signature.
"""

from __future__ import annotations

import dataclasses
import re
import time
import typing as t

import httpx
from flask import Blueprint, Response, abort, render_template, request, url_for
from marshmallow import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ..errors import ConnectorError
from ..hooks.poller import run_cycle
from ..schemas.fields import normalize_handle
from ..store import FeedKey
from ..triggers import new_video
from . import auth
from .state import runtime

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response as AnyResponse

    from ..callers import Caller
    from ..runtime import Runtime
    from ..store import Subscription
    from ..store.activity import Attempt

blp = Blueprint("console_sandbox", __name__, url_prefix="/console/sandbox")
blp.before_request(auth.guard(open_endpoints={"console_sandbox.inbox"}))
blp.after_request(auth.secure_headers)
blp.context_processor(auth.page_context)

# The demo tenant's key: the sandbox takes any key. Never a real one, so it may be written.
DEMO_KEY = "sandbox-console-demo"
DEMO_CONSUMER = "console-demo"
DEMO_SOURCE = "API"
_WEBHOOK_ID = re.compile(r"msg_(sub_[0-9a-f]{24})_(\d+)")


@dataclasses.dataclass(frozen=True)
class Step:
    """One thing that happened to a video posted from the sandbox panel."""

    at: float
    title: str
    detail: str = ""
    ok: bool = True


@blp.before_request
def _sandbox_only() -> None:
    if not runtime().settings.sandbox:
        abort(404)


@blp.get("/")
def panel() -> str:
    return _page(_handle(request.args.get("handle", "")) or "tiktok", story=[])


@blp.post("/")
def post_video() -> str:
    """Post a video on the sandbox, then poll the trigger and run a poll cycle at once.

    The story is shown in this answer, not kept for a redirect: the next request may be
    served by another worker process."""
    handle = _handle(request.form.get("handle", ""))
    if handle is None:
        abort(400, "Not a TikTok handle: use letters, digits, '_' and '.', e.g. tiktok.")
    return _page(handle, story=Flow(runtime(), handle).run())


def _page(handle: str, story: list[Step]) -> str:
    rt = runtime()
    caller = _demo_caller(rt)
    found = _demo_subscription(rt, caller, handle)
    attempts = rt.metrics.activity.attempts(found.id, per_page=10) if found else None
    return render_template(
        "console/sandbox.html",
        section="sandbox",
        handle=handle,
        subscription=found,
        attempts=attempts,
        story=story,
        inbox=_received(rt, caller)[:10],
        interval=rt.settings.poll_interval,
    )


@blp.post("/inbox")
def inbox() -> AnyResponse:
    """The demo webhook's target: accepts deliveries to the demo tenant's subscriptions whose
    Standard Webhooks signature checks out."""
    rt = runtime()
    match = _WEBHOOK_ID.fullmatch(request.headers.get("webhook-id", ""))
    found = rt.store.subscription(match[1]) if match else None
    if match is None or found is None or found.tenant != _demo_caller(rt).tenant:
        return Response("Not a delivery for the sandbox panel.\n", 404, mimetype="text/plain")
    secret = rt.sealer.open(found.secret_ciphertext, f"subscription:{found.id}")
    try:
        Webhook(secret).verify(request.get_data(), dict(request.headers))
    except WebhookVerificationError:
        return Response("Signature does not verify.\n", 401, mimetype="text/plain")
    return Response(status=204)


def _received(rt: Runtime, caller: Caller, video_id: str | None = None) -> list[Attempt]:
    """What the demo receiver accepted, latest first: the demo subscriptions' delivered
    attempts (it accepts only deliveries whose signature verifies). From the store, not
    this process's memory: another worker may have served the delivery."""
    got = [
        attempt
        for found in rt.store.subscriptions(caller.tenant)
        if found.consumer == DEMO_CONSUMER
        for attempt in rt.metrics.activity.attempts(found.id, per_page=50).items
        if attempt.outcome == "delivered" and video_id in (None, attempt.video_id)
    ]
    return sorted(got, key=lambda attempt: attempt.attempted_at, reverse=True)


def _handle(raw: str) -> str | None:
    try:
        return normalize_handle(raw) if raw.strip() else None
    except ValidationError:
        return None


def _demo_caller(rt: Runtime) -> Caller:
    return rt.caller_for(DEMO_KEY, None, DEMO_SOURCE)


def _demo_subscription(rt: Runtime, caller: Caller, handle: str) -> Subscription | None:
    for found in rt.store.subscriptions(caller.tenant):
        if found.consumer == DEMO_CONSUMER and found.handle == handle:
            return found
    return None


@dataclasses.dataclass
class Flow:
    """One video's way through the connector, step by step."""

    rt: Runtime
    handle: str
    steps: list[Step] = dataclasses.field(default_factory=list)

    def note(self, title: str, detail: str = "", ok: bool = True) -> None:
        self.steps.append(Step(time.time(), title, detail, ok))

    def run(self) -> list[Step]:
        caller = _demo_caller(self.rt)
        feed = FeedKey(caller.tenant, caller.request_source, DEMO_CONSUMER, self.handle)
        try:
            subscription = self._subscribe(caller)
            self._baseline(caller, feed)
            video_id = self._post()
            self._trigger(caller, feed, video_id)
            if subscription is not None:
                self._webhook(subscription, video_id)
        except ConnectorError as exc:
            self.note("Stopped", f"{exc.message} ({exc.code})", ok=False)
        except _Stop:
            pass
        return self.steps

    def _subscribe(self, caller: Caller) -> Subscription | None:
        target = url_for("console_sandbox.inbox", _external=True)
        found = _demo_subscription(self.rt, caller, self.handle)
        if found is not None and found.target_url == target:
            return found
        if found is not None:  # made by an earlier run, on another port
            self.rt.store.remove_subscription(found.id)
        try:
            made, _ = self.rt.subscriptions.subscribe(
                caller,
                target_url=target,
                handle=self.handle,
                event="new_video",
                consumer=DEMO_CONSUMER,
                provider=None,
            )
        except ConnectorError as exc:
            self.note(
                "No webhook for this demo",
                f"{exc.message} The polling trigger still runs below.",
                ok=False,
            )
            return None
        self.note(
            f"Subscribed a webhook to @{self.handle}",
            f"Subscription {made.id} delivers new videos to this console's demo receiver "
            "(signed per Standard Webhooks); it read the profile's latest videos as its "
            "baseline.",
        )
        return made

    def _baseline(self, caller: Caller, feed: FeedKey) -> None:
        state, _ = self.rt.store.peek(feed, [])
        if state is None:
            self._poll(caller, feed)
            self.note(
                "Started a polling-trigger feed",
                f"The first poll of consumer {DEMO_CONSUMER!r} recorded a baseline and "
                "returned nothing, as a new zap's first poll does.",
            )

    def _post(self) -> str:
        root = self.rt.base_url("dumplingai")
        try:
            answer = httpx.post(
                f"{root}/_sandbox/profiles/{self.handle}/videos",
                json={"description": "Posted from the operator console #sandbox"},
                timeout=5,
            )
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            self.note("Could not post on the sandbox", type(exc).__name__, ok=False)
            raise _Stop from exc
        video_id = str(answer.json()["id"])
        self.note(f"Posted video {video_id} on @{self.handle}", "on the sandbox upstream")
        return video_id

    def _poll(self, caller: Caller, feed: FeedKey) -> list[dict[str, t.Any]]:
        # What POST /v1/triggers/new-video runs.
        return new_video.poll(
            self.rt.providers_for(caller),
            self.rt.store,
            feed,
            settings=self.rt.poll_settings,
            arrived=time.monotonic(),
        )

    def _trigger(self, caller: Caller, feed: FeedKey, video_id: str) -> None:
        found = [v["id"] for v in self._poll(caller, feed)]
        self.note(
            "Polling trigger: detected" if video_id in found else "Polling trigger: not seen",
            f"POST /v1/triggers/new-video (consumer {DEMO_CONSUMER!r}) returned "
            f"{len(found)} new video(s): {', '.join(found) or 'none'}.",
            ok=video_id in found,
        )

    def _webhook(self, subscription: Subscription, video_id: str) -> None:
        self.rt.metrics.activity.make_due(subscription.watch)
        report = run_cycle(self.rt.poll_context)
        counts = report.as_dict()
        self.note(
            "Poll cycle ran",
            f"Read {counts['watched']} watched handle(s), queued {counts['queued']} "
            f"delivery(ies), delivered {counts['delivered']}, retrying {counts['retried']}.",
        )
        received = _received(self.rt, _demo_caller(self.rt), video_id)
        if received:
            self.note(
                "Webhook delivered",
                f"The demo receiver got {received[0].webhook_id}; its signature verifies.",
            )
        else:
            self.note(
                "Webhook not delivered yet",
                "See the subscription's delivery history below; the next poll cycle retries.",
                ok=False,
            )


class _Stop(Exception):
    """The flow cannot go on; the last step says why."""
