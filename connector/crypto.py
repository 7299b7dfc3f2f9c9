"""Sealing secrets at rest: authenticated encryption under a key derived from a setting.

AES-256-GCM (``cryptography``) with a key derived by HKDF-SHA256 from ``CONNECTOR_SECRET_KEY``.
Each blob is bound to a context string (what it belongs to), so a sealed key cannot be
moved to another tenant's row and still open.

The store keeps a check value sealed with the key: start-up opens it (:func:`check_secret_key`)
and refuses a key other than the store's, instead of failing every delivery later. With
``CONNECTOR_SECRET_KEY_PREVIOUS`` the old key still opens what it sealed, and start-up
re-seals all of that with the new one (key rotation).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import typing as t

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ConfigError, ConnectorError

if t.TYPE_CHECKING:
    from .store import Sealed, Store

log = logging.getLogger("connector.crypto")

MIN_SECRET_LENGTH = 32
#: Least entropy a key must show by its character frequencies (32 random hex digits: ~115).
MIN_SECRET_BITS = 80
KEY_CHECK_CONTEXT = "key-check"
_KEY_CHECK_TEXT = "tiktok-connector: this store's secrets are sealed with this key"
_VERSION = b"\x01"
_GENERATE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


class SealError(ConnectorError):
    """A blob that does not open: wrong secret key, wrong context, or tampered with."""

    code = "sealed_value_unreadable"


def key_weakness(key: str) -> str | None:
    """Why ``key`` is too weak to seal with, or None if it will do.

    The rule catches mistakes (placeholders, repeated characters), it does not measure
    strength: at least 32 characters, not one shorter sequence repeated (``aaaa…``,
    ``abab…``, ``changemechangeme…``), and at least 80 bits by an estimate from its
    character frequencies (length × Shannon entropy per character).
    """
    if len(key) < MIN_SECRET_LENGTH:
        return f"it must be at least {MIN_SECRET_LENGTH} characters"
    for period in range(1, len(key) // 2 + 1):
        if key == (key[:period] * (len(key) // period + 1))[: len(key)]:
            return "it repeats a shorter sequence"
    counts = collections.Counter(key).values()
    bits = -sum(n * math.log2(n / len(key)) for n in counts)
    if bits < MIN_SECRET_BITS:
        return "it uses too few different characters, too unevenly"
    return None


def _aead(secret_key: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"tiktok-connector",
        info=b"tiktok-connector/seal/v1",
    ).derive(secret_key.encode())
    return AESGCM(key)


class Sealer:
    """Seals with the current key; opens with it or with the previous one, if given.

    :raises ConfigError: for a weak current key (see :func:`key_weakness`). The previous
        key is not judged: rotating is how a weak key is replaced.
    """

    def __init__(self, secret_key: str, previous: str | None = None) -> None:
        weakness = key_weakness(secret_key)
        if weakness is not None:
            raise ConfigError(
                f"CONNECTOR_SECRET_KEY is too weak: {weakness}. Generate one with {_GENERATE}"
                " (and if secrets were sealed with the current key, give that one as "
                "CONNECTOR_SECRET_KEY_PREVIOUS)."
            )
        self._current = _aead(secret_key)
        self._previous = _aead(previous) if previous else None

    @property
    def rotating(self) -> bool:
        """Whether a previous key was given."""
        return self._previous is not None

    def seal(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._current.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, blob: bytes, context: str) -> str:
        """The plaintext of ``blob``, sealed with the current or the previous key.

        :raises SealError: when neither key opens it in this context.
        """
        return self._open(blob, context)[0]

    def opener(self, blob: bytes, context: str) -> str | None:
        """Which key opens ``blob``: ``"current"``, ``"previous"``, or None."""
        try:
            return self._open(blob, context)[1]
        except SealError:
            return None

    def reseal(self, blob: bytes, context: str) -> bytes | None:
        """``blob`` sealed again with the current key, or None if it already is.

        :raises SealError: when neither key opens it.
        """
        plaintext, key = self._open(blob, context)
        return None if key == "current" else self.seal(plaintext, context)

    def key_check(self) -> bytes:
        """A fresh check value, sealed with the current key."""
        return self.seal(_KEY_CHECK_TEXT, KEY_CHECK_CONTEXT)

    def _open(self, blob: bytes, context: str) -> tuple[str, str]:
        if blob[:1] != _VERSION or len(blob) < 29:
            raise SealError("Unknown sealed format.")
        keys = [("current", self._current)]
        if self._previous is not None:
            keys.append(("previous", self._previous))
        for name, aead in keys:
            try:
                return aead.decrypt(blob[1:13], blob[13:], context.encode()).decode(), name
            except InvalidTag:
                continue
        raise SealError("The sealed value does not open with this secret key.")


@dataclasses.dataclass(frozen=True)
class KeyCheck:
    """What :func:`check_secret_key` did."""

    resealed: int = 0  # values sealed again with the current key
    unreadable: int = 0  # values neither key opens (left as they are)
    adopted: bool = False  # nothing was sealed, so a new key simply took over


def _context(value: Sealed) -> str:
    # How subscriptions.py seals them: "tenant:<tenant>", "subscription:<id>".
    return f"{value.kind}:{value.owner}"


def check_secret_key(store: Store, sealer: Sealer) -> KeyCheck:
    """Make sure the store's secrets open with ``sealer``'s key, at start-up.

    The store's check value (or, in a store from before it, its sealed values) must open
    with the current or the previous key. With a previous key, everything it sealed is
    sealed again with the current one, in one transaction. A store with nothing sealed
    takes any key.

    :raises ConfigError: when neither key is the one the store's secrets were sealed with;
        the message names the settings, never a key.
    """
    for _ in range(3):  # another worker starting at once may write the check value first
        check = store.key_check()
        opener = None if check is None else sealer.opener(check, KEY_CHECK_CONTEXT)
        if opener == "current" and not sealer.rotating:
            return KeyCheck()  # the usual start: one row read
        values = store.sealed_values()
        if check is None:
            # A store from before the check value: the first of its values that opens tells
            # (an empty store takes any key).
            opener = "current" if not values else None
            for value in values:
                opener = sealer.opener(value.blob, _context(value))
                if opener is not None:
                    break
        if opener is None:
            if values:
                raise ConfigError(_wrong_key(sealer))
            if store.put_key_check(sealer.key_check(), replacing=check):
                log.warning(
                    "CONNECTOR_SECRET_KEY changed while nothing was sealed: the new key is "
                    "now this store's."
                )
                return KeyCheck(adopted=True)
            continue
        if not sealer.rotating and opener == "current":  # no check value yet
            if store.put_key_check(sealer.key_check(), replacing=None):
                return KeyCheck()
            continue
        changes: list[tuple[Sealed, bytes]] = []
        unreadable = 0
        for value in values:
            try:
                blob = sealer.reseal(value.blob, _context(value))
            except SealError:
                unreadable += 1
                continue
            if blob is not None:
                changes.append((value, blob))
        if changes or opener != "current" or check is None:
            store.reseal(changes, sealer.key_check())
        if changes:
            log.info("re-sealed %d stored secrets with the new CONNECTOR_SECRET_KEY", len(changes))
        if unreadable:
            log.warning(
                "%d stored secrets open with neither CONNECTOR_SECRET_KEY nor "
                "CONNECTOR_SECRET_KEY_PREVIOUS; their subscriptions cannot be delivered",
                unreadable,
            )
        return KeyCheck(resealed=len(changes), unreadable=unreadable)
    raise ConfigError("The store's key check value kept changing during start-up; start again.")


def _wrong_key(sealer: Sealer) -> str:
    which = (
        "Neither CONNECTOR_SECRET_KEY nor CONNECTOR_SECRET_KEY_PREVIOUS is"
        if sealer.rotating
        else "CONNECTOR_SECRET_KEY is not"
    )
    return (
        f"{which} the key this store's webhook secrets and stored API keys were sealed "
        "with: no subscription could be polled or delivered. Start with the key they were "
        "sealed with. To change keys, set the new one as CONNECTOR_SECRET_KEY and the old "
        "one as CONNECTOR_SECRET_KEY_PREVIOUS: start-up then re-seals everything with the "
        "new key."
    )
