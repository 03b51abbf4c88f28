"""HTTP for connectors: the errors, the retry policy (a budget of TIME, not attempts, with
capped exponential backoff, jitter and ``Retry-After`` in both forms) and token auth that the
client in :mod:`connectors.base.http_client` applies to every request.

Why a time budget: the kecamatan's mobile link drops for minutes at a time. Five quick attempts
give up on a 15-second outage; a budget of minutes rides it out while a truly dead agency still
ends the run in bounded time. Retriable (5xx, 408, 429, resets, timeouts, a body cut off
mid-way or a truncated JSON) and fatal (404, 400, a 401 that a fresh login did not cure) are
told apart, so a wrong URL fails at once instead of after the whole budget.

Credentials only travel to the configured origin (scheme, host and port of ``base_url``): a
pagination link that points elsewhere is refused, and no request to another origin ever gets
the bearer token.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
DEFAULT_BUDGET_SECONDS = 300.0
DEFAULT_CONNECT_TIMEOUT = 10.0


class HttpError(Exception):
    """A request that failed for good; the message names the URL path and status, no secrets.

    ``status`` is the HTTP status when there was one; ``retriable`` marks failures the request
    loop may try again (a login answered with 503, say).
    """

    def __init__(self, message: str, *, status: int | None = None, retriable: bool = False):
        super().__init__(message)
        self.status = status
        self.retriable = retriable

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only fields survive pickling (worker -> supervisor)
        return (_restore_error, (type(self), self.args, dict(self.__dict__)))


def _restore_error(cls: type[HttpError], args: tuple[Any, ...], state: dict[str, Any]) -> HttpError:
    exc: HttpError = Exception.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


@dataclass
class PullProgress:
    """How far a paged pull got: pages and rows received, and pages in all when known."""

    pages: int = 0
    total_pages: int | None = None
    rows: int = 0
    resumable: bool = False  # the landed pages are kept and a rerun continues after them

    def describe_en(self) -> str:
        of = f" of {self.total_pages}" if self.total_pages else ""
        return f"{self.pages} page(s){of} received, {self.rows:,} rows"

    def describe_id(self) -> str:
        of = f" dari {self.total_pages}" if self.total_pages else ""
        rows = f"{self.rows:,}".replace(",", ".")
        return f"{self.pages} halaman{of} diterima, {rows} baris"


class SourceUnreachableError(HttpError):
    """The agency stayed unreachable for longer than the retry budget.

    Carries ``agency``, ``url`` (no query string), ``reason`` (the last failure), ``waited``
    (seconds since the first failure) and ``progress`` (how far the pull got) for whoever
    reclassifies it; the message is already bilingual.
    """

    def __init__(
        self,
        *,
        agency: str,
        method: str,
        url: str,
        reason: str,
        waited: float,
        attempts: int,
        progress: PullProgress,
    ):
        self.agency = agency
        self.url = url
        self.reason = reason
        self.waited = waited
        self.attempts = attempts
        self.progress = progress
        resume_en = (
            "; the pages already landed are kept and the next run continues after them"
            if progress.resumable
            else ""
        )
        resume_id = (
            "; halaman yang sudah tersimpan dipertahankan dan proses berikutnya melanjutkan "
            "setelahnya"
            if progress.resumable
            else ""
        )
        super().__init__(
            f"{agency} unreachable: {method} {url} failed after {attempts} attempts over "
            f"{waited:.0f} s (last: {reason}); the pull got to {progress.describe_en()}"
            f"{resume_en} / {agency} tidak dapat dihubungi: {method} {url} gagal setelah "
            f"{attempts} percobaan selama {waited:.0f} detik (terakhir: {reason}); penarikan "
            f"sampai {progress.describe_id()}{resume_id}",
            retriable=True,
        )


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class RetryPolicy:
    """How long to keep trying one request: ``budget_seconds`` from its first failure.

    ``attempts`` is an optional hard cap on tries (None: the budget alone decides).
    """

    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    attempts: int | None = None
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds before try ``attempt + 1``: the server's Retry-After when it gave one (up
        to the budget), else capped exponential backoff with +-``jitter`` spread."""
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            return min(asked, self.budget_seconds)
        d = min(self.backoff_base * (2.0 ** (attempt - 1)), self.backoff_max)
        return d * (1 + random.uniform(-self.jitter, self.jitter))


class TokenAuth:
    """Bearer token fetched from a login endpoint, refreshed once on 401 and, when the login
    says how long the token lives (``expires_in``), shortly before it expires, so a long sync
    does not waste a request on a token the server already dropped.

    ``fetch`` returns the token, or ``(token, expires_in_seconds)``.
    """

    def __init__(
        self,
        fetch: Callable[[requests.Session], str | tuple[str, float | None]],
        *,
        leeway: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._fetch = fetch
        self._token: str | None = None
        self._expires_at: float | None = None
        self._leeway = leeway
        self._clock = clock
        self.fetches = 0  # how many logins this auth made (tests, metrics)

    def _expired(self) -> bool:
        return self._expires_at is not None and self._clock() >= self._expires_at - self._leeway

    def apply(self, session: requests.Session, headers: dict[str, str], refresh: bool) -> None:
        if self._token is None or refresh or self._expired():
            got = self._fetch(session)
            self.fetches += 1
            token, ttl = got if isinstance(got, tuple) else (got, None)
            self._token = token
            self._expires_at = self._clock() + float(ttl) if ttl else None
        headers["Authorization"] = f"Bearer {self._token}"


def login_error(what: str, status: int) -> HttpError:
    """A refused login: 5xx/429 are worth retrying, 400/401/403 mean wrong credentials."""
    return HttpError(
        f"{what} refused: HTTP {status} / {what} ditolak: HTTP {status}",
        status=status,
        retriable=retriable_status(status),
    )


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports filled in: what credentials are bound to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def retriable_status(status: int) -> bool:
    """A status worth trying again: the listed ones and any 5xx but 501/505 (not supported)."""
    return status in RETRY_STATUS or (status >= 500 and status not in (501, 505))
