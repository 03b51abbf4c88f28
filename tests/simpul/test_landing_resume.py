"""Partial deliveries: pages landed as parts, invisible until sealed, resumed by a run asking the
same thing, discarded by one asking something else; the safe cursor after a resume."""

from __future__ import annotations

import pyarrow as pa
import pytest

from simpul.landing import LandingError, find_manifest
from simpul.landing_resume import PROGRESS, PartialDelivery, partial_deliveries


def _batch(start: int, n: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "NIK": [str(i) for i in range(start, start + n)],
            "UPDATED_AT": [f"2026-01-{1 + i % 28:02d}" for i in range(start, start + n)],
        }
    )


def test_parts_resume_and_seal(tmp_path):
    req = {"since": "2026-01-01", "until": None}
    p = PartialDelivery.open(tmp_path, "siak", "penduduk", req)
    p.start_run(0)
    p.append(_batch(0, 3), {"page": 2}, ("2026-01-01", "2026-01-03"), 1000)
    p.append(None, {"page": 3}, ("2026-01-01", "2026-01-03"), 1200)  # an empty page
    with pytest.raises(LandingError, match="no sealed delivery"):
        find_manifest(tmp_path, p.load_id)  # nothing half-pulled is visible
    assert partial_deliveries(tmp_path)[0]["rows"] == 3

    again = PartialDelivery.open(tmp_path, "siak", "penduduk", req)  # the rerun
    assert again.load_id == p.load_id and again.resume == {"page": 3} and again.resumed
    again.start_run(0)  # a new process: its counter starts at zero
    again.append(_batch(3, 2), {"done": True}, ("2026-01-01", "2026-01-05"), 300)
    assert again.safe_cursor() == "2026-01-03"  # the last change seen before the break
    m = again.seal(cursor_from="2026-01-01", cursor_to=again.safe_cursor())
    assert m.row_count == 5 and m.bytes_transferred == 1500 and m.pull_runs == 2
    assert find_manifest(tmp_path, m.load_id).sha256 == m.sha256
    folder = tmp_path / "siak" / "penduduk" / m.load_id
    assert not (folder / "parts").exists() and not (folder / PROGRESS).exists()
    assert partial_deliveries(tmp_path) == []


def test_a_run_asking_for_something_else_discards_the_partial(tmp_path):
    p = PartialDelivery.open(tmp_path, "siak", "penduduk", {"since": "a"})
    p.append(_batch(0, 1), {"page": 2}, (None, None), None)
    q = PartialDelivery.open(tmp_path, "siak", "penduduk", {"since": None})  # full refresh
    assert q.load_id != p.load_id and not p.folder.exists() and not q.resumed


def test_resume_before_any_data_keeps_the_normal_cursor(tmp_path):
    p = PartialDelivery.open(tmp_path, "siak", "penduduk", {})
    again = PartialDelivery.open(tmp_path, "siak", "penduduk", {})
    again.append(_batch(0, 2), {"done": True}, ("2026-01-01", "2026-01-02"), None)
    assert again.load_id == p.load_id and again.safe_cursor() == "2026-01-02"
