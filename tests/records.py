"""Store records a test puts in place directly, without the API."""

from __future__ import annotations

import typing as t

from connector.store import Observed, Store, Subscription


def subscription(
    sub_id: str, tenant: str = "tenant-a", handle: str = "creator", provider: str | None = None
) -> Subscription:
    return Subscription(
        id=sub_id,
        tenant=tenant,
        platform="ZAPIER",
        provider=provider,
        consumer="",
        handle=handle,
        event="new_video",
        target_url="https://example.com/hook",
        secret_ciphertext=b"\x01sealed-secret",
        created_at=1000.0,
    )


def add(store: Store, sub: Subscription, baseline: t.Sequence[Observed] = ()) -> None:
    store.add_subscription(sub, tenant_key=b"\x01sealed-key", baseline=baseline, floor=0, now=1.0)
