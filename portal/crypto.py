"""Encrypt/decrypt stored secrets with keys from the environment (never from the database).

SUNDIAL_ENCRYPTION_KEYS holds comma-separated Fernet keys, newest first. The first key encrypts;
every key decrypts, so a key can be rotated by prepending a new one, running
`flask sundial rotate-keys`, then dropping the old one.
"""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from .ops.logs import register_secret


def _fernet(keys: list[str] | None = None) -> MultiFernet:
    keys = keys or current_app.config["ENCRYPTION_KEYS"]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt(plaintext: str, keys: list[str] | None = None) -> str:
    register_secret(plaintext)
    return _fernet(keys).encrypt(plaintext.encode()).decode()


def decrypt(token: str, keys: list[str] | None = None) -> str:
    try:
        plaintext = _fernet(keys).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The stored secret cannot be decrypted with the configured SUNDIAL_ENCRYPTION_KEYS.") from exc
    register_secret(plaintext)  # a decrypted secret never reaches a log line (O3)
    return plaintext


def rotate(token: str, keys: list[str] | None = None) -> str:
    return _fernet(keys).rotate(token.encode()).decode()


def fingerprint(*parts: str, keys: list[str] | None = None) -> str:
    """A keyed fingerprint (HMAC-SHA256) of a secret, for recognising it again without storing it (S10: a
    rejected password). The HMAC key is derived from the newest encryption key, so the database alone cannot
    be used to test guesses against it."""
    import hashlib
    import hmac

    newest = (keys or current_app.config["ENCRYPTION_KEYS"])[0]
    key = hashlib.sha256(b"sundial rejected-password fingerprint\x00" + newest.encode()).digest()
    return hmac.new(key, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()


def password_fingerprint(username: str, password: str) -> str:
    """S10: how a rejected password is recognised (it is never stored itself); the user name is part of it."""
    return fingerprint(username.strip().lower(), password)
