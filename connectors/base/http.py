"""HTTP for connectors: one requests session, connect and read timeouts on every request,
retries within a budget of TIME (not attempts) with capped exponential backoff, jitter and
``Retry-After`` in both forms, and pluggable auth and pagination.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
    retriable = status in RETRY_STATUS or (status >= 500 and status not in (501, 505))
    return HttpError(
        f"{what} refused: HTTP {status} / {what} ditolak: HTTP {status}",
        status=status,
        retriable=retriable,
    )


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports filled in: what credentials are bound to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


@dataclass
class HttpClient:
    base_url: str
    timeout: float = 30.0  # read timeout: the longest silence accepted while a body arrives
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    auth: TokenAuth | None = None
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    agency: str = "the agency"
    clock: Callable[[], float] = time.monotonic
    progress: PullProgress = field(default_factory=PullProgress)
    bytes_received: int = 0  # body bytes off the wire (compressed), failed attempts included
    requests_sent: int = 0

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def same_origin(self, url: str) -> bool:
        return origin(url) == origin(self.base_url)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def _count(self, resp: requests.Response | None) -> None:
        if resp is None:
            return
        raw = getattr(resp, "raw", None)
        try:
            n = int(raw.tell()) if raw is not None else len(resp.content or b"")
        except (AttributeError, TypeError, ValueError, OSError):
            n = len(resp._content or b"") if isinstance(resp._content, bytes) else 0
        self.bytes_received += n

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.url(path)
        where = _path(url)
        credentials = self.auth is not None and self.same_origin(url)
        refreshed = False
        attempt = 0
        first_failure: float | None = None
        base_headers = {"Accept-Encoding": "gzip", **dict(kwargs.pop("headers", None) or {})}
        kwargs.pop("timeout", None)
        kwargs.pop("stream", None)
        while True:
            attempt += 1
            began = self.clock()
            headers = dict(base_headers)  # every attempt: the caller's headers, fresh auth
            resp: requests.Response | None = None
            retry_after: str | None = None
            try:
                if credentials and self.auth is not None:
                    self.auth.apply(self.session, headers, refresh=False)
                self.requests_sent += 1
                resp = self.session.request(
                    method,
                    url,
                    headers=headers,
                    timeout=(self.connect_timeout, self.timeout),
                    stream=True,
                    **kwargs,
                )
                try:
                    resp.content  # noqa: B018 - read the whole body now, inside the try
                finally:
                    self._count(resp)
                    resp.close()
            except HttpError as exc:  # the login endpoint answered
                if not exc.retriable:
                    raise
                reason = str(exc).split(" / ", 1)[0]
                resp = None
            except requests.Timeout:
                reason = "timeout"
                resp = None
            except requests.exceptions.JSONDecodeError:  # a login answer cut off
                reason = "truncated or invalid JSON"
                resp = None
            except (
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                reason = _connection_reason(exc)
                resp = None
            if resp is not None:
                status = resp.status_code
                if status == 401 and credentials and self.auth is not None and not refreshed:
                    refreshed = True
                    try:
                        self.auth.apply(self.session, {}, refresh=True)
                    except HttpError as exc:
                        if not exc.retriable:
                            raise
                        refreshed = False  # the login itself hit the outage: try again
                        reason = "login failed"
                    except requests.RequestException as exc:
                        refreshed = False
                        reason = "login: " + _connection_reason(exc)
                    else:
                        continue
                elif status < 400:
                    if "json" not in resp.headers.get("content-type", ""):
                        return resp
                    try:
                        resp.json()
                        return resp
                    except ValueError:
                        reason = "truncated or invalid JSON"
                elif _retriable_status(status):
                    reason = f"HTTP {status}"
                    retry_after = resp.headers.get("Retry-After")
                elif status == 401 and credentials:
                    raise HttpError(
                        f"{method} {where} failed: HTTP 401 even after a fresh login "
                        f"(credentials revoked?) / gagal: HTTP 401 meski sudah login ulang "
                        f"(kredensial dicabut?)",
                        status=status,
                    )
                else:
                    raise HttpError(
                        f"{method} {where} failed: HTTP {status} / {method} {where} gagal: "
                        f"HTTP {status}",
                        status=status,
                    )
            if first_failure is None:
                first_failure = began
            waited = self.clock() - first_failure
            remaining = self.retry.budget_seconds - waited
            capped = self.retry.attempts is not None and attempt >= self.retry.attempts
            if remaining <= 0 or capped:
                raise SourceUnreachableError(
                    agency=self.agency,
                    method=method,
                    url=where,
                    reason=reason,
                    waited=waited,
                    attempts=attempt,
                    progress=self.progress,
                )
            wait = max(0.0, min(self.retry.delay(attempt, retry_after), remaining))
            log.warning(
                "%s %s: %s, retry %d in %.1fs (%.0fs of %.0fs budget left)",
                method,
                where,
                reason,
                attempt,
                wait,
                remaining,
                self.retry.budget_seconds,
            )
            self.sleep(wait)

    def pages(
        self,
        path: str,
        params: dict[str, Any],
        data_key: str = "data",
        *,
        resume: dict[str, Any] | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """Page-numbered pages as ``(rows, state)``; ``state`` says where the NEXT page is
        (``{"next": url}`` or ``{"page": n}``, or ``{"done": true}``), so a later call with
        ``resume=state`` continues after the last page received instead of at page 1.

        Follows ``links.next`` (same origin only), falling back to ``page`` +
        ``meta.total_pages``.
        """
        state = dict(resume or {"page": 1})
        if state.get("done"):
            return
        self.progress.pages = int(state.get("pages", 0))
        self.progress.rows = int(state.get("rows", 0))
        self.progress.total_pages = state.get("total_pages")
        page = int(state.get("page") or 1)
        next_url: str | None = state.get("next")
        while True:
            if next_url:
                if not self.same_origin(next_url):
                    raise HttpError(
                        f"GET {_path(self.url(path))}: the next-page link points to another "
                        f"server ({_origin_text(next_url)}); refused, credentials go only to "
                        f"{_origin_text(self.base_url)} / tautan halaman berikutnya menunjuk "
                        f"server lain ({_origin_text(next_url)}); ditolak, kredensial hanya "
                        f"dikirim ke {_origin_text(self.base_url)}"
                    )
                body = self.get_json(next_url)
            else:
                body = self.get_json(path, {**params, "page": page})
            if not isinstance(body, dict):
                raise HttpError(f"GET {_path(self.url(path))}: expected a JSON object")
            rows = body.get(data_key) or []
            meta = body.get("meta") or {}
            self.progress.pages += 1
            self.progress.rows += len(rows)
            if meta.get("total_pages"):
                self.progress.total_pages = int(meta["total_pages"])
            next_url = (body.get("links") or {}).get("next")
            current = int(meta.get("page", page))
            done = False
            if next_url:
                after: dict[str, Any] = {"next": next_url}
            elif meta.get("total_pages") and current < int(meta["total_pages"]):
                page = current + 1
                after = {"page": page}
            else:
                done = True
                after = {"done": True}
            after.update(
                pages=self.progress.pages,
                rows=self.progress.rows,
                total_pages=self.progress.total_pages,
            )
            yield rows, after
            if done:
                return

    def paginate(
        self, path: str, params: dict[str, Any], data_key: str = "data"
    ) -> Iterator[list[dict[str, Any]]]:
        """Follow ``links.next`` (falling back to ``page`` + ``meta.total_pages``)."""
        for rows, _ in self.pages(path, params, data_key):
            yield rows

    def paginate_cursor(
        self,
        path: str,
        params: dict[str, Any],
        *,
        data_key: str = "data",
        cursor_key: str = "next_cursor",
        cursor_param: str = "cursor",
        max_pages: int = 1_000_000,
    ) -> Iterator[list[dict[str, Any]]]:
        """Follow an opaque cursor: ``{data, next_cursor}`` until ``next_cursor`` is empty."""
        for rows, _ in self.cursor_pages(
            path,
            params,
            data_key=data_key,
            cursor_key=cursor_key,
            cursor_param=cursor_param,
            max_pages=max_pages,
        ):
            yield rows

    def cursor_pages(
        self,
        path: str,
        params: dict[str, Any],
        *,
        data_key: str = "data",
        cursor_key: str = "next_cursor",
        cursor_param: str = "cursor",
        max_pages: int = 1_000_000,
        resume: dict[str, Any] | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """Opaque-cursor pages as ``(rows, state)``; ``resume=state`` continues at the cursor
        the server gave after the last page received.

        Each page goes through :meth:`request`, so retries, Retry-After and token refresh apply
        per page and a failure mid-way retries the page that failed, not the start. A
        server that hands out the same cursor twice would loop forever; that stops with an
        error instead.
        """
        state = dict(resume or {})
        if state.get("done"):
            return
        cursor: str | None = state.get("cursor")
        self.progress.pages = int(state.get("pages", 0))
        self.progress.rows = int(state.get("rows", 0))
        seen: set[str] = set()
        for _ in range(max_pages):
            query = dict(params)
            if cursor:
                query[cursor_param] = cursor
            body = self.get_json(path, query)
            if not isinstance(body, dict):
                raise HttpError(f"GET {_path(self.url(path))}: expected a JSON object")
            rows = body.get(data_key) or []
            self.progress.pages += 1
            self.progress.rows += len(rows)
            cursor = body.get(cursor_key)
            if cursor and cursor in seen:
                raise HttpError(f"GET {_path(self.url(path))}: the server repeated a cursor")
            after: dict[str, Any] = {"cursor": cursor} if cursor else {"done": True}
            after.update(pages=self.progress.pages, rows=self.progress.rows)
            yield rows, after
            if not cursor:
                return
            seen.add(cursor)
        raise HttpError(f"GET {_path(self.url(path))}: more than {max_pages} pages")


def _retriable_status(status: int) -> bool:
    return status in RETRY_STATUS or (status >= 500 and status not in (501, 505))


def _connection_reason(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "body cut off"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "compressed body cut off"
    text = str(exc).lower()
    if "timed out" in text or "timeout" in text:
        return "timeout"
    if "reset" in text or "aborted" in text:
        return "connection reset"
    if "refused" in text:
        return "connection refused"
    return "connection failed"


def _origin_text(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


def _path(url: str) -> str:
    """URL without query string: query values may carry personal data."""
    return url.split("?", 1)[0]
