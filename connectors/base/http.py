"""HTTP for connectors: one requests session, timeouts always set, retries that honour
Retry-After with exponential backoff and jitter, and pluggable auth and pagination."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class HttpError(Exception):
    """A request that failed for good; the message names the URL path and status, no secrets."""


@dataclass
class RetryPolicy:
    attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.backoff_max)
            except ValueError:
                pass
        d = min(self.backoff_base * (2 ** (attempt - 1)), self.backoff_max)
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


@dataclass
class HttpClient:
    base_url: str
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    auth: TokenAuth | None = None
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.url(path)
        refreshed = False
        last: str = ""
        base_headers = dict(kwargs.pop("headers", None) or {})
        for attempt in range(1, self.retry.attempts + 1):
            headers = dict(base_headers)  # every attempt: the caller's headers, fresh auth
            if self.auth:
                self.auth.apply(self.session, headers, refresh=False)
            try:
                resp = self.session.request(
                    method, url, headers=headers, timeout=self.timeout, **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = type(exc).__name__
                resp = None
            if resp is not None:
                if resp.status_code == 401 and self.auth and not refreshed:
                    refreshed = True
                    self.auth.apply(self.session, {}, refresh=True)
                    continue
                if resp.status_code < 400:
                    try:
                        if "json" in resp.headers.get("content-type", ""):
                            resp.json()
                        return resp
                    except ValueError:
                        last = "truncated or invalid JSON"
                elif resp.status_code in RETRY_STATUS:
                    last = f"HTTP {resp.status_code}"
                else:
                    raise HttpError(f"{method} {_path(url)} failed: HTTP {resp.status_code}")
            if attempt < self.retry.attempts:
                retry_after = resp.headers.get("Retry-After") if resp is not None else None
                wait = self.retry.delay(attempt, retry_after)
                log.warning("%s %s: %s, retry %d in %.1fs", method, _path(url), last, attempt, wait)
                self.sleep(wait)
        raise HttpError(
            f"{method} {_path(url)} failed after {self.retry.attempts} attempts: {last}"
        )

    def paginate(
        self, path: str, params: dict[str, Any], data_key: str = "data"
    ) -> Iterator[list[dict[str, Any]]]:
        """Follow ``links.next`` (falling back to ``page`` + ``meta.total_pages``)."""
        page = 1
        next_url: str | None = None
        while True:
            if next_url:
                body = self.get_json(next_url)
            else:
                body = self.get_json(path, {**params, "page": page})
            yield body.get(data_key) or []
            next_url = (body.get("links") or {}).get("next")
            meta = body.get("meta") or {}
            if not next_url:
                if meta.get("total_pages") and meta.get("page", page) < meta["total_pages"]:
                    page = int(meta.get("page", page)) + 1
                    continue
                return

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
        """Follow an opaque cursor: ``{data, next_cursor}`` until ``next_cursor`` is empty.

        Each page goes through :meth:`request`, so retries, Retry-After and token refresh apply
        per page and a failure mid-way resumes at the page that failed, not at the start. A
        server that hands out the same cursor twice would loop forever; that stops with an
        error instead.
        """
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(max_pages):
            query = dict(params)
            if cursor:
                query[cursor_param] = cursor
            body = self.get_json(path, query)
            if not isinstance(body, dict):
                raise HttpError(f"GET {_path(self.url(path))}: expected a JSON object")
            yield body.get(data_key) or []
            cursor = body.get(cursor_key)
            if not cursor:
                return
            if cursor in seen:
                raise HttpError(f"GET {_path(self.url(path))}: the server repeated a cursor")
            seen.add(cursor)
        raise HttpError(f"GET {_path(self.url(path))}: more than {max_pages} pages")


def _path(url: str) -> str:
    """URL without query string: query values may carry personal data."""
    return url.split("?", 1)[0]
