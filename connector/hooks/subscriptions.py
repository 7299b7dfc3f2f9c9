"""Subscribing a target URL to a handle's new videos, and unsubscribing it."""

from __future__ import annotations

import base64
import os
import secrets
import time
import typing as t

from ..errors import NotConfigured, NotFound, SubscriptionLimitReached
from ..store import LimitReached, Observed, Subscription
from ..triggers.new_video import baseline_floor, read_handle
from .targets import check_target, target_key

if t.TYPE_CHECKING:
    from ..callers import Caller
    from ..config import Settings
    from ..crypto import Sealer
    from ..store import Store
    from ..upstream import ProviderFactory


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def require_sealer(sealer: Sealer | None) -> Sealer:
    """The sealer that keeps subscribers' keys and signing secrets at rest.

    :raises NotConfigured: without one (``CONNECTOR_SECRET_KEY`` is not set).
    """
    if sealer is None:
        raise NotConfigured(
            "Instant triggers are not enabled on this server: set CONNECTOR_SECRET_KEY "
            "(32 or more characters) to let it keep your key for polling."
        )
    return sealer


class Subscriptions:
    """A caller's webhook subscriptions: created with a baseline read upstream, looked up
    and removed only by their own tenant.

    :param sealer: ``None`` without ``CONNECTOR_SECRET_KEY``; subscribing then fails.
    :param providers: reads the baseline with the caller's keys.
    :param settings: the target checks (private targets, timeout) and the subscription limits.
    """

    def __init__(
        self,
        store: Store,
        sealer: Sealer | None,
        providers: ProviderFactory,
        settings: Settings,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.providers = providers
        self.settings = settings

    def subscribe(
        self,
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
        sealer = require_sealer(self.sealer)
        settings = self.settings
        check_target(
            target_url,
            allow_private=settings.allow_private_targets,
            timeout=settings.delivery_timeout,
        )
        target = target_key(target_url)
        per_tenant = settings.max_subscriptions_per_tenant
        per_target = settings.max_subscriptions_per_target
        # Counted first so that a caller at a limit spends no upstream call; counted again when
        # adding, atomically, so that concurrent calls cannot pass a limit together.
        if self.store.count_subscriptions(caller.tenant) >= per_tenant:
            raise _limit_reached(LimitReached("tenant", per_tenant))
        if self.store.count_subscriptions(caller.tenant, target) >= per_target:
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
        videos = read_handle(
            self.providers.for_caller(caller), self.store, [subscription.feed], max_pages=1
        ).videos
        try:
            self.store.add_subscription(
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

    def owned(self, caller: Caller, subscription_id: str) -> Subscription:
        """The caller's subscription; another tenant's answers exactly as a missing one.

        :raises NotFound:
        """
        subscription = self.store.subscription(subscription_id)
        if subscription is None or subscription.tenant != caller.tenant:
            raise NotFound(f"No subscription {subscription_id!r}.")
        return subscription

    def unsubscribe(self, caller: Caller, subscription_id: str) -> Subscription:
        """Remove the caller's subscription, its pending deliveries and, with the tenant's last
        subscription, its stored key.

        :raises NotFound:
        """
        subscription = self.owned(caller, subscription_id)
        self.store.remove_subscription(subscription.id)
        return subscription


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
