from __future__ import annotations

import pytest

from connector.callers import tenant_for
from connector.platforms import UnknownRequestSource, request_source_for


@pytest.mark.parametrize(
    ("explicit", "user_agent", "expected"),
    [
        (None, "Zapier", "ZAPIER"),
        (None, "Make/production", "MAKE_DOT_COM"),
        (None, "Integromat/production", "MAKE_DOT_COM"),
        (None, "n8n", "N8N"),
        (None, "n8n/1.62.1", "N8N"),
        (None, "Mozilla/5.0 (compatible; n8n/2.41.1; +https://n8n.io/)", "N8N"),
        (None, "curl/8.4.0", "API"),
        (None, None, "API"),
        (None, "Mozilla/5.0 (Macintosh) Safari/605.1.15", "API"),
        ("ZAPIER", "curl/8.4.0", "ZAPIER"),
        ("make_dot_com", None, "MAKE_DOT_COM"),
        (" N8N ", "Zapier", "N8N"),
        ("API", "Zapier", "API"),
        ("", "Zapier", "ZAPIER"),
    ],
)
def test_request_source_prefers_explicit_header_then_user_agent(
    explicit: str | None, user_agent: str | None, expected: str
) -> None:
    assert request_source_for(explicit, user_agent) == expected


@pytest.mark.parametrize("explicit", ["zap", "MAKE", "n8n.io", "INTEGROMAT"])
def test_request_source_outside_the_enum_is_refused(explicit: str) -> None:
    with pytest.raises(UnknownRequestSource, match="MAKE_DOT_COM"):
        request_source_for(explicit, None)


def test_tenant_is_stable_and_does_not_contain_the_key() -> None:
    key = "sk_live_supersecret"
    assert tenant_for(key) == tenant_for(key)
    assert tenant_for(key) != tenant_for(key + "x")
    assert "supersecret" not in tenant_for(key)
    assert len(tenant_for(key)) == 32
