"""The set-based merge of records a new source joins (``merge/joined.py``) gives exactly the rows
of the per-record survivorship, on random deliveries from three sources that disagree, tie in
time, leave values empty and deliver in any order, on both engines."""

from __future__ import annotations

import random

import pytest

from simpul.warehouse import merge
from simpul.warehouse.merge import versions
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, reset, snapshot, stage

TIMES = ["2026-10-01T08:00:00Z", "2026-10-02T08:00:00Z", "2026-10-03T08:00:00Z"]
CHOICES = {
    "DUSUN": ["DUSUN I", "DUSUN II", "DUSUN III", None],
    "NO_RT": ["001", "002", "003"],
    "NO_RW": ["001", "002"],
    "GOL_DARAH": ["A", "B", "O", None],
    "ALAMAT": ["JL. CONTOH NO. 1", "JL. MERDEKA 2", None],
    "PDDK_AKH": ["SLTA / SEDERAJAT", "DIPLOMA IV/ STRATA I"],
    "STATUS_KAWIN": ["KAWIN TERCATAT", "BELUM KAWIN"],
    "TMPT_LHR": ["MARTAPURA", "BATURAJA", None],
}


def _version(rng: random.Random, i: int) -> dict:
    values = {c: rng.choice(v) for c, v in CHOICES.items() if rng.random() < 0.6}
    if rng.random() < 0.2:
        values["NAMA_LGKP"] = f"WARGA {i} ALIAS"
    return person(i, updated=rng.choice(TIMES + [None]), **values)  # type: ignore[arg-type]


def _deliveries(seed: int) -> list[tuple[list[dict], str]]:
    rng = random.Random(seed)
    people = range(1, 41)
    out = [([_version(rng, i) for i in people if rng.random() < 0.8], "siak")]
    for source in ("opensid", "siak_export", "opensid"):
        out.append(([_version(rng, i) for i in people if rng.random() < 0.7], source))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_joined_sources_equal_per_record_path(
    seed: int, warehouse_url, monkeypatch: pytest.MonkeyPatch
):
    deliveries = _deliveries(seed)
    joined: list[int] = []
    real = versions.join_sources

    def spy(conn, wh, ent, rows, keys, **kw):
        joined.append(rows.num_rows)
        return real(conn, wh, ent, rows, keys, **kw)

    staged = [stage(rows, source) for rows, source in deliveries]
    with monkeypatch.context() as m:
        m.setattr(versions, "join_sources", spy)
        fast_written = [load(d)["rows_loaded"] for d in staged]
    fast = snapshot()
    assert joined and sum(joined) > 20  # the class is most of the second and third delivery
    reset(warehouse_url)
    with monkeypatch.context() as m:  # a list of dicts takes the per-record path throughout
        as_table = merge.version_table
        m.setattr(merge, "version_table", lambda ent, rows: as_table(ent, rows).to_pylist())
        slow_written = [load(d)["rows_loaded"] for d in staged]
    slow = snapshot()
    for table in fast:
        assert slow[table] == fast[table], table
    assert fast_written == slow_written
    assert len(fast["ops.merge_conflicts"]) > 20
