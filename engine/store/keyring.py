"""Webhook signing secrets, encrypted at rest.

A webhook secret must be readable by the worker (it signs each delivery with it),
so it cannot be hashed like an API key; it is encrypted instead, with Fernet
(AES-128-CBC and HMAC-SHA256, from `cryptography`). Keys come from the environment,
never from the database: `TRANCHE_ENCRYPTION_KEYS`, comma-separated; the first key
encrypts, every key decrypts (MultiFernet), so a new key is put first, `tranche
secrets rotate` re-encrypts every stored secret with it, and the old key is then
dropped.

Without keys nothing is encrypted and nothing is stored in clear either: creating a
webhook answers 503 (`encryption_unconfigured`) and `tranche deliver` refuses to
start. There is no development fallback on purpose: a key derived from something
else (the session secret, a file beside the database) would sit next to what it
protects, or change when the process restarts.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SETTING = "TRANCHE_ENCRYPTION_KEYS"


class KeyringError(Exception):
    """The configured keys cannot be used, or no key can read a stored secret."""


class Keyring:
    """The configured Fernet keys: the first encrypts, all decrypt."""

    def __init__(self, keys: list[str]) -> None:
        fernets = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip()))
            except ValueError as exc:
                raise KeyringError(
                    f"{SETTING}: key {number} of {len(keys)} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes; `tranche secrets new-key` makes one)"
                ) from exc
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_setting(cls, value: object) -> Keyring | None:
        """From the setting's value (comma-separated keys); None when it is empty."""
        keys = [k for k in str(value or "").split(",") if k.strip()]
        return cls(keys) if keys else None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Keyring | None:
        return cls.from_setting(environ.get(SETTING))

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise KeyringError("no configured key can read this secret") from exc

    def rotate(self, token: str) -> str:
        """The same secret, encrypted again with the first key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise KeyringError("no configured key can read this secret") from exc


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")
