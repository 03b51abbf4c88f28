"""SIAK-like REST API: client-credentials login, page-numbered pages, ``updated_since``, and
the feed of deleted NIKs (``/penduduk/deleted?since=``), which the pipeline lands beside each
penduduk delivery so a record Disdukcapil removed is soft-deleted in the same load."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import requests

from connectors.base.api import ApiConnector, JsonPages
from connectors.base.contract import ReadResult, StreamSpec, rows_to_batch
from connectors.base.http import TokenAuth, login_error


class SiakConnector(ApiConnector):
    id = "siak"
    streams: dict[str, StreamSpec] = {
        "penduduk": StreamSpec("penduduk", ("NIK",), "UPDATED_AT", deleted_field="DELETED_AT"),
        "keluarga": StreamSpec("keluarga", ("NO_KK",), "UPDATED_AT"),
        "peristiwa": StreamSpec("peristiwa", ("ID_PERISTIWA",), "UPDATED_AT"),
    }

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        kode_kecamatan: str | None = None,
        page_size: int = 500,
        agency: str = "SIAK (Disdukcapil)",
        **http: Any,
    ):
        """``http``: the :class:`ApiConnector` options (timeouts, retry, client)."""
        super().__init__(base_url, agency=agency, **http)
        self.kode_kecamatan = kode_kecamatan
        self.page_size = page_size
        token_url = self.http.url("/api/v1/auth/token")

        def login(session: requests.Session) -> str:
            resp = session.post(
                token_url,
                json={"client_id": client_id, "client_secret": client_secret},
                timeout=(self.http.connect_timeout, self.http.timeout),
            )
            if resp.status_code != 200:
                raise login_error("SIAK login", resp.status_code)
            return resp.json()["access_token"]

        self.http.auth = TokenAuth(login)

    def json_pages(
        self, stream: str, since: str | None, resume: dict[str, Any] | None
    ) -> JsonPages:
        """Numbered pages of ``per_page`` rows changed since ``since`` (one kecamatan's when
        the connector is for one)."""
        params: dict[str, object] = {"per_page": self.page_size}
        if since:
            params["updated_since"] = since
        if self.kode_kecamatan:
            params["kode_kecamatan"] = self.kode_kecamatan
        return self.http.pages(f"/api/v1/{stream}", params, resume=resume)

    def read_deleted(
        self, stream: str, *, since: str | None, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        spec = self.stream(stream)
        if not spec.deleted_field:
            yield from super().read_deleted(stream, since=since, result=result)
            return
        params = {"since": since} if since else None
        body = self.http.get_json(f"/api/v1/{stream}/deleted", params)
        rows = body.get("data") or []
        if rows:
            columns = [*spec.primary_key, spec.deleted_field]
            result.observe([r.get(spec.deleted_field) for r in rows])
            yield rows_to_batch(rows, columns)
