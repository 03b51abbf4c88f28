"""Keyed pseudonyms and value hashes, so marts and ops tables never carry NIK or other values.

A plain hash of a NIK can be reversed by trying every plausible NIK (the structure leaves few
millions per birth date and region), so pseudonyms are HMAC-SHA256 under a secret key that only
the hub holds: ``SIMPUL_PSEUDONYM_KEY`` (under Airflow: the password of the connection
``simpul_pseudonym``, if there is one). Rotating the key changes every pseudonym (see
docs/warehouse.md).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, date, datetime
from typing import Any

from simpul.config import ConfigError, lookup_secret

KEY_ENV = "SIMPUL_PSEUDONYM_KEY"
KEY_CONN_ID = "simpul_pseudonym"
MIN_KEY_LENGTH = 32
# Public and therefore worthless as a secret: only for conflict hashes on a laptop.
_DEVELOPMENT_KEY = b"simpul-development-key-not-secret"

log = logging.getLogger(__name__)
_warned = False


def pseudonym_key() -> bytes:
    """The secret key; marts refuse to build without one, rather than publish guessable ids."""
    value = lookup_secret(KEY_CONN_ID, "password", KEY_ENV) or ""
    if len(value) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"set {KEY_ENV} to a random secret of at least {MIN_KEY_LENGTH} characters "
            f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) / "
            f"isi {KEY_ENV} dengan rahasia acak minimal {MIN_KEY_LENGTH} karakter"
        )
    return value.encode()


def hashing_key() -> bytes:
    """Key for ops value hashes: the pseudonym key, or a public development key (warned once)."""
    global _warned
    try:
        return pseudonym_key()
    except ConfigError:
        if not _warned:
            log.warning("%s not set: conflict value hashes use the development key", KEY_ENV)
            _warned = True
        return _DEVELOPMENT_KEY


def pseudonymise(value: str | None, key: bytes, purpose: str = "nik") -> str | None:
    """HMAC-SHA256 of ``purpose``:``value`` (hex); the purpose keeps NIK and KK ids unlinkable."""
    if value is None:
        return None
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A short fingerprint telling which key generation made a pseudonym (reveals nothing)."""
    return hmac.new(key, b"simpul-key-id", hashlib.sha256).hexdigest()[:8]


def canonical(value: Any) -> str | None:
    """A stable text form of a warehouse value, the same whichever engine returned it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat() if value.tzinfo is None else value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def value_hash(column: str, value: Any, key: bytes) -> str | None:
    """Short keyed hash of one value: enough to see that sources disagree, not what about."""
    text = canonical(value)
    if text is None:
        return None
    return hmac.new(key, f"{column}:{text}".encode(), hashlib.sha256).hexdigest()[:16]
