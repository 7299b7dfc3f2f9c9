"""Settings are parsed once, by type, and a value that does not parse stops start-up."""

from __future__ import annotations

import typing as t

import pytest

from connector import create_app
from connector.config import Settings
from connector.errors import ConfigError

from .conftest import KEY


@pytest.mark.parametrize("spelling", ["False", "false", "FALSE", "0", "no", "No", "off", " OFF "])
def test_false_in_any_usual_spelling_keeps_the_ssrf_guard_on(
    spelling: str, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    # "False" is not JSON: read as text, bool("False") was True and switched the guard off.
    monkeypatch.setenv("CONNECTOR_ALLOW_PRIVATE_TARGETS", spelling)
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", "settings-test-secret-key-5b2d9f0e7a14c6")
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)
    app = create_app()
    assert app.extensions["connector"].settings.allow_private_targets is False
    response = app.test_client().post(
        "/v1/hooks",
        json={"target_url": "http://127.0.0.1:9/hook", "handle": "creator"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 400 and response.json is not None
    assert response.json["code"] == "target_refused"


@pytest.mark.parametrize("spelling", ["True", "true", "1", "yes", "ON"])
def test_true_in_any_usual_spelling(spelling: str) -> None:
    settings = Settings.load(environ={"CONNECTOR_ALLOW_PRIVATE_TARGETS": spelling})
    assert settings.allow_private_targets is True


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ALLOW_PRIVATE_TARGETS", "nope", "true or false"),
        ("ALLOW_PRIVATE_TARGETS", "", "true or false"),
        ("UPSTREAM_TIMEOUT", "soon", "a number"),
        ("UPSTREAM_TIMEOUT", "nan", "finite"),
        ("UPSTREAM_TIMEOUT", "0", "at least"),
        ("POLL_INTERVAL", "-1", "at least 0"),
        ("BACKFILL_MAX_PAGES", "2.5", "whole number"),
        ("LOG_LEVEL", "LOUD", "one of DEBUG"),
        ("DUMPLINGAI_BASE_URL", "app.dumplingai.com", "http:// or https://"),
        ("PROVIDER", "nope", "known providers"),
        ("DATABASE_URL", " ", "must not be empty"),
    ],
)
def test_a_value_that_does_not_parse_stops_start_up_naming_the_variable(
    variable: str, value: str, says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.load(environ={f"CONNECTOR_{variable}": value})
    assert f"CONNECTOR_{variable}" in str(raised.value)
    assert says in str(raised.value)


def test_text_is_parsed_by_type_and_overrides_win() -> None:
    settings = Settings.load(
        {"POLL_BATCH": 7},
        environ={
            "CONNECTOR_UPSTREAM_TIMEOUT": "2.5",
            "CONNECTOR_POLL_BATCH": "3",
            "CONNECTOR_LOG_LEVEL": "debug",
            "CONNECTOR_ACCESS_TOKENS": '["a", "b"]',
            "CONNECTOR_PROVIDER_ORDER": "apidirect, byhandle",
            "CONNECTOR_APIDIRECT_BASE_URL": "https://proxy.example.com/",
            "CONNECTOR_BYHANDLE_API_KEY": "server-key",
            "OTHER": "ignored",
        },
    )
    assert settings.upstream_timeout == 2.5
    assert settings.poll_batch == 7
    assert settings.log_level == "DEBUG"
    assert settings.access_tokens == ("a", "b")
    assert settings.provider_order == ("apidirect", "byhandle")
    assert settings.base_urls == {"apidirect": "https://proxy.example.com"}
    assert settings.api_keys == {"byhandle": "server-key"}


def test_settings_are_frozen_and_keep_secrets_out_of_their_repr() -> None:
    settings = Settings.load(
        environ={"CONNECTOR_SECRET_KEY": "k" * 40, "CONNECTOR_DUMPLINGAI_API_KEY": "sk_live_1"}
    )
    with pytest.raises(AttributeError):
        settings.poll_batch = 1  # type: ignore[misc]
    assert "kkkk" not in repr(settings) and "sk_live_1" not in repr(settings)


def test_a_bad_secret_is_named_but_not_shown(db_url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        create_app({"DATABASE_URL": db_url, "ACCESS_TOKENS": '["unterminated'})
    assert "CONNECTOR_ACCESS_TOKENS" in str(raised.value)
    assert "unterminated" not in str(raised.value)


def test_typed_values_from_code_are_checked_too(db_url: str) -> None:
    with pytest.raises(ConfigError, match="CONNECTOR_ALLOW_PRIVATE_TARGETS"):
        create_app({"DATABASE_URL": db_url, "ALLOW_PRIVATE_TARGETS": "maybe"})
    app: t.Any = create_app({"DATABASE_URL": db_url, "POLL_BUDGET": 10})
    assert app.extensions["connector"].settings.poll_budget == 10.0
