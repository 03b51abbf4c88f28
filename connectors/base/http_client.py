"""The connectors' HTTP client: one requests session, connect and read timeouts on every
request, retries within the time budget of a :class:`~connectors.base.http.RetryPolicy`, token
auth bound to the configured origin, and page-numbered or cursor pagination that can resume.

The errors, the retry policy and the auth live in :mod:`connectors.base.http`; this module is
the loop that applies them to one request and to a run of pages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from connectors.base.http import (
    DEFAULT_CONNECT_TIMEOUT,
    HttpError,
    PullProgress,
    RetryPolicy,
    SourceUnreachableError,
    TokenAuth,
    origin,
    retriable_status,
)

log = logging.getLogger(__name__)


@dataclass
class _Call:
    """One request across its attempts: what to send and how far the retrying got."""

    method: str
    url: str
    where: str  # the URL without its query string, for messages
    credentials: bool  # the request goes to the configured origin: auth applies
    headers: dict[str, str]
    kwargs: dict[str, Any]
    attempt: int = 0
    refreshed: bool = False
    first_failure: float | None = None


@dataclass
class _Failure:
    """An attempt that may be tried again: why, and the server's Retry-After if it gave one."""

    reason: str
    retry_after: str | None = None


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
        """``method`` on ``path``, tried again on retriable failures until the budget is spent
        (then :class:`SourceUnreachableError`); a fatal status raises :class:`HttpError`."""
        url = self.url(path)
        headers = {"Accept-Encoding": "gzip", **dict(kwargs.pop("headers", None) or {})}
        kwargs.pop("timeout", None)
        kwargs.pop("stream", None)
        call = _Call(
            method=method,
            url=url,
            where=_path(url),
            credentials=self.auth is not None and self.same_origin(url),
            headers=headers,
            kwargs=kwargs,
        )
        while True:
            call.attempt += 1
            began = self.clock()
            sent = self._send(call)
            outcome = self._judge(call, sent) if isinstance(sent, requests.Response) else sent
            if isinstance(outcome, requests.Response):
                return outcome
            if outcome is not None:
                self._wait_or_give_up(call, outcome, began)

    def _send(self, call: _Call) -> requests.Response | _Failure:
        """One attempt, its whole body read; a failure to retry comes back as a reason."""
        headers = dict(call.headers)  # every attempt: the caller's headers, fresh auth
        try:
            if call.credentials and self.auth is not None:
                self.auth.apply(self.session, headers, refresh=False)
            self.requests_sent += 1
            resp = self.session.request(
                call.method,
                call.url,
                headers=headers,
                timeout=(self.connect_timeout, self.timeout),
                stream=True,
                **call.kwargs,
            )
            try:
                resp.content  # noqa: B018 - read the whole body now, inside the try
            finally:
                self._count(resp)
                resp.close()
        except HttpError as exc:  # the login endpoint answered
            if not exc.retriable:
                raise
            return _Failure(str(exc).split(" / ", 1)[0])
        except requests.Timeout:
            return _Failure("timeout")
        except requests.exceptions.JSONDecodeError:  # a login answer cut off
            return _Failure("truncated or invalid JSON")
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            return _Failure(_connection_reason(exc))
        return resp

    def _judge(self, call: _Call, resp: requests.Response) -> requests.Response | _Failure | None:
        """The response itself when it is good, a failure to retry, None to retry at once
        (after a fresh login); a fatal status raises."""
        status = resp.status_code
        if status == 401 and call.credentials and self.auth is not None and not call.refreshed:
            return self._refresh(call, self.auth)
        if status < 400:
            if "json" not in resp.headers.get("content-type", ""):
                return resp
            try:
                resp.json()
                return resp
            except ValueError:
                return _Failure("truncated or invalid JSON")
        if retriable_status(status):
            return _Failure(f"HTTP {status}", resp.headers.get("Retry-After"))
        if status == 401 and call.credentials:
            raise HttpError(
                f"{call.method} {call.where} failed: HTTP 401 even after a fresh login "
                f"(credentials revoked?) / gagal: HTTP 401 meski sudah login ulang "
                f"(kredensial dicabut?)",
                status=status,
            )
        raise HttpError(
            f"{call.method} {call.where} failed: HTTP {status} / {call.method} {call.where} "
            f"gagal: HTTP {status}",
            status=status,
        )

    def _refresh(self, call: _Call, auth: TokenAuth) -> _Failure | None:
        """A 401: log in again once (None: retry now); a login that hit the outage retries."""
        call.refreshed = True
        try:
            auth.apply(self.session, {}, refresh=True)
        except HttpError as exc:
            if not exc.retriable:
                raise
            call.refreshed = False  # the login itself hit the outage: try again
            return _Failure("login failed")
        except requests.RequestException as exc:
            call.refreshed = False
            return _Failure("login: " + _connection_reason(exc))
        return None

    def _wait_or_give_up(self, call: _Call, failure: _Failure, began: float) -> None:
        """Sleep before the next attempt, or raise once the budget (or attempt cap) is spent."""
        if call.first_failure is None:
            call.first_failure = began
        waited = self.clock() - call.first_failure
        remaining = self.retry.budget_seconds - waited
        capped = self.retry.attempts is not None and call.attempt >= self.retry.attempts
        if remaining <= 0 or capped:
            raise SourceUnreachableError(
                agency=self.agency,
                method=call.method,
                url=call.where,
                reason=failure.reason,
                waited=waited,
                attempts=call.attempt,
                progress=self.progress,
            )
        wait = max(0.0, min(self.retry.delay(call.attempt, failure.retry_after), remaining))
        log.warning(
            "%s %s: %s, retry %d in %.1fs (%.0fs of %.0fs budget left)",
            call.method,
            call.where,
            failure.reason,
            call.attempt,
            wait,
            remaining,
            self.retry.budget_seconds,
        )
        self.sleep(wait)

    def _resumed(
        self, resume: dict[str, Any] | None, start: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The state a pull continues from (``start`` for a new one), with the progress it had
        restored; None when that pull had already finished."""
        state = dict(resume or start)
        if state.get("done"):
            return None
        self.progress.pages = int(state.get("pages", 0))
        self.progress.rows = int(state.get("rows", 0))
        return state

    def _page_rows(self, path: str, body: Any, data_key: str) -> list[dict[str, Any]]:
        """The rows of one page's JSON object, counted into the progress."""
        if not isinstance(body, dict):
            raise HttpError(f"GET {_path(self.url(path))}: expected a JSON object")
        rows: list[dict[str, Any]] = body.get(data_key) or []
        self.progress.pages += 1
        self.progress.rows += len(rows)
        return rows

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
        state = self._resumed(resume, {"page": 1})
        if state is None:
            return
        self.progress.total_pages = state.get("total_pages")
        page = int(state.get("page") or 1)
        next_url: str | None = state.get("next")
        while True:
            body = self._numbered_page(path, params, page, next_url)
            rows = self._page_rows(path, body, data_key)
            meta = body.get("meta") or {}
            if meta.get("total_pages"):
                self.progress.total_pages = int(meta["total_pages"])
            next_url = (body.get("links") or {}).get("next")
            current = int(meta.get("page", page))
            after: dict[str, Any] = {"done": True}
            if next_url:
                after = {"next": next_url}
            elif meta.get("total_pages") and current < int(meta["total_pages"]):
                page = current + 1
                after = {"page": page}
            done = bool(after.get("done"))
            after.update(
                pages=self.progress.pages,
                rows=self.progress.rows,
                total_pages=self.progress.total_pages,
            )
            yield rows, after
            if done:
                return

    def _numbered_page(
        self, path: str, params: dict[str, Any], page: int, next_url: str | None
    ) -> Any:
        """The body of the next page: the server's next link (same origin only) or ``page``."""
        if not next_url:
            return self.get_json(path, {**params, "page": page})
        if not self.same_origin(next_url):
            raise HttpError(
                f"GET {_path(self.url(path))}: the next-page link points to another "
                f"server ({_origin_text(next_url)}); refused, credentials go only to "
                f"{_origin_text(self.base_url)} / tautan halaman berikutnya menunjuk "
                f"server lain ({_origin_text(next_url)}); ditolak, kredensial hanya "
                f"dikirim ke {_origin_text(self.base_url)}"
            )
        return self.get_json(next_url)

    def paginate(
        self, path: str, params: dict[str, Any], data_key: str = "data"
    ) -> Iterator[list[dict[str, Any]]]:
        """Follow ``links.next`` (falling back to ``page`` + ``meta.total_pages``)."""
        for rows, _ in self.pages(path, params, data_key):
            yield rows

    def paginate_cursor(
        self, path: str, params: dict[str, Any], **options: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Follow an opaque cursor: ``{data, next_cursor}`` until ``next_cursor`` is empty
        (``options`` as for :meth:`cursor_pages`)."""
        for rows, _ in self.cursor_pages(path, params, **options):
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
        state = self._resumed(resume, {})
        if state is None:
            return
        cursor: str | None = state.get("cursor")
        seen: set[str] = set()
        for _ in range(max_pages):
            query = dict(params)
            if cursor:
                query[cursor_param] = cursor
            body = self.get_json(path, query)
            rows = self._page_rows(path, body, data_key)
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
