"""Where landing, staging, reports and the outbox live: a local folder, a shared mount or
object storage, each addressed by one fsspec URL.

Celery workers on several hosts must see the same deliveries: the extract task lands a delivery
on host A, the transform task reads it on host B. Each area is therefore a :class:`Store` (like a
Dagster resource or dlt's filesystem destination): an fsspec filesystem plus a root URL, set by

==========================  =======================================  ==========================
setting                     default                                  holds
==========================  =======================================  ==========================
``SIMPUL_LANDING_URL``      ``$SIMPUL_HOME/landing``                 sealed raw deliveries
``SIMPUL_STAGING_URL``      ``$SIMPUL_HOME/staging``                 mapped rows, findings
``SIMPUL_REPORTS_URL``      ``$SIMPUL_HOME/reports``                 DQ reports, Data Docs
``SIMPUL_OUTBOX_URL``       ``$SIMPUL_HOME/outbox``                  signed exchange deliveries
==========================  =======================================  ==========================

A local path (or a shared mount such as NFS) is used in place, exactly as before: fsync, rename,
read-only files, ``flock`` run locks, encryption at rest. A remote URL (``s3://bucket/prefix``,
``sftp://host/path``) keeps a local *working copy* under ``$SIMPUL_HOME/cache/<area>``: every
file is written there first (streamed, never held in memory; Parquet encrypted at rest as
before), then published with :meth:`Store.publish`, which uploads the data files and writes the
folder's *commit file* (a landed delivery's ``_manifest.json``, a staging folder's
``summary.json``) last. On S3 a single PUT is atomic, so a delivery is visible to other hosts
complete or not at all, the same guarantee the local rename gives. A task on another host calls
:meth:`Store.fetch`, which downloads a committed folder into its own working copy (each file to
``*.partial``, then renamed; the commit file last), after which the code reads local files as on
one host. A resumable pull (:mod:`simpul.landing_resume`) uploads each page and then its
progress record, so a retry on another host continues after the last landed page.

Credentials never appear in a URL: S3 keys come from the Airflow connection ``simpul_storage``
(login = access key id, password = secret key, host / extra ``url`` = endpoint) or from
``SIMPUL_STORAGE_KEY_ID`` / ``SIMPUL_STORAGE_SECRET`` / ``SIMPUL_STORAGE_ENDPOINT_URL``, else
boto's usual chain (``AWS_*`` variables, instance role). ``SIMPUL_STORAGE_SSE`` (``AES256`` or
``aws:kms``) asks the server to encrypt objects at rest. SFTP (stores and drop folders): user
name in the URL, key file ``SIMPUL_SFTP_KEY_FILE``, host keys ``SIMPUL_SFTP_KNOWN_HOSTS``,
password (if any) from the connection ``simpul_sftp`` or ``SIMPUL_SFTP_PASSWORD``.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from simpul.config import ConfigError, home, lookup_secret

log = logging.getLogger(__name__)

Area = Literal["landing", "staging", "reports", "outbox"]
AREAS: tuple[Area, ...] = ("landing", "staging", "reports", "outbox")
STORAGE_CONN_ID = "simpul_storage"
SFTP_CONN_ID = "simpul_sftp"
_LOCAL = ("file", "local")

# the settings (constants, so tests/test_compose.py sees that the stack must pass them)
LANDING_URL_ENV = "SIMPUL_LANDING_URL"
STAGING_URL_ENV = "SIMPUL_STAGING_URL"
REPORTS_URL_ENV = "SIMPUL_REPORTS_URL"
OUTBOX_URL_ENV = "SIMPUL_OUTBOX_URL"
AREA_ENV: dict[str, str] = {
    "landing": LANDING_URL_ENV,
    "staging": STAGING_URL_ENV,
    "reports": REPORTS_URL_ENV,
    "outbox": OUTBOX_URL_ENV,
}
KEY_ID_ENV = "SIMPUL_STORAGE_KEY_ID"
SECRET_ENV = "SIMPUL_STORAGE_SECRET"
ENDPOINT_ENV = "SIMPUL_STORAGE_ENDPOINT_URL"
SSE_ENV = "SIMPUL_STORAGE_SSE"
SFTP_KEY_FILE_ENV = "SIMPUL_SFTP_KEY_FILE"
SFTP_KNOWN_HOSTS_ENV = "SIMPUL_SFTP_KNOWN_HOSTS"
SFTP_PASSWORD_ENV = "SIMPUL_SFTP_PASSWORD"


def area_url(area: Area) -> str:
    """The configured root URL of ``area`` (``SIMPUL_<AREA>_URL``) or its default folder."""
    value = os.environ.get(AREA_ENV[area], "").strip()
    if not value:
        return str(home() / area)
    if "://" not in value and not value.startswith("/"):
        return str(home() / value)  # relative paths are under SIMPUL_HOME, as drop folders
    return value


def is_remote(url: str) -> bool:
    return "://" in url and url.split("://", 1)[0] not in _LOCAL


def redact(url: str) -> str:
    """``url`` without any ``user:password@`` part, for logs and error messages."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def storage_options(url: str) -> dict[str, Any]:
    """fsspec options for ``url``'s protocol, credentials resolved from Airflow connections or
    the environment (never from the URL itself: a password in a URL is refused)."""
    if "://" in url and urlsplit(url).password is not None:
        raise ConfigError(
            f"{redact(url)}: kata sandi tidak boleh ada di URL; pakai koneksi Airflow atau "
            f"variabel lingkungan / no password in a URL: use an Airflow connection or the "
            f"environment"
        )
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    if protocol in ("s3", "s3a"):
        # no listing cache: another host's upload must be seen at once
        opts: dict[str, Any] = {"use_listings_cache": False}
        key = lookup_secret(STORAGE_CONN_ID, "login", KEY_ID_ENV)
        secret = lookup_secret(STORAGE_CONN_ID, "password", SECRET_ENV)
        if key and secret:
            opts.update(key=key, secret=secret)
        endpoint = lookup_secret(STORAGE_CONN_ID, "url", ENDPOINT_ENV)
        if endpoint:
            opts["endpoint_url"] = endpoint
        sse = os.environ.get(SSE_ENV)
        if sse:
            opts["s3_additional_kwargs"] = {"ServerSideEncryption": sse}
        return opts
    if protocol in ("sftp", "ssh"):
        opts = {}
        key_file = os.environ.get(SFTP_KEY_FILE_ENV)
        if key_file:
            opts["client_keys"] = [key_file]
        known = os.environ.get(SFTP_KNOWN_HOSTS_ENV) or str(Path("~/.ssh/known_hosts"))
        known = os.path.expanduser(known)
        if os.path.exists(known):
            opts["known_hosts"] = known
        else:
            log.warning("SFTP host key not verified: set SIMPUL_SFTP_KNOWN_HOSTS")
        password = lookup_secret(SFTP_CONN_ID, "password", SFTP_PASSWORD_ENV)
        if password:
            opts["password"] = password
        return opts
    return {}


def filesystem(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path within it)`` for ``url`` with :func:`storage_options`."""
    import fsspec

    return fsspec.core.url_to_fs(url, **storage_options(url))


@dataclass
class Store:
    """One storage area: its root URL and, for a remote root, the local working copy."""

    area: str
    url: str
    local: Path  # the folder the code reads and writes (the root itself when not remote)
    remote: bool = False
    _fs: Any = field(default=None, repr=False)
    _root: str = ""

    @classmethod
    def for_area(cls, area: Area) -> Store:
        url = area_url(area)
        if not is_remote(url):
            path = Path(url.split("://", 1)[1] if "://" in url else url)
            return cls(area=area, url=str(path), local=path)
        return cls(area=area, url=url.rstrip("/"), local=home() / "cache" / area, remote=True)

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs, root = filesystem(self.url)
            self._root = root.rstrip("/")
        return self._fs

    @property
    def _atomic_put(self) -> bool:
        """Object stores publish an object whole with one PUT; file servers need a rename."""
        protocol = self.fs.protocol
        protocols = protocol if isinstance(protocol, (tuple, list)) else (protocol,)
        return bool({"s3", "s3a", "gs", "gcs", "az", "abfs"} & set(protocols))

    def key(self, rel: str) -> str:
        """The filesystem path of ``rel`` (a '/'-separated path below the root)."""
        self.fs  # noqa: B018 - resolves _root
        return f"{self._root}/{rel.strip('/')}" if rel else self._root

    def uri(self, rel: str = "") -> str:
        """Where ``rel`` lives, for results and logs (no credentials: they are never in it)."""
        if not self.remote:
            return str(self.local / rel) if rel else str(self.local)
        return f"{redact(self.url)}/{rel.strip('/')}" if rel else redact(self.url)

    def read_text(self, rel: str) -> str:
        if not self.remote:
            return (self.local / rel).read_text(encoding="utf-8")
        return self.fs.cat_file(self.key(rel)).decode("utf-8")

    # -- moving folders between the working copy and the store ----------------------------
    def publish(self, rel: str, commit: str | None = None, only: list[str] | None = None) -> None:
        """Upload the working copy's folder ``rel`` (every file below it, or the relative
        paths ``only``; streamed from disk), the ``commit`` file last: another host trusts the
        folder once that file is there. A local store is used in place: nothing to do."""
        if not self.remote:
            return
        folder = self.local / rel
        if only is not None:
            files = [folder / name for name in only]
        else:
            files = sorted(p for p in folder.rglob("*") if p.is_file() and ".partial" not in p.name)
        last = [p for p in files if commit and p.relative_to(folder).as_posix() == commit]
        for path in [p for p in files if p not in last] + last:
            target = self.key(f"{rel}/{path.relative_to(folder).as_posix()}")
            try:
                if path in last and not self._atomic_put:
                    # SFTP writes in place: the commit file appears whole, by rename
                    self.fs.put_file(str(path), target + ".partial")
                    self.fs.mv(target + ".partial", target)
                else:
                    self.fs.put_file(str(path), target)
            except Exception as exc:  # noqa: BLE001 - any client error: one clear message
                raise StorageError(
                    f"{self.uri(rel)}: gagal mengunggah / upload failed ({type(exc).__name__}: "
                    f"{_short(exc)})"
                ) from None

    def fetch(self, rel: str, commit: str | None = None) -> bool:
        """Make the working copy's folder ``rel`` match the store's committed one; False when
        the store has no ``commit`` file there (not published, or never finished)."""
        if not self.remote:
            return commit is None or (self.local / rel / commit).exists()
        folder = self.local / rel
        if commit and (folder / commit).exists():
            return True  # written or fetched here before; committed folders never change
        try:
            if commit and not self.fs.exists(self.key(f"{rel}/{commit}")):
                return False
            base = self.key(rel)
            remote = sorted(self.fs.find(base)) if self.fs.exists(base) else []
        except Exception as exc:  # noqa: BLE001
            raise StorageError(
                f"{self.uri(rel)}: tidak dapat dibaca / not readable ({type(exc).__name__}: "
                f"{_short(exc)})"
            ) from None
        names = [k[len(base) + 1 :] for k in remote if not k.endswith(".partial")]
        order = [n for n in names if n != commit] + ([commit] if commit in names else [])
        for name in order:
            dest = folder / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".partial")
            try:
                self.fs.get_file(f"{base}/{name}", str(tmp))
            except Exception as exc:  # noqa: BLE001
                tmp.unlink(missing_ok=True)
                raise StorageError(
                    f"{self.uri(f'{rel}/{name}')}: gagal mengunduh / download failed "
                    f"({type(exc).__name__}: {_short(exc)})"
                ) from None
            os.replace(tmp, dest)
        return commit is None or bool(names)

    def remove(self, rel: str) -> None:
        """Delete ``rel`` from the store (and the working copy); gone already is fine."""
        self.forget(rel)
        if not self.remote:
            shutil.rmtree(self.local / rel, ignore_errors=True)
            return
        try:
            if self.fs.exists(self.key(rel)):
                self.fs.rm(self.key(rel), recursive=True)
        except FileNotFoundError:
            pass

    def forget(self, rel: str) -> None:
        """Drop the working copy of ``rel`` (the store keeps it)."""
        if self.remote:
            shutil.rmtree(self.local / rel, ignore_errors=True)


class StorageError(Exception):
    """The shared store could not be read or written (message bilingual, no credentials);
    an operator error that a retry may fix (an outage), unlike a :class:`ConfigError`."""


def _short(exc: Exception) -> str:
    return redact(str(exc).splitlines()[0] if str(exc) else "")[:200]


def store(area: Area) -> Store:
    """The :class:`Store` of ``area`` as configured now (cheap: the filesystem connects lazily)."""
    return Store.for_area(area)


def describe() -> list[tuple[str, str]]:
    """``(area, where)`` for ``simpul doctor`` / status: URLs without credentials."""
    return [(a, store(a).uri()) for a in AREAS]


def check() -> list[tuple[str, str, str | None]]:
    """``(area, where, problem or None)`` per area: a remote store is written, read back and
    cleaned with a small probe object, so an operator sees a wrong endpoint, key or bucket
    before the first delivery does (``python -m simpul.storage``)."""
    import uuid

    out: list[tuple[str, str, str | None]] = []
    for area in AREAS:
        st = store(area)
        problem = None
        if st.remote:
            rel = f".simpul-probe-{uuid.uuid4().hex[:8]}"
            try:
                st.fs.pipe_file(st.key(rel), b"ok")
                if st.fs.cat_file(st.key(rel)) != b"ok":
                    problem = "read back differs / isi terbaca berbeda"
                st.fs.rm(st.key(rel))
            except Exception as exc:  # noqa: BLE001 - reported, never raised
                problem = f"{type(exc).__name__}: {_short(exc)}"
        else:
            try:
                st.local.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                problem = f"{type(exc).__name__}: {exc.strerror or exc}"
        out.append((area, st.uri(), problem))
    return out


def main() -> int:
    """Print where each area lives and whether it works; exit 1 when one does not."""
    bad = 0
    for area, where, problem in check():
        bad += problem is not None
        status = "ok" if problem is None else f"GAGAL / FAILED: {problem}"
        print(f"{area:8} {where}  {status}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
