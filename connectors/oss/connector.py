"""OSS-RBA-like permit API: OAuth2 client credentials, opaque cursor pages, ``updated_since``.

The token endpoint says how long a token lives (``expires_in``); :class:`TokenAuth` renews it
shortly before then and once more on a 401. Pages follow ``next_cursor`` through the shared
:meth:`HttpClient.cursor_pages`, so 429 + Retry-After, 5xx, timeouts and truncated pages are
retried per page by the one HTTP loop every connector uses.
"""

from __future__ import annotations

from typing import Any

import requests

from connectors.base.api import ApiConnector, JsonPages
from connectors.base.contract import StreamSpec
from connectors.base.http import TokenAuth, login_error

MAX_LIMIT = 500


class OssConnector(ApiConnector):
    id = "oss"
    streams: dict[str, StreamSpec] = {
        "izin": StreamSpec("izin", ("nomor_izin",), "updated_at"),
    }

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        page_size: int = MAX_LIMIT,
        agency: str = "OSS-RBA (DPMPTSP)",
        **http: Any,
    ):
        """``http``: the :class:`ApiConnector` options (timeouts, retry, client)."""
        super().__init__(base_url, agency=agency, **http)
        self.page_size = min(page_size, MAX_LIMIT)
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

    def json_pages(
        self, stream: str, since: str | None, resume: dict[str, Any] | None
    ) -> JsonPages:
        """Cursor pages of ``limit`` rows changed since ``since``."""
        params: dict[str, object] = {"limit": self.page_size}
        if since:
            params["updated_since"] = since
        return self.http.cursor_pages(f"/api/v1/{stream}", params, resume=resume)
