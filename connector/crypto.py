"""Sealing secrets at rest: authenticated encryption under a key derived from a setting.

AES-256-GCM (``cryptography``) with a key derived by HKDF-SHA256 from ``CONNECTOR_SECRET_KEY``.
Each blob is bound to a context string (what it belongs to), so a sealed key cannot be
moved to another tenant's row and still open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ConfigError, ConnectorError

MIN_SECRET_LENGTH = 32
_VERSION = b"\x01"


class SealError(ConnectorError):
    """A blob that does not open: wrong secret key, wrong context, or tampered with."""

    code = "sealed_value_unreadable"


class Sealer:
    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"CONNECTOR_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters."
            )
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"tiktok-connector",
            info=b"tiktok-connector/seal/v1",
        ).derive(secret_key.encode())
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, blob: bytes, context: str) -> str:
        if blob[:1] != _VERSION or len(blob) < 29:
            raise SealError("Unknown sealed format.")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], context.encode()).decode()
        except InvalidTag as exc:
            raise SealError("The sealed value does not open with this secret key.") from exc
