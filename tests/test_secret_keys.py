"""CONNECTOR_SECRET_KEY: weak keys refused, a wrong key refused at start-up, key rotation."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import typing as t
import uuid

import pytest
from click.testing import CliRunner

from connector.cli import cli
from connector.crypto import Sealer, SealError, key_weakness
from connector.errors import ConfigError
from connector.hooks.poller import run_cycle
from connector.sandbox import World, base_urls
from connector.serving import BackgroundServer

from .conftest import KEY, subscribe
from .receiver import Receiver

OLD = "old-secret-key-0b8e41f7c92d5a36e1f4"
NEW = "new-secret-key-9a2f7c1e04b86d53f0ce"
SETTINGS = {"ALLOW_PRIVATE_TARGETS": True, "POLL_MIN_GAP": 0, "DELIVERY_FIRST_RETRY": 0.01}


@pytest.mark.parametrize(
    "key",
    [
        "s" * 40,  # one character
        "ab" * 20,  # a short sequence repeated
        "changeme" * 5,
        "a" * 31 + "b",  # not periodic, but next to no entropy
        "aaaaaaaabbbbbbbbaaaaaaaabbbbbbbbcc",
        # random, but too short; a fixed id, so that every pytest-xdist worker collects it
        pytest.param(secrets.token_hex(10), id="random-20-hex-digits"),
    ],
)
def test_a_weak_secret_key_stops_start_up_without_being_shown(make_app: t.Any, key: str) -> None:
    with pytest.raises(ConfigError, match="CONNECTOR_SECRET_KEY is too weak") as refused:
        make_app(SECRET_KEY=key)
    assert key not in str(refused.value)


def test_a_secret_key_of_blanks_stops_start_up(make_app: t.Any) -> None:
    with pytest.raises(ConfigError, match="CONNECTOR_SECRET_KEY: a secret made of blanks"):
        make_app(SECRET_KEY=" " * 32)


def test_generated_keys_are_never_judged_weak() -> None:
    generated = [secrets.token_hex(16) for _ in range(2000)]
    generated += [secrets.token_urlsafe(24) for _ in range(2000)]
    generated += [str(uuid.uuid4()) for _ in range(2000)]
    assert [key for key in generated if key_weakness(key)] == []


def test_a_previous_key_alone_is_refused(make_app: t.Any) -> None:
    with pytest.raises(ConfigError, match="without CONNECTOR_SECRET_KEY"):
        make_app(SECRET_KEY_PREVIOUS=OLD)


def test_a_wrong_key_is_refused_at_start_up_and_the_store_is_left_as_it_was(
    make_app: t.Any,
    world: World,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
) -> None:
    subscribe(make_app(**SETTINGS, SECRET_KEY=OLD), receiver, receiver_server[1].url, "wrong")
    for attempt in ({"SECRET_KEY": NEW}, {"SECRET_KEY": NEW, "SECRET_KEY_PREVIOUS": NEW + "x"}):
        with pytest.raises(ConfigError, match="sealed with") as refused:
            make_app(**SETTINGS, **attempt)
        assert NEW not in str(refused.value) and OLD not in str(refused.value)
        assert "CONNECTOR_SECRET_KEY_PREVIOUS" in str(refused.value), "says how to rotate"
    video = world.post_video("creator")
    report = run_cycle(make_app(**SETTINGS, SECRET_KEY=OLD).extensions["connector"].poll_context)
    assert report.delivery.delivered == 1
    assert [b["id"] for b in receiver.bodies("wrong")] == [video.id]


def test_rotation_reseals_everything_and_deliveries_keep_their_signing_secret(
    make_app: t.Any,
    any_db_url: str,
    world: World,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = {**SETTINGS, "DATABASE_URL": any_db_url}
    old = make_app(**settings, SECRET_KEY=OLD)
    subscribe(old, receiver, receiver_server[1].url, "rotated")
    old.extensions["connector"].close()

    rotating = make_app(**settings, SECRET_KEY=NEW, SECRET_KEY_PREVIOUS=OLD)
    rt = rotating.extensions["connector"]
    assert rt.key_check.resealed == 2, "the tenant's key and the signing secret"
    for value in rt.store.sealed_values():
        context = f"{value.kind}:{value.owner}"
        Sealer(NEW).open(value.blob, context)
        with pytest.raises(SealError):
            Sealer(OLD).open(value.blob, context)
    video = world.post_video("creator")
    assert run_cycle(rt.poll_context).delivery.delivered == 1
    (delivered,) = receiver.all("rotated")
    assert delivered.verified, "signed with the secret given at subscribe time"
    assert delivered.body["id"] == video.id
    rt.close()

    again = make_app(**settings, SECRET_KEY=NEW, SECRET_KEY_PREVIOUS=OLD)
    assert again.extensions["connector"].key_check.resealed == 0
    again.extensions["connector"].close()
    make_app(**settings, SECRET_KEY=NEW).extensions["connector"].close()
    with pytest.raises(ConfigError, match="CONNECTOR_SECRET_KEY is not the key"):
        make_app(**settings, SECRET_KEY=OLD)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert OLD not in logged and NEW not in logged and KEY not in logged


def test_a_store_from_before_the_check_value_is_judged_by_its_sealed_values(
    make_app: t.Any,
    db_url: str,
    world: World,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
) -> None:
    subscribe(make_app(**SETTINGS, SECRET_KEY=OLD), receiver, receiver_server[1].url, "legacy")
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("DELETE FROM key_check")
    with pytest.raises(ConfigError, match="CONNECTOR_SECRET_KEY is not the key"):
        make_app(**SETTINGS, SECRET_KEY=NEW)
    rt = make_app(**SETTINGS, SECRET_KEY=OLD).extensions["connector"]
    assert rt.store.key_check() is not None, "written back once a sealed value opened"


def test_a_new_key_takes_over_a_store_with_nothing_sealed(make_app: t.Any) -> None:
    make_app(**SETTINGS, SECRET_KEY=OLD)
    rt = make_app(**SETTINGS, SECRET_KEY=NEW).extensions["connector"]
    assert rt.key_check.adopted
    assert make_app(**SETTINGS, SECRET_KEY=NEW).extensions["connector"].key_check.adopted is False


def test_rotate_key_command_reseals_and_says_how_many(
    make_app: t.Any,
    db_url: str,
    sandbox_url: str,
    receiver: Receiver,
    receiver_server: tuple[Receiver, BackgroundServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscribe(make_app(**SETTINGS, SECRET_KEY=OLD), receiver, receiver_server[1].url, "cli")
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)
    for name, value in base_urls(sandbox_url).items():
        monkeypatch.setenv(f"CONNECTOR_{name}", value)
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", NEW)
    refused = CliRunner().invoke(cli, ["rotate-key"])
    assert refused.exit_code == 1 and "CONNECTOR_SECRET_KEY_PREVIOUS" in refused.output
    assert NEW not in refused.output
    monkeypatch.setenv("CONNECTOR_SECRET_KEY_PREVIOUS", OLD)
    rotated = CliRunner().invoke(cli, ["rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    assert rotated.output.strip().splitlines()[-1] == "resealed=2 unreadable=0"
    assert OLD not in rotated.output and NEW not in rotated.output
