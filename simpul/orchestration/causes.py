"""Errors that name their cause: an agency's system unreachable, refusing, or misconfigured.

A connection refused deep inside ``requests`` says nothing to an operator. :func:`source_error`
classifies what a connector raised (requests/urllib3, socket, TLS, the HTTP client's
:class:`~connectors.base.http.HttpError`, a missing drop folder) into a :class:`SourceError`
naming the agency and the URL (credentials and query strings removed), Bahasa Indonesia first.

``transient`` says whether a retry can help: an outage or a timeout can; a wrong password, a
refused certificate, a 404 or a missing folder cannot, so the DAG fails those at once.
"""

from __future__ import annotations

import re
import socket
import ssl
from typing import Any, cast

from simpul.pipeline.common import PipelineError

SYSTEM_NAMES = {
    "siak": "SIAK",
    "oss": "OSS-RBA",
    "opensid": "OpenSID",
    "dinsos": "Dinas Sosial",
    "sql": "PATEN",
}


class SourceError(PipelineError):
    """The agency's system could not be read; ``transient`` says whether a retry may help."""

    def __init__(self, message: str, *, kind: str, transient: bool, agency: str, url: str):
        super().__init__(message)
        self.kind = kind
        self.transient = transient
        self.agency = agency
        self.url = url


def _http_error_type() -> type:
    from connectors.base.http import HttpError

    return HttpError


class SourceHttpError(SourceError, _http_error_type()):  # type: ignore[misc]
    """A :class:`SourceError` that is also the HTTP client's ``HttpError`` (callers that catch
    the client's error keep working)."""


def _unreachable_type() -> type:
    from connectors.base.http import SourceUnreachableError

    return SourceUnreachableError


class SourceUnreachable(SourceHttpError, _unreachable_type()):  # type: ignore[misc]
    """An outage that outlasted the retry budget: a :class:`SourceError` that is still the
    connector's ``SourceUnreachableError`` (agency, url, reason, waited, attempts, progress)."""

    def __init__(
        self, message: str, *, kind: str, transient: bool, agency: str, url: str, original: Any
    ):
        cast(Any, _http_error_type()).__init__(self, message, retriable=True)
        self.kind, self.transient, self.agency, self.url = kind, transient, agency, url
        for name in ("reason", "waited", "attempts", "progress"):
            setattr(self, name, getattr(original, name, None))


def safe_url(url: str) -> str:
    """``url`` without user/password and without query string or fragment."""
    url = re.sub(r"(?i)^([a-z][a-z0-9+.-]*://)[^/@\s]*@", r"\1", str(url))
    return re.split(r"[?#]", url, maxsplit=1)[0]


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in out and len(out) < 10:
        out.append(seen)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return out


def classify(exc: BaseException) -> tuple[str, bool] | None:
    """``(kind, transient)`` for a failure to reach or read a source, else None.

    kinds: ``tls``, ``auth``, ``not_found``, ``unreachable``, ``timeout``, ``http``,
    ``drop_missing``.
    """
    from connectors.base.http import HttpError, SourceUnreachableError

    for e in _chain(exc):
        mod = type(e).__module__ or ""
        name = type(e).__name__
        if isinstance(e, ssl.SSLError) or name == "SSLError":
            return "tls", False
        if isinstance(e, SourceUnreachableError):  # the retry budget ran out: still an outage
            return ("timeout" if "timeout" in e.reason.lower() else "unreachable"), True
        if isinstance(e, HttpError):
            text = str(e)
            status = re.search(r"HTTP (\d{3})", text)
            code = int(status.group(1)) if status else None
            if code in (401, 403):
                return "auth", False
            if code == 404:
                return "not_found", False
            if "Timeout" in text:
                return "timeout", True
            if "ConnectionError" in text:
                return "unreachable", True
            return "http", code is None or code >= 500 or code == 429
        if mod.startswith(("requests", "urllib3")):
            if "Timeout" in name:
                return "timeout", True
            if "Connection" in name or "MaxRetry" in name or "NewConnection" in name:
                return "unreachable", True
            if name == "HTTPError":
                resp = getattr(e, "response", None)
                code = getattr(resp, "status_code", None)
                if code in (401, 403):
                    return "auth", False
                return "http", code is None or code >= 500
            return "unreachable", True
        if isinstance(e, TimeoutError | socket.timeout):
            return "timeout", True
        if isinstance(e, ConnectionError | socket.gaierror):
            return "unreachable", True
        if isinstance(e, FileNotFoundError | NotADirectoryError):
            return "drop_missing", False
    return None


_TEXT = {
    "unreachable": ("tidak dapat dihubungi di {url}", "unreachable at {url}"),
    "timeout": ("tidak menjawab tepat waktu di {url}", "did not answer in time at {url}"),
    "tls": (
        "menolak koneksi aman (sertifikat TLS) di {url}",
        "refused the secure connection (TLS certificate) at {url}",
    ),
    "auth": (
        "menolak kredensial Simpul di {url}; periksa client id/secret",
        "refused Simpul's credentials at {url}; check the client id/secret",
    ),
    "not_found": (
        "tidak mengenal alamat {url}; periksa URL di konfigurasi",
        "does not know the address {url}; check the URL in the configuration",
    ),
    "http": ("menjawab dengan galat di {url}", "answered with an error at {url}"),
    "drop_missing": (
        "folder kirimannya tidak ada: {url}",
        "its drop folder does not exist: {url}",
    ),
}


def source_error(exc: BaseException, cfg: Any, source: str) -> SourceError | None:
    """A :class:`SourceError` for ``exc`` raised while reading ``source``, else None."""
    got = classify(exc)
    if got is None:
        return None
    kind, transient = got
    settings = cfg.sources[source]
    system = SYSTEM_NAMES.get(settings.connector, source.upper())
    if settings.connector == "sql":
        system = SYSTEM_NAMES.get(source, source.upper())
    try:
        if settings.connector in ("opensid", "dinsos"):
            url = settings.resolved_drop_url()
        else:
            url = settings.resolved_base_url()
    except Exception:  # noqa: BLE001 - the URL is a help, never a second failure
        url = "?"
    url = safe_url(url)
    t_id, t_en = _TEXT[kind]
    http_error = _http_error_type()
    original = next((e for e in _chain(exc) if isinstance(e, http_error)), None)
    # the client's own message names the path and the status, never a secret
    detail = str(original).splitlines()[0] if original is not None else type(exc).__name__
    detail_id = detail_en = detail
    from connectors.base.http import SourceUnreachableError

    if isinstance(original, SourceUnreachableError):  # already bilingual: English / Indonesian
        detail_en, _, detail_id = detail.partition(" / ")
        detail_id = detail_id or detail_en
    retry_id = "akan dicoba ulang" if transient else "tidak dicoba ulang"
    retry_en = "will be retried" if transient else "not retried"
    message = (
        f"{system} ({settings.agency}) {t_id.format(url=url)} ({detail_id}; {retry_id}) / "
        f"{system} ({settings.agency}) {t_en.format(url=url)} ({detail_en}; {retry_en})"
    )
    if isinstance(original, SourceUnreachableError):
        return SourceUnreachable(
            message,
            kind=kind,
            transient=transient,
            agency=settings.agency,
            url=url,
            original=original,
        )
    cls = SourceHttpError if original is not None else SourceError
    return cls(message, kind=kind, transient=transient, agency=settings.agency, url=url)


def describe(exc: BaseException) -> tuple[str, str]:
    """Bahasa Indonesia and English one-liners for any task failure (first line only)."""
    text = (str(exc).strip().splitlines() or [""])[0]
    if " / " in text and isinstance(exc, SourceError):  # Indonesian first
        ind, _, en = text.partition(" / ")
        return ind, en
    from simpul.config import ConfigError

    if isinstance(exc, ConfigError):
        return f"Konfigurasi tidak valid: {text}", f"Invalid configuration: {text}"
    if " / " in text:  # the project's other messages: English / Indonesian
        en, _, ind = text.partition(" / ")
        return ind or en, en
    return f"{type(exc).__name__}: {text}", f"{type(exc).__name__}: {text}"
