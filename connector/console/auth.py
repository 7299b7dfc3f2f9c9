"""Signing in to the console: the operator token, a signed session cookie, CSRF tokens.

The session is a cookie signed with a key derived from ``CONNECTOR_ADMIN_TOKEN`` (so every
worker accepts it, and changing the token signs everyone out). It is HttpOnly, SameSite=Lax,
scoped to ``/console``, Secure when the request came over HTTPS (directly or, per
``X-Forwarded-Proto``, through a proxy), and lasts :data:`SESSION_SECONDS`. It carries the
CSRF token every console form sends back. The sign-in form itself is protected by a
double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import typing as t

from flask import Response, abort, g, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .. import __version__
from .state import runtime

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response as AnyResponse

SESSION_COOKIE = "connector_console"
LOGIN_COOKIE = "connector_console_login"
SESSION_SECONDS = 12 * 3600
PATH = "/console"

# No script, no frames, no other origin; forms post only here.
CONSOLE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def admin_token() -> str | None:
    return runtime().settings.admin_token


def _signer(token: str) -> URLSafeTimedSerializer:
    key = hmac.new(token.encode(), b"connector console session v1", hashlib.sha256).digest()
    return URLSafeTimedSerializer(key, salt="console-session")


def token_matches(given: str) -> bool:
    """Whether ``given`` is the admin token, compared in constant time."""
    token = admin_token()
    if token is None:
        return False
    # Digests have one length, so the comparison says nothing of the token's.
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(token.encode()).digest()
    )


def read_session() -> dict[str, t.Any] | None:
    token, raw = admin_token(), request.cookies.get(SESSION_COOKIE)
    if token is None or not raw:
        return None
    try:
        data = _signer(token).loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("csrf"), str) else None


def _secure() -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


def start_session(response: AnyResponse) -> None:
    token = admin_token()
    assert token is not None
    value = _signer(token).dumps({"csrf": secrets.token_urlsafe(32)})
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path=PATH,
        secure=_secure(),
        httponly=True,
        samesite="Lax",
    )
    response.delete_cookie(LOGIN_COOKIE, path=PATH)


def end_session(response: AnyResponse) -> None:
    response.delete_cookie(SESSION_COOKIE, path=PATH, secure=_secure(), httponly=True)


def login_csrf(response: AnyResponse, value: str) -> None:
    """The sign-in form's double-submit cookie."""
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        max_age=3600,
        path=PATH,
        secure=_secure(),
        httponly=True,
        samesite="Strict",
    )


def login_csrf_ok() -> bool:
    cookie, field = request.cookies.get(LOGIN_COOKIE, ""), request.form.get("csrf", "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), field.encode())


def csrf_token() -> str:
    session = g.get("console_session")
    return t.cast(str, session["csrf"]) if session else ""


def guard(open_endpoints: t.Collection[str] = ()) -> t.Callable[[], t.Any]:
    """A ``before_request`` for console blueprints: closed without an admin token, sign-in
    first, and a valid CSRF token on every POST. ``open_endpoints`` skip the sign-in."""

    def check() -> t.Any:
        if request.endpoint in open_endpoints:
            return None
        if admin_token() is None:
            return Response(render_template("console/closed.html"), 403)
        session = read_session()
        if session is None:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            abort(403, "Sign in first.")
        g.console_session = session
        if request.method == "POST":
            # A browser says when a form comes from another site: refuse it outright.
            if request.headers.get("Sec-Fetch-Site") == "cross-site":
                abort(403, "Cross-site form refused.")
            given = request.form.get("csrf", "")
            if not hmac.compare_digest(given.encode(), session["csrf"].encode()):
                abort(400, "This form has expired: reload the page and try again.")
        return None

    return check


def page_context() -> dict[str, t.Any]:
    """What every console template may use."""
    csrf = csrf_token()
    return {
        "version": __version__,
        "sandbox": runtime().settings.sandbox,
        "signed_in": bool(csrf),
        "csrf": csrf,
        "now": time.time(),
        "page_url": page_url,
    }


def page_url(number: int, **changes: t.Any) -> str:
    """This page's address with another page number (and other query changes)."""
    args: dict[str, t.Any] = {k: v for k, v in request.args.items() if k not in ("notice", "n")}
    args.update({k: str(v) for k, v in changes.items()}, page=str(number))
    return url_for(t.cast(str, request.endpoint), **(request.view_args or {}), **args)


def secure_headers(response: AnyResponse) -> AnyResponse:
    """Console pages are private and never cached, framed or given a script."""
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def safe_next(target: str | None, default: str) -> str:
    """Where to go after a form: only back into the console, never another site."""
    if target and target.startswith(PATH + "/") and not target.startswith("//"):
        if "\\" not in target and "\n" not in target and "\r" not in target:
            return target
    return default
