"""Encryption at rest: the DuckDB warehouse file and the landed and staged Parquet files.

With a key configured (``SIMPUL_ENCRYPTION_KEY``; under Airflow the password of the connection
``simpul_encryption``; or an owner-only key file named by ``SIMPUL_ENCRYPTION_KEY_FILE``, else
``$SIMPUL_HOME/keys/encryption.key`` when it exists) the hub writes:

* the DuckDB warehouse with DuckDB database encryption (``ATTACH ... (ENCRYPTION_KEY ...)``):
  without the key the file cannot be opened;
* every landed and staged Parquet file with Parquet modular encryption (AES-GCM, footer and all
  columns); the data keys are wrapped in-process with AES-GCM under a key derived from the
  configured one, so no KMS server is needed.

Without a key nothing is encrypted (``simpul doctor`` warns). Files written before a key was
configured stay readable: Parquet readers try the plain form when the file is not encrypted.
Losing the key loses the warehouse and the landing zone: keep it where the pseudonym key is kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simpul.config import ConfigError, lookup_secret

KEY_ENV = "SIMPUL_ENCRYPTION_KEY"
KEY_CONN_ID = "simpul_encryption"
KEY_FILE_ENV = "SIMPUL_ENCRYPTION_KEY_FILE"
MIN_KEY_LENGTH = 32
_MASTER_ID = "simpul"
_PARQUET_MAGIC_ENCRYPTED = b"PARE"

log = logging.getLogger(__name__)
_warned_unsafe = False


def default_key_file() -> Path:
    from simpul.config import home

    return home() / "keys" / "encryption.key"


def encryption_key() -> str | None:
    """The configured key, or None when encryption at rest is off.

    A key shorter than 32 characters, or a key file others can read, is a ConfigError: better
    refuse to run than store a kabupaten's data under a guessable or exposed key.
    """
    value = lookup_secret(KEY_CONN_ID, "password", KEY_ENV) or ""
    origin = KEY_ENV
    if not value:
        named = os.environ.get(KEY_FILE_ENV)
        path = Path(named) if named else default_key_file()
        if not (named or path.exists()):
            return None
        from simpul.securefs import KeyPermissionError, check_key_file

        try:
            check_key_file(path, KEY_FILE_ENV)
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ConfigError(f"{KEY_FILE_ENV}: {path} tidak ada / not found") from None
        except KeyPermissionError as exc:
            raise ConfigError(str(exc)) from None
        origin = str(path)
    if len(value) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"{origin}: kunci enkripsi minimal {MIN_KEY_LENGTH} karakter acak / "
            f"{origin}: the encryption key must be at least {MIN_KEY_LENGTH} random characters"
        )
    return value


def _derived(key: str, purpose: str) -> bytes:
    """A 32-byte key per purpose, so the DuckDB and Parquet keys are never the same bytes."""
    return hmac.new(key.encode(), f"simpul-at-rest:{purpose}".encode(), hashlib.sha256).digest()


def generate_key_file(path: Path | None = None) -> tuple[Path, bool]:
    """Write a random encryption key (owner-only file) unless one exists; (path, created)."""
    from simpul.securefs import create_random_key_file

    return create_random_key_file(path or default_key_file())


# ------------------------------------------------------------------------------------- DuckDB


def duckdb_key(key: str) -> str:
    """The DuckDB ENCRYPTION_KEY string (base64 of the derived key: SQL-safe characters only)."""
    return base64.b64encode(_derived(key, "duckdb")).decode()


def secure_crypto_available(conn: Any) -> bool:
    """True when DuckDB can write encrypted files with OpenSSL (the httpfs extension loads).

    Without it DuckDB only writes encrypted files with its built-in mbedtls after
    ``force_mbedtls_unsafe``: still AES-GCM under the key, but DuckDB does not vouch for the
    randomness of its nonces. ``simpul doctor`` says so; install httpfs to remove the caveat.
    """
    try:
        conn.execute("LOAD httpfs")
        return True
    except Exception:  # noqa: BLE001 - any failure means: no httpfs here
        return False


def attach_encrypted(conn: Any, path: Path, key: str, alias: str = "warehouse") -> None:
    """ATTACH the encrypted warehouse file at ``path`` on a raw DuckDB connection and USE it."""
    global _warned_unsafe
    if not secure_crypto_available(conn):
        conn.execute("SET force_mbedtls_unsafe = 'true'")
        if not _warned_unsafe:
            log.warning(
                "DuckDB httpfs extension not installed: the warehouse is encrypted with DuckDB's "
                "built-in crypto (see simpul doctor)"
            )
            _warned_unsafe = True
    literal = str(path).replace("'", "''")
    conn.execute(f"ATTACH '{literal}' AS \"{alias}\" (ENCRYPTION_KEY '{duckdb_key(key)}')")
    conn.execute(f'USE "{alias}"')


# One in-process database per encrypted file, shared by every engine on it (as duckdb.connect
# shares one instance per path): DuckDB refuses to attach the same file twice in a process.
_shared: dict[str, list[Any]] = {}  # path -> [database, engines using it, key]
_shared_lock = threading.RLock()


def _acquire(name: str, key: str) -> Any:
    import duckdb

    entry = _shared.get(name)
    if entry is None:
        base = duckdb.connect(":memory:")
        try:
            attach_encrypted(base, Path(name), key)
        except BaseException:
            base.close()
            raise
        entry = _shared[name] = [base, 0, duckdb_key(key)]
    elif entry[2] != duckdb_key(key):  # the same file, another key: no sharing past the check
        raise ConfigError(
            f"{Path(name).name}: kunci enkripsi lain dari yang sedang dipakai / "
            f"{Path(name).name}: another encryption key than the one in use"
        )
    entry[1] += 1
    return entry[0]


def _release(name: str) -> None:
    entry = _shared.get(name)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        del _shared[name]
        entry[0].close()


def encrypted_duckdb_engine(path: Path, key: str) -> Any:
    """A SQLAlchemy engine whose connections all read and write the encrypted file ``path``.

    One in-process DuckDB database attaches the file; every pooled connection is a cursor on
    it with the file as its default catalog, so the rest of the hub sees the usual schemas.
    The engine's ``dispose`` closes the database (releasing the file lock, as with a plain
    file); the next connection attaches it again.
    """
    import sqlalchemy as sa
    from duckdb_engine import ConnectionWrapper

    state: dict[str, Any] = {"base": None}
    name = str(path.resolve())

    def database() -> Any:
        with _shared_lock:
            if state["base"] is None:
                state["base"] = _acquire(name, key)
            return state["base"]

    def creator() -> Any:
        cur = database().cursor()
        cur.execute('USE "warehouse"')
        return ConnectionWrapper(cur)

    database()  # fail now (wrong key, lock held) rather than at the first query
    engine = sa.create_engine(
        "duckdb:///:memory:", creator=creator, poolclass=sa.pool.QueuePool, future=True
    )
    original = engine.dispose

    def dispose(close: bool = True) -> None:
        original(close)
        with _shared_lock:
            if state["base"] is not None:
                state["base"] = None
                _release(name)

    engine.dispose = dispose  # type: ignore[method-assign]
    return engine


# ------------------------------------------------------------------------------------ Parquet


def _kms_factory(key: str) -> Any:
    import pyarrow.parquet.encryption as pe
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    wrapping = AESGCM(_derived(key, "parquet-kek"))

    class _InProcessKms(pe.KmsClient):
        """Wraps Parquet data keys with AES-GCM under the configured key (random nonce)."""

        def __init__(self, _config: Any) -> None:
            pe.KmsClient.__init__(self)

        def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
            nonce = os.urandom(12)
            sealed = wrapping.encrypt(nonce, key_bytes, master_key_identifier.encode())
            return base64.b64encode(nonce + sealed).decode()

        def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
            raw = base64.b64decode(wrapped_key)
            return wrapping.decrypt(raw[:12], raw[12:], master_key_identifier.encode())

    return _InProcessKms


@lru_cache(maxsize=4)
def _crypto(key: str) -> tuple[Any, Any]:
    import pyarrow.parquet.encryption as pe

    factory = pe.CryptoFactory(_kms_factory(key))
    return factory, pe.KmsConnectionConfig()


def _encryption_properties(key: str) -> Any:
    import pyarrow.parquet.encryption as pe

    factory, kms = _crypto(key)
    config = pe.EncryptionConfiguration(
        footer_key=_MASTER_ID,
        uniform_encryption=True,
        encryption_algorithm="AES_GCM_V1",
        double_wrapping=False,
        cache_lifetime=timedelta(minutes=10),
        plaintext_footer=False,
    )
    return factory.file_encryption_properties(kms, config)


def _decryption_properties(key: str) -> Any:
    import pyarrow.parquet.encryption as pe

    factory, kms = _crypto(key)
    return factory.file_decryption_properties(
        kms, pe.DecryptionConfiguration(cache_lifetime=timedelta(minutes=10))
    )


def is_encrypted_parquet(path: Path | str) -> bool:
    """True for a Parquet file with an encrypted footer (magic ``PARE``)."""
    with open(path, "rb") as fh:
        return fh.read(4) == _PARQUET_MAGIC_ENCRYPTED


def parquet_writer(path: Path | str, schema: pa.Schema, **kwargs: Any) -> pq.ParquetWriter:
    """A ParquetWriter that encrypts when a key is configured."""
    key = encryption_key()
    if key:
        kwargs["encryption_properties"] = _encryption_properties(key)
    return pq.ParquetWriter(path, schema, **kwargs)


def write_table(table: pa.Table, path: Path | str, **kwargs: Any) -> None:
    """``pq.write_table`` that encrypts when a key is configured."""
    with parquet_writer(path, table.schema, **kwargs) as writer:
        writer.write_table(table)


def _read_kwargs(path: Path | str) -> dict[str, Any]:
    if not is_encrypted_parquet(path):
        return {}
    key = encryption_key()
    if not key:
        raise ConfigError(
            f"{Path(path).name}: berkas terenkripsi, kunci {KEY_ENV} tidak diatur / "
            f"{Path(path).name}: the file is encrypted and {KEY_ENV} is not set"
        )
    return {"decryption_properties": _decryption_properties(key)}


def read_table(path: Path | str, **kwargs: Any) -> pa.Table:
    """``pq.read_table`` of a plain or encrypted file."""
    return pq.read_table(path, **kwargs, **_read_kwargs(path))


def parquet_file(path: Path | str, **kwargs: Any) -> pq.ParquetFile:
    """``pq.ParquetFile`` of a plain or encrypted file (``kwargs``: e.g. ``pre_buffer``)."""
    return pq.ParquetFile(path, **kwargs, **_read_kwargs(path))


def read_metadata(path: Path | str) -> Any:
    return parquet_file(path).metadata


def key_problem() -> tuple[str, str] | None:
    """(id, en) of what is wrong with a configured encryption key, for ``simpul doctor``."""
    try:
        encryption_key()
    except ConfigError as exc:
        id_, _, en = str(exc).partition(" / ")
        return id_, en or id_
    return None


def warnings() -> list[tuple[str, str]]:
    """(id, en) warnings for ``simpul doctor``: data at rest not (fully) encrypted."""
    try:
        key = encryption_key()
    except ConfigError:
        return []  # reported as a problem by key_problem()
    if not key:
        return [
            (
                f"kunci enkripsi belum diatur ({KEY_ENV} atau `simpul keys init --encryption`): "
                "gudang data, landing dan staging tersimpan tanpa enkripsi",
                f"no encryption key configured ({KEY_ENV} or `simpul keys init --encryption`): "
                "warehouse, landing and staging are stored unencrypted",
            )
        ]
    import duckdb

    con = duckdb.connect()
    try:
        if not secure_crypto_available(con):
            return [
                (
                    "ekstensi DuckDB httpfs tidak terpasang: gudang data dienkripsi dengan kripto "
                    "bawaan DuckDB (mbedtls); pasang httpfs (`INSTALL httpfs`)",
                    "DuckDB httpfs extension not installed: the warehouse is encrypted with "
                    "DuckDB's built-in crypto (mbedtls); install httpfs (`INSTALL httpfs`)",
                )
            ]
    finally:
        con.close()
    return []
