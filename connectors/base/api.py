"""A REST source read as JSON pages: one :class:`HttpClient` per connector (timeouts, retry
budget, token auth) and :meth:`read_pages` written once, so an API connector says only how to
log in and which pages to fetch (:meth:`ApiConnector.json_pages`)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from connectors.base.contract import PagedConnector, ReadResult, rows_to_batch
from connectors.base.http import RetryPolicy
from connectors.base.http_client import HttpClient

JsonPages = Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]


class ApiConnector(PagedConnector):
    """Base of the API connectors: ``self.http`` talks to ``base_url`` (or is ``client``)."""

    def __init__(
        self,
        base_url: str,
        *,
        agency: str,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        client: HttpClient | None = None,
    ) -> None:
        self.http = client or HttpClient(
            base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retry=retry or RetryPolicy(),
            agency=agency,
        )

    @abstractmethod
    def json_pages(
        self, stream: str, since: str | None, resume: dict[str, Any] | None
    ) -> JsonPages:
        """The stream's pages as ``(rows, state)`` from the client's pagination."""

    def read_pages(
        self,
        stream: str,
        *,
        since: str | None,
        result: ReadResult,
        resume: dict[str, Any] | None = None,
    ) -> Iterator[tuple[pa.RecordBatch | None, dict[str, Any]]]:
        """Pages as ``(batch, state)``; ``resume=state`` continues after that page with the
        same column order (the columns travel in the state)."""
        spec = self.stream(stream)
        columns: list[str] | None = (resume or {}).get("columns")
        for rows, state in self.json_pages(stream, since, resume):
            batch = None
            if rows:
                batch = rows_to_batch(rows, columns)
                columns = columns or batch.schema.names
                if spec.cursor_field:
                    result.observe([r.get(spec.cursor_field) for r in rows])
            yield batch, {**state, "columns": columns}
