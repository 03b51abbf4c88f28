"""Incremental marts on DuckDB and PostgreSQL: after deliveries that move, kill, add and correct
residents (backdated too), rebuilding only what they touched gives exactly the rows of a full
rebuild, and touches only those residents."""

from __future__ import annotations

from datetime import date

import pytest

from simpul.reference import load_reference
from simpul.warehouse import marts, open_warehouse
from simpul.warehouse.marts import build_marts
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, rows, stage

KEY = "k" * 40
KOTA_BARU = dict(NO_KEL="2009", KEL_NAME="KOTA BARU")
START = date(2026, 9, 1)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", KEY)
    return KEY


def _marts(wh) -> list[list[dict]]:
    return [
        rows(wh, "marts.penduduk", "1"),
        rows(wh, "marts.penduduk_bulanan", "1, 2, 3, 4, 5, 6, 7, 8, 9"),
    ]


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the pseudonyms a build computes (one per touched resident, not per resident)."""
    seen: list[str] = []
    real = marts.pseudonymise

    def spy(value, key, purpose="nik"):
        seen.append(purpose)
        return real(value, key, purpose)

    monkeypatch.setattr(marts, "pseudonymise", spy)
    return seen


def test_incremental_equals_full_rebuild(warehouse_url, key, monkeypatch):
    people = [person(i, **(KOTA_BARU if i % 3 == 0 else {})) for i in range(1, 21)]
    load(stage(people))
    wh = open_warehouse()
    load_reference(wh)
    first = build_marts(wh, start=START, end=date(2026, 10, 20))
    load(
        stage(
            [
                person(1, updated="2026-11-10T08:00:00Z", **KOTA_BARU),  # moved
                person(2, updated="2026-11-02T00:00:00Z", STATUS="MATI"),  # died
                person(21, updated="2026-11-05T00:00:00Z"),  # new
                person(4, updated="2026-09-15T00:00:00Z", PDDK_AKH="DIPLOMA IV/STRATA I"),
            ]
        )
    )
    seen = _counting(monkeypatch)
    incremental = build_marts(wh, start=START, end=date(2026, 11, 15))
    assert 0 < len(seen) <= 3 * 4  # the touched residents only (first build: 2 x 20)
    after = _marts(wh)
    assert build_marts(wh, start=START, end=date(2026, 11, 15), full=True) == incremental
    assert _marts(wh) == after
    assert incremental["marts.penduduk"] == first["marts.penduduk"]  # -1 died, +1 new

    # a corrected religion (kept in core, not in the history) changes every month the
    # resident was counted in
    load(stage([person(5, updated="2026-11-12T00:00:00Z", AGAMA="KRISTEN")]))
    build_marts(wh, start=START, end=date(2026, 11, 15))
    after = _marts(wh)
    build_marts(wh, start=START, end=date(2026, 11, 15), full=True)
    assert _marts(wh) == after

    # nothing new: nothing recomputed, same rows
    seen.clear()
    build_marts(wh, start=START, end=date(2026, 11, 15))
    assert seen == [] and _marts(wh) == after
    wh.dispose()


def test_another_key_rebuilds_everything(warehouse_url, key, monkeypatch):
    load(stage([person(i) for i in range(1, 6)]))
    wh = open_warehouse()
    build_marts(wh, start=START, end=date(2026, 10, 20))
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "z" * 40)
    seen = _counting(monkeypatch)
    build_marts(wh, start=START, end=date(2026, 10, 20))
    assert len(seen) == 2 * 5
    assert {r["kunci_id"] for r in wh.query("select kunci_id from marts.penduduk")} == {
        marts.key_id(b"z" * 40)
    }
    wh.dispose()
