"""OSS pulls resume at the server's opaque cursor: the pages after a break, nothing before."""

from __future__ import annotations

from connectors.base.contract import ReadResult
from connectors.oss import OssConnector


def _oss(h) -> OssConnector:
    env = h.env()
    return OssConnector(
        env["SIMPUL_OSS_URL"],
        env["SIMPUL_OSS_CLIENT_ID"],
        env["SIMPUL_OSS_CLIENT_SECRET"],
        page_size=3,
        agency="DPMPTSP OKU Timur",
    )


def _keys(batches) -> list[str]:
    return [k for b in batches if b is not None for k in b.column("nomor_izin").to_pylist()]


def test_oss_pull_resumes_at_the_cursor(sims):
    h = sims["oss"]
    full = _keys(b for b, _ in _oss(h).read_pages("izin", since=None, result=ReadResult()))
    assert len(full) > 9

    first = _oss(h)
    pages = first.read_pages("izin", since=None, result=ReadResult())
    got = [next(pages) for _ in range(3)]  # then the link dies
    state = got[-1][1]
    assert state["cursor"] and state["pages"] == 3 and state["columns"]

    again = _oss(h)
    rest = list(again.read_pages("izin", since=None, result=ReadResult(), resume=state))
    assert _keys(b for b, _ in got) + _keys(b for b, _ in rest) == full  # no gap, no repeat
    assert again.http.progress.pages == 3 + len(rest) and rest[-1][1]["done"]
    # the schema of the resumed pages is the one landed before the break
    assert rest[0][0].schema.names == got[0][0].schema.names
