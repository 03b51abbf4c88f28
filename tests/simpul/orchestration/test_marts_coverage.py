"""The real marts build records what it includes once, under ``marts``, and the marts DAG's
once-per-batch skip reads that record (no second record beside it): a run with nothing new
skips, a load committed later builds (incrementally, still right), and a build whose analyst
copies failed to publish is not skipped on retry (both engines)."""

from __future__ import annotations

import pytest

from simpul.orchestration import ops_dags
from simpul.reference import load_reference
from simpul.warehouse import marts, open_warehouse
from simpul.warehouse.marts import build_marts
from tests.siak_rows import person
from tests.simpul.orchestration.helpers import add_load
from tests.simpul.warehouse.helpers import load, rows, stage


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "k" * 40)


def _triggered(load_ids: list[str]) -> str:
    from airflow.sdk.exceptions import AirflowSkipException

    try:
        ops_dags.run_build_marts(load_ids, only_if_uncovered=True)
    except AirflowSkipException:
        return "skipped"
    return "built"


def _consumers() -> dict[str, set[str]]:
    wh = open_warehouse()
    try:
        out: dict[str, set[str]] = {}
        for r in wh.query("select consumer, load_id from ops.consumed_loads"):
            out.setdefault(r["consumer"], set()).add(r["load_id"])
        return out
    finally:
        wh.dispose()


def _marts() -> list[list[dict]]:
    wh = open_warehouse()
    try:
        every_column = "1, 2, 3, 4, 5, 6, 7, 8, 9"  # a total order: rows tie on month and desa
        return [
            rows(wh, "marts.penduduk", "1"),
            rows(wh, "marts.penduduk_bulanan", every_column),
        ]
    finally:
        wh.dispose()


def test_one_record_serves_the_build_and_the_skip(warehouse_url, monkeypatch):
    a = stage([person(i) for i in range(1, 6)])
    load(a)
    wh = open_warehouse()
    load_reference(wh)
    add_load(wh, "izin.1", "oss_izin", hours_ago=1)  # another pipeline: no resident versions
    wh.dispose()
    assert _triggered([a]) == "built"
    recorded = _consumers()
    assert set(recorded) == {"marts"}  # one record, no "marts_rows" beside it
    assert {a, "izin.1"} <= recorded["marts"]
    assert _triggered([a]) == "skipped" and _triggered(["izin.1"]) == "skipped"

    b = stage([person(2, updated="2026-11-02T00:00:00Z", STATUS="MATI"), person(7)])
    load(b)
    assert _triggered([b]) == "built"  # incremental, and the same rows as a full rebuild
    after = _marts()
    wh = open_warehouse()
    build_marts(wh, full=True)
    wh.dispose()
    assert _marts() == after
    assert _triggered([a, b]) == "skipped"

    c = stage([person(8)])
    load(c)

    def fail(wh, counts):
        raise RuntimeError("analyst copy failed")

    publish = marts._publish
    monkeypatch.setattr(marts, "_publish", fail)
    with pytest.raises(RuntimeError):
        _triggered([c])
    monkeypatch.setattr(marts, "_publish", publish)
    assert _triggered([c]) == "built"  # the retry publishes, not skips
    assert _triggered([c]) == "skipped"
