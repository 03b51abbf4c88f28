"""OSS-RBA-like permit API: OAuth2 client credentials, opaque cursor pages, ``updated_since``.

The token endpoint says how long a token lives (``expires_in``); :class:`TokenAuth` renews it
shortly before then and once more on a 401. Pages follow ``next_cursor`` through the shared
:meth:`HttpClient.paginate_cursor`, so 429 + Retry-After, 5xx, timeouts and truncated pages are
retried per page by the one HTTP loop every connector uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa
import requests

from connectors.base.contract import PagedConnector, ReadResult, StreamSpec, rows_to_batch
from connectors.base.http import HttpClient, RetryPolicy, TokenAuth, login_error

MAX_LIMIT = 500


class OssConnector(PagedConnector):
    id = "oss"
    streams: ClassVar[dict[str, StreamSpec]] = {
        "izin": StreamSpec("izin", ("nomor_izin",), "updated_at"),
    }

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        page_size: int = MAX_LIMIT,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        agency: str = "OSS-RBA (DPMPTSP)",
        client: HttpClient | None = None,
    ):
        self.page_size = min(page_size, MAX_LIMIT)
        self.http = client or HttpClient(
            base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retry=retry or RetryPolicy(),
            agency=agency,
        )
        token_url = self.http.url("/oauth/token")

        def login(session: requests.Session) -> tuple[str, float | None]:
            # RFC 6749 2.3.1: client credentials by HTTP Basic; never logged
            resp = session.post(
                token_url,
                data={"grant_type": "client_credentials"},
                auth=(client_id, client_secret),
                timeout=(self.http.connect_timeout, self.http.timeout),
            )
            if resp.status_code != 200:
                raise login_error("OSS token request", resp.status_code)
            body = resp.json()
            return body["access_token"], body.get("expires_in")

        self.http.auth = TokenAuth(login)

    def read_pages(
        self,
        stream: str,
        *,
        since: str | None,
        result: ReadResult,
        resume: dict[str, Any] | None = None,
    ) -> Iterator[tuple[pa.RecordBatch | None, dict[str, Any]]]:
        """Pages as ``(batch, state)``; ``resume=state`` continues at the server's cursor."""
        spec = self.stream(stream)
        params: dict[str, object] = {"limit": self.page_size}
        if since:
            params["updated_since"] = since
        columns: list[str] | None = (resume or {}).get("columns")
        for rows, state in self.http.cursor_pages(f"/api/v1/{stream}", params, resume=resume):
            batch = None
            if rows:
                batch = rows_to_batch(rows, columns)
                columns = columns or batch.schema.names
                if spec.cursor_field:
                    result.observe([r.get(spec.cursor_field) for r in rows])
            yield batch, {**state, "columns": columns}
