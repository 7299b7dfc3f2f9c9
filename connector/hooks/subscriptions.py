"""Subscribing a target URL to a handle's new videos, and unsubscribing it."""

from __future__ import annotations

import base64
import os
import secrets
import time
import typing as t

from ..errors import NotFound
from ..store import Observed, Subscription
from ..triggers.new_video import baseline_floor, fetch
from .targets import check_target

if t.TYPE_CHECKING:
    from ..runtime import Caller, Runtime


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def subscribe(
    rt: Runtime,
    caller: Caller,
    *,
    target_url: str,
    handle: str,
    event: str,
    consumer: str | None,
    provider: str | None,
) -> tuple[Subscription, str]:
    """Create a subscription and its feed's baseline; returns it with its signing secret
    (the only time the secret is shown).

    The baseline is read now, so a video posted right after subscribing is delivered, and
    a handle that does not exist fails here rather than in every later poll.

    :raises TargetRefused: for a target the connector will not call.
    :raises NotConfigured: without ``CONNECTOR_SECRET_KEY``.
    :raises ProviderError: when the baseline cannot be read; nothing is stored.
    """
    sealer = rt.sealer
    check_target(target_url, allow_private=rt.settings.allow_private_targets)
    subscription_id = "sub_" + secrets.token_hex(12)
    secret = new_signing_secret()
    now = time.time()
    subscription = Subscription(
        id=subscription_id,
        tenant=caller.tenant,
        platform=caller.request_source,
        provider=provider,
        consumer=consumer or "",
        handle=handle,
        event=event,
        target_url=target_url,
        secret_ciphertext=sealer.seal(secret, f"subscription:{subscription_id}"),
        created_at=now,
    )
    videos = fetch(rt.providers_for(caller), rt.store, [subscription.feed], max_pages=1)
    rt.store.add_subscription(
        subscription,
        tenant_key=sealer.seal(caller.bearer, f"tenant:{caller.tenant}"),
        baseline=[Observed(v["id"], v["created_at_timestamp"]) for v in videos],
        floor=baseline_floor(videos, None),
        now=now,
    )
    return subscription, secret


def owned(rt: Runtime, caller: Caller, subscription_id: str) -> Subscription:
    """The caller's subscription; another tenant's answers exactly as a missing one.

    :raises NotFound:
    """
    subscription = rt.store.subscription(subscription_id)
    if subscription is None or subscription.tenant != caller.tenant:
        raise NotFound(f"No subscription {subscription_id!r}.")
    return subscription


def unsubscribe(rt: Runtime, caller: Caller, subscription_id: str) -> Subscription:
    """Remove the caller's subscription, its pending deliveries and, with the tenant's last
    subscription, its stored key.

    :raises NotFound:
    """
    subscription = owned(rt, caller, subscription_id)
    rt.store.remove_subscription(subscription.id)
    return subscription
