"""OSS connector against the live OSS simulator: cursor pages, incremental reads, OAuth2 token
refresh (401 and expiry), 429 + Retry-After, 5xx bursts, timeouts and truncated pages."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from connectors.base.contract import ReadResult
from connectors.base.http import HttpError, RetryPolicy, TokenAuth
from connectors.base.http_client import HttpClient
from connectors.oss import OssConnector

from .conftest import set_faults


def connector(h, *, page_size: int = 5, timeout: float = 5.0, sleeps: list | None = None):
    env = h.env()

    def sleep(s: float) -> None:
        if sleeps is not None:
            sleeps.append(s)
        time.sleep(min(s, 2.0))

    client = HttpClient(
        env["SIMPUL_OSS_URL"],
        timeout=timeout,
        retry=RetryPolicy(attempts=6, backoff_base=0.01),
        sleep=sleep,
    )
    return OssConnector(
        env["SIMPUL_OSS_URL"],
        env["SIMPUL_OSS_CLIENT_ID"],
        env["SIMPUL_OSS_CLIENT_SECRET"],
        page_size=page_size,
        client=client,
    )


def read_all(conn, since=None) -> tuple[list[dict], ReadResult]:
    result = ReadResult()
    batches = list(conn.read("izin", since=since, result=result))
    rows = pa.Table.from_batches(batches).to_pylist() if batches else []
    return rows, result


def truth(world) -> list[str]:
    return sorted(pq.read_table(world / "izin.parquet").column("nomor_izin").to_pylist())


def test_cursor_pages_are_complete_and_incremental(sims, small_world) -> None:
    conn = connector(sims["oss"], page_size=3)
    rows, result = read_all(conn)
    assert sorted(r["nomor_izin"] for r in rows) == truth(small_world)
    assert len(rows) == len({r["nomor_izin"] for r in rows}) > 6  # several pages
    stamps = [r["updated_at"] for r in rows]
    assert stamps == sorted(stamps) and result.cursor_max == stamps[-1]
    again, _ = read_all(conn, since=result.cursor_max)  # inclusive: only the newest
    assert [r["nomor_izin"] for r in again] == [
        r["nomor_izin"] for r in rows if r["updated_at"] == stamps[-1]
    ]
    assert conn.http.auth.fetches == 1


def test_token_is_fetched_again_after_revocation(sims) -> None:
    conn = connector(sims["oss"], page_size=3)
    result = ReadResult()
    gen = conn.read("izin", since=None, result=result)
    first = next(gen)
    requests.post(f"{sims['oss'].url}/admin/revoke-tokens", timeout=5)
    rest = list(gen)
    assert first.num_rows + sum(b.num_rows for b in rest) > 6
    assert conn.http.auth.fetches == 2


def test_token_is_renewed_before_it_expires() -> None:
    now = [0.0]
    issued: list[str] = []

    def fetch(session) -> tuple[str, float]:
        issued.append(f"t{len(issued) + 1}")
        return issued[-1], 60.0

    auth = TokenAuth(fetch, leeway=30, clock=lambda: now[0])
    headers: dict[str, str] = {}
    auth.apply(requests.Session(), headers, refresh=False)
    now[0] = 20.0
    auth.apply(requests.Session(), headers, refresh=False)
    assert headers["Authorization"] == "Bearer t1"
    now[0] = 31.0  # within the leeway of expiry: renew instead of waiting for a 401
    auth.apply(requests.Session(), headers, refresh=False)
    assert headers["Authorization"] == "Bearer t2" and auth.fetches == 2


def test_rate_limit_is_honoured_with_retry_after(sims, small_world) -> None:
    set_faults(sims["oss"], rate_limit=2, rate_window_s=1.0)
    sleeps: list[float] = []
    conn = connector(sims["oss"], page_size=3, sleeps=sleeps)
    rows, _ = read_all(conn)
    assert sorted(r["nomor_izin"] for r in rows) == truth(small_world)
    assert sleeps and all(s >= 1.0 for s in sleeps)  # Retry-After, not the 10 ms backoff


def test_5xx_burst_truncated_page_and_timeout_are_retried(sims, small_world) -> None:
    set_faults(sims["oss"], error_burst=2, truncate_requests=1)
    rows, _ = read_all(connector(sims["oss"], page_size=4))
    assert sorted(r["nomor_izin"] for r in rows) == truth(small_world)
    set_faults(sims["oss"], timeout_requests=1, timeout_s=2.0)
    rows, _ = read_all(connector(sims["oss"], page_size=4, timeout=0.5))
    assert sorted(r["nomor_izin"] for r in rows) == truth(small_world)


def test_wrong_secret_fails_without_leaking_it(sims) -> None:
    env = sims["oss"].env()
    conn = OssConnector(env["SIMPUL_OSS_URL"], env["SIMPUL_OSS_CLIENT_ID"], "wrong-secret")
    with pytest.raises(HttpError) as err:
        list(conn.read("izin", since=None, result=ReadResult()))
    assert "401" in str(err.value) and "wrong-secret" not in str(err.value)


def test_cursor_paginator_stops_on_a_repeated_cursor() -> None:
    class Loop(HttpClient):
        def get_json(self, path, params=None):
            return {"data": [{"a": "1"}], "next_cursor": "same"}

    pages = Loop("http://unused").paginate_cursor("/x", {})
    with pytest.raises(HttpError, match="repeated a cursor"):
        list(pages)
