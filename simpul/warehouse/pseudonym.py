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
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from simpul.config import ConfigError, lookup_secret

KEY_ENV = "SIMPUL_PSEUDONYM_KEY"
KEY_CONN_ID = "simpul_pseudonym"
KEY_FILE_ENV = "SIMPUL_PSEUDONYM_KEY_FILE"
MIN_KEY_LENGTH = 32
# Public and therefore worthless as a secret: only for conflict hashes on a laptop.
_DEVELOPMENT_KEY = b"simpul-development-key-not-secret"
# Published in the repository: anyone can reverse pseudonyms made with it by enumerating NIKs.
DEMO_KEY = "simpul-demo-pseudonym-key-not-for-production-use"
PUBLIC_KEYS = frozenset({DEMO_KEY, _DEVELOPMENT_KEY.decode()})

log = logging.getLogger(__name__)
_warned = False
_demo_allowed = False


def allow_demo_key() -> None:
    """Only ``simpul demo`` and the simulators call this: the public demo key is accepted
    in this process from now on (synthetic people only)."""
    global _demo_allowed
    _demo_allowed = True


def default_key_file() -> Path:
    from simpul.config import home

    return home() / "keys" / "pseudonym.key"


def _configured_key() -> tuple[str, str]:
    """(value, where it came from): the environment, the named key file, or the install's
    generated key file; ("", "") when none is configured."""
    value = lookup_secret(KEY_CONN_ID, "password", KEY_ENV) or ""
    if value:
        return value, KEY_ENV
    named = os.environ.get(KEY_FILE_ENV)
    path = Path(named) if named else default_key_file()
    if named or path.exists():
        from simpul.securefs import KeyPermissionError, check_key_file

        try:
            check_key_file(path, KEY_FILE_ENV)
            return path.read_text(encoding="utf-8").strip(), str(path)
        except FileNotFoundError:
            raise ConfigError(f"{KEY_FILE_ENV}: {path} tidak ada / not found") from None
        except KeyPermissionError as exc:  # refused as ssh refuses a private key others can read
            raise ConfigError(str(exc)) from None
    return "", ""


def key_problem() -> tuple[str, str] | None:
    """(id, en) of what is wrong with the configured key, for ``simpul doctor``."""
    try:
        pseudonym_key()
    except ConfigError as exc:
        id_, _, en = str(exc).partition(" / ")
        return (id_, en) if en else (str(exc), str(exc))
    return None


def generate_key_file(path: Path | None = None) -> tuple[Path, bool]:
    """Write a random per-install key (owner-only file) unless one exists; (path, created)."""
    from simpul.securefs import create_random_key_file

    return create_random_key_file(path or default_key_file())


def pseudonym_key() -> bytes:
    """The secret key; marts refuse to build without one, rather than publish guessable ids.

    From ``SIMPUL_PSEUDONYM_KEY``, else ``SIMPUL_PSEUDONYM_KEY_FILE``, else the install's
    ``$SIMPUL_HOME/keys/pseudonym.key`` (``simpul keys init``). The public demo key is refused
    outside ``simpul demo``: it would let anyone reverse the pseudonyms.
    """
    value, origin = _configured_key()
    if value in PUBLIC_KEYS and not _demo_allowed:
        raise ConfigError(
            f"{origin or KEY_ENV} memuat kunci demo publik; buat kunci sendiri dengan "
            "`simpul keys init` / "
            f"{origin or KEY_ENV} holds the public demo key; make your own: `simpul keys init`"
        )
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
