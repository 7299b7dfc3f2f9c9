"""The operator console's pages: overview, watched handles, subscriptions, dead letters,
upstream usage; signing in and out; replaying dead letters; having a handle read at once."""

from __future__ import annotations

import logging
import secrets
import threading
import time
import typing as t
import urllib.parse

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from ..metrics import Tally
from ..providers import PROVIDERS, provider_class
from ..store import WatchKey
from ..store.activity import WATCH_SORTS
from . import auth
from .state import console_state, runtime

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response as AnyResponse

    from ..runtime import Runtime

log = logging.getLogger("connector.console")

blp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
)
blp.before_request(auth.guard(open_endpoints={"console.login"}))
blp.after_request(auth.secure_headers)
blp.context_processor(auth.page_context)

PER_PAGE = 25
USAGE_PER_PAGE = 50
DAY = 86400
RECENT = 3600  # "recent" provider latency and failures: the last hour

# Messages a redirect may ask a page to show; only these, never text from the URL.
NOTICES = {
    "replayed": "Replayed {n} dead letter(s): they are queued again, due now, and being "
    "delivered. Reload to see how it went.",
    "nothing": "Nothing to replay.",
    "made_due": "The handle will be read by the next poll cycle, slowed or backing off as it "
    "was (a read that fails again goes on backing off).",
    "signed_out": "Signed out.",
}


@blp.errorhandler(HTTPException)
def _error(error: HTTPException) -> AnyResponse:
    page = render_template(
        "console/error.html", code=error.code, name=error.name, message=error.description
    )
    return auth.secure_headers(Response(page, error.code or 500))


def _page() -> int:
    raw = request.args.get("page", "1")
    return max(1, min(int(raw), 100_000)) if raw.isdigit() else 1


def _notice() -> str | None:
    template = NOTICES.get(request.args.get("notice", ""))
    if template is None:
        return None
    count = request.args.get("n", "0")
    return template.format(n=int(count) if count.isdigit() else 0)


def _with_notice(target: str, notice: str, **extra: t.Any) -> str:
    parts = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qs(parts.query)
    query.pop("notice", None)
    query.pop("n", None)
    query.update({"notice": [notice], **{k: [str(v)] for k, v in extra.items()}})
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, True)))


# -- signing in -------------------------------------------------------------------------------


@blp.route("/login", methods=["GET", "POST"])
def login() -> AnyResponse:
    if auth.admin_token() is None:
        return Response(render_template("console/closed.html"), 403)
    target = auth.safe_next(request.values.get("next"), url_for(".overview"))
    error, status = None, 200
    if request.method == "POST":
        state, now = console_state(), time.time()
        if state.sign_in_paused(now):
            error, status = "Too many wrong tokens: wait a minute, then try again.", 429
        elif not auth.login_csrf_ok():
            error, status = "The sign-in form expired: try again.", 400
        elif auth.token_matches(request.form.get("token", "")):
            response = redirect(target, 303)
            auth.start_session(response)
            return response
        else:
            state.sign_in_failed(now)
            log.warning("console sign-in refused: wrong admin token from %s", request.remote_addr)
            error, status = "That is not the admin token.", 401
    form_token = secrets.token_urlsafe(24)
    response = Response(
        render_template("console/login.html", error=error, next=target, login_csrf=form_token),
        status,
    )
    auth.login_csrf(response, form_token)
    return response


@blp.post("/logout")
def logout() -> AnyResponse:
    response = redirect(url_for(".login", notice="signed_out"), 303)
    auth.end_session(response)
    return response


# -- pages ------------------------------------------------------------------------------------


@blp.get("/")
def overview() -> str:
    rt = runtime()
    activity, now = rt.metrics.activity, time.time()
    tallies = rt.metrics.providers(now - RECENT)
    providers = [
        {
            "name": name,
            "label": provider_class(name).label,
            "default": name == rt.default_provider,
            "server_key": name in rt.server_keys,
            "tally": tallies.get(name, Tally()),
        }
        for name in PROVIDERS
    ]
    return render_template(
        "console/overview.html",
        section="overview",
        store=rt.store.backend,
        settings=rt.settings,
        outbox=activity.outbox_counts(),
        totals=activity.totals(),
        cycles=activity.cycles(10),
        providers=providers,
        notice=_notice(),
    )


@blp.get("/handles")
def handles() -> str:
    rt = runtime()
    query = request.args.get("q", "").strip()[:100]
    provider = request.args.get("provider", "any")
    if provider not in ("any", "default", *PROVIDERS):
        provider = "any"
    sort = request.args.get("sort", "handle")
    sort = sort if sort in WATCH_SORTS else "handle"
    descending = request.args.get("order") == "desc"
    page = rt.metrics.activity.watches(
        query=query,
        provider=None if provider == "any" else "" if provider == "default" else provider,
        sort=sort,
        descending=descending,
        page=_page(),
        per_page=PER_PAGE,
        now=time.time(),
    )
    return render_template(
        "console/handles.html",
        section="handles",
        page=page,
        query=query,
        provider=provider,
        providers=PROVIDERS,
        default_provider=rt.default_provider,
        sort=sort,
        sorts=list(WATCH_SORTS),
        descending=descending,
        min_gap=rt.settings.poll_min_gap,
        here=request.full_path,
        notice=_notice(),
    )


@blp.post("/handles/due")
def make_due() -> AnyResponse:
    """Have the next poll cycle read one watched handle, however slowed or backing off: once
    the operator knows the account is back, or its credits topped up."""
    key = WatchKey(
        request.form.get("tenant", ""),
        request.form.get("provider", ""),
        request.form.get("handle", ""),
    )
    if not key.tenant or not key.handle:
        abort(400, "Which handle? The form names none.")
    runtime().metrics.activity.make_due(key)
    log.info("console: @%s of tenant %s made due", key.handle, key.tenant[:8])
    back = auth.safe_next(request.form.get("next"), url_for(".handles"))
    return redirect(_with_notice(back, "made_due"), 303)


@blp.get("/subscriptions")
def subscriptions() -> str:
    rt = runtime()
    query = request.args.get("q", "").strip()[:100]
    page = rt.metrics.activity.subscriptions(query=query, page=_page(), per_page=PER_PAGE)
    return render_template(
        "console/subscriptions.html", section="subscriptions", page=page, query=query
    )


@blp.get("/subscriptions/<subscription_id:subscription_id>")
def subscription(subscription_id: str) -> str:
    rt = runtime()
    activity = rt.metrics.activity
    found = activity.subscription(subscription_id)
    if found is None:
        abort(404, f"No subscription {subscription_id}: it may have been removed.")
    return render_template(
        "console/subscription.html",
        section="subscriptions",
        sub=found,
        attempts=activity.attempts(subscription_id, page=_page(), per_page=PER_PAGE),
        pending=activity.queued(status="pending", subscription_id=subscription_id, per_page=10),
        dead=activity.queued(status="dead", subscription_id=subscription_id, per_page=50),
        notice=_notice(),
    )


@blp.get("/dead-letters")
def dead_letters() -> str:
    rt = runtime()
    page = rt.metrics.activity.queued(status="dead", page=_page(), per_page=PER_PAGE)
    return render_template("console/dead_letters.html", section="dead", page=page, notice=_notice())


@blp.post("/dead-letters/replay")
def replay() -> AnyResponse:
    """Replay one dead letter (``id``) or all of a subscription's (``subscription_id``), with
    the store operation the API's replay uses; then deliver them in the background."""
    rt = runtime()
    subscription_id = request.form.get("subscription_id", "")
    if subscription_id:
        ids = rt.metrics.activity.dead_ids(subscription_id)
    else:
        ids = [int(i) for i in request.form.getlist("id") if i.isdigit()]
    count = rt.store.replay(ids, tenant=None, now=time.time()) if ids else 0
    if count:
        log.info("console: replayed %d dead letter(s)", count)
        _deliver_soon(rt)
    back = auth.safe_next(request.form.get("next"), url_for(".dead_letters"))
    return redirect(_with_notice(back, "replayed" if count else "nothing", n=count), 303)


@blp.get("/usage")
def usage() -> str:
    rt = runtime()
    rows: dict[tuple[str, str, str], Tally] = {}
    totals: dict[str, Tally] = {}
    for item in rt.metrics.usage(time.time() - DAY):
        rows.setdefault((item.tenant, item.provider, item.request_source), Tally()).add(item)
        totals.setdefault(item.provider, Tally()).add(item)
    ordered = sorted(rows.items(), key=lambda kv: (-kv[1].calls, kv[0]))
    number = _page()
    pages = max(1, -(-len(ordered) // USAGE_PER_PAGE))
    shown = ordered[(number - 1) * USAGE_PER_PAGE : number * USAGE_PER_PAGE]
    return render_template(
        "console/usage.html",
        section="usage",
        rows=shown,
        totals=sorted(totals.items()),
        number=number,
        pages=pages,
        total=len(ordered),
    )


def _deliver_soon(rt: Runtime) -> None:
    """Attempt every due delivery now, off the request (a slow target must not hold the
    page). Claims keep it from clashing with a poll cycle running at the same time."""

    def deliver() -> None:
        deliverer = rt.deliverer()
        try:
            deliverer.run()
        except Exception:  # a thread of its own: nothing else would see the error
            log.exception("console: delivering replayed dead letters failed")
        finally:
            deliverer.close()

    threading.Thread(target=deliver, name="console-replay", daemon=True).start()
