"""Subscribing a target URL to a handle's new videos, and unsubscribing it."""

from __future__ import annotations

import base64
import os
import secrets
import time
import typing as t

from ..errors import NotFound, SubscriptionLimitReached
from ..store import LimitReached, Observed, Subscription
from ..triggers.new_video import baseline_floor, fetch
from .targets import check_target, target_key

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
    :raises SubscriptionLimitReached: when the caller already has
        ``CONNECTOR_MAX_SUBSCRIPTIONS_PER_TENANT`` subscriptions, or
        ``CONNECTOR_MAX_SUBSCRIPTIONS_PER_TARGET`` to this target URL.
    :raises NotConfigured: without ``CONNECTOR_SECRET_KEY``.
    :raises ProviderError: when the baseline cannot be read; nothing is stored.
    """
    sealer = rt.sealer
    settings = rt.settings
    check_target(
        target_url, allow_private=settings.allow_private_targets, timeout=settings.delivery_timeout
    )
    target = target_key(target_url)
    per_tenant = settings.max_subscriptions_per_tenant
    per_target = settings.max_subscriptions_per_target
    # Counted first so that a caller at a limit spends no upstream call; counted again when
    # adding, atomically, so that concurrent calls cannot pass a limit together.
    if rt.store.count_subscriptions(caller.tenant) >= per_tenant:
        raise _limit_reached(LimitReached("tenant", per_tenant))
    if rt.store.count_subscriptions(caller.tenant, target) >= per_target:
        raise _limit_reached(LimitReached("target", per_target))
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
    try:
        rt.store.add_subscription(
            subscription,
            tenant_key=sealer.seal(caller.bearer, f"tenant:{caller.tenant}"),
            baseline=[Observed(v["id"], v["created_at_timestamp"]) for v in videos],
            floor=baseline_floor(videos, None),
            now=now,
            target_key=target,
            max_per_tenant=per_tenant,
            max_per_target=per_target,
        )
    except LimitReached as exc:
        raise _limit_reached(exc) from None
    return subscription, secret


def _limit_reached(exc: LimitReached) -> SubscriptionLimitReached:
    if exc.scope == "tenant":
        message = (
            f"This API key already has {exc.limit} webhook subscriptions, the most this server "
            "allows (CONNECTOR_MAX_SUBSCRIPTIONS_PER_TENANT). Remove ones no longer used "
            "(DELETE /v1/hooks/<id>) before adding another."
        )
    else:
        message = (
            f"This API key already has {exc.limit} webhook subscriptions to this target URL, "
            "the most this server allows (CONNECTOR_MAX_SUBSCRIPTIONS_PER_TARGET; URLs that "
            "differ only in their query string are one target). Remove ones no longer used "
            "(DELETE /v1/hooks/<id>) before adding another."
        )
    return SubscriptionLimitReached(message, details={"scope": exc.scope, "limit": exc.limit})


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
