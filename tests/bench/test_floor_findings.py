"""The benchmark's floor does the hub's work: its findings equal the hub's, (row, rule) by
(row, rule), on the benchmark world and on a delivery full of awkward values.

This is the yardstick's guard (issue 18): if the hub's validation or mapping is made faster, or
the floor's SQL is edited, and one finding changes, this fails and names the rule. The hub runs
its real transform in its own process (as the benchmark does); the floor runs in this one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench import data, floor
from bench.__main__ import Bench
from bench.province import hub_env

# (column, value) written over successive rows: every mapping and suite rule gets work
AWKWARD = [
    ("NIK", "16.08.01-4101900001.0"), ("NIK", "'1608014101900001"), ("NIK", "abc"),
    ("NIK", "0"), ("NIK", "0160801200100001"), ("NIK", "1608013102900001"),
    ("NIK", "9908014101900001"), ("NIK", "1608014101900000"), ("NIK", None),
    ("NIK", "1701014101900001"),
    ("TGL_LHR", "1/3/1990"), ("TGL_LHR", "1990-03-01"), ("TGL_LHR", "34703"),
    ("TGL_LHR", "34703.0"), ("TGL_LHR", "31-02-1990"), ("TGL_LHR", "01-01-2999"),
    ("TGL_LHR", "01-01-1850"), ("TGL_LHR", ""), ("TGL_LHR", "-"), ("TGL_LHR", "1.5.1990"),
    ("NO_RT", "0"), ("NO_RT", "1.0"), ("NO_RT", "12"), ("NO_RT", "1234"), ("NO_RT", "-"),
    ("NO_RW", "abc"), ("NO_RW", " 7 "),
    ("JENIS_KLMIN", "L"), ("JENIS_KLMIN", "pr"), ("JENIS_KLMIN", " laki - laki"),
    ("JENIS_KLMIN", "X"), ("JENIS_KLMIN", None),
    ("STATUS", "HIDUP "), ("STATUS", "mati"), ("STATUS", "unknown"), ("STATUS", None),
    ("GOL_DARAH", "TDK TH"), ("GOL_DARAH", "-"), ("GOL_DARAH", "Z"),
    ("STATUS_KAWIN", "KAWIN"), ("STATUS_KAWIN", "CERAI HIDUP"), ("STAT_HBKEL", "ORANG TUA"),
    ("AGAMA", "islam"), ("AGAMA", "\u200bISLAM\u00a0"), ("PDDK_AKH", "?"), ("JENIS_PKRJN", "?"),
    ("NAMA_LGKP", "\u200bNAMA  \tSAJA"), ("NAMA_LGKP", "X" * 120), ("NAMA_LGKP", ""),
    ("NAMA_LGKP", "'`"), ("ALAMAT", "Y" * 300), ("TMPT_LHR", "\x07"),
    ("NO_KK", "123"), ("NO_KK", "1608010101000000"), ("NO_KK", "1608013202900001"),
    ("NO_KK", "9908010101900001"), ("NO_KK", "1608010101900000"),
    ("NO_KEL", "9999"), ("NO_KAB", "07"), ("NO_KEC", None), ("NO_PROP", "1"),
    ("KEL_NAME", "DESA XYZ"), ("KEL_NAME", "-"),
    ("UPDATED_AT", "garbage"), ("UPDATED_AT", "2020-01-01"), ("UPDATED_AT", None),
    ("NIK_AYAH", "1608014101900009"), ("NIK_IBU", "x1"), ("NIK_IBU", "1608 0141 0190 0009"),
    ("DUSUN", " DUSUN  I "), ("TMPT_LHR", "BATU\u3000RAJA"), ("DUSUN", "-"),
    ("NAMA_LGKP_AYAH", "\u2019BUDI"), ("AGAMA", "KRISTEN\u2003PROTESTAN"), ("NO_KEL", "2.001"),
]  # fmt: skip


def _awkward(src: Path, out: Path) -> None:
    """The source delivery with AWKWARD written over rows 10, 17, 24, ... (one value a row),
    a child made head of family, and one row delivered twice."""
    t = pq.read_table(src)
    cols = {c: t.column(c).to_pylist() for c in t.column_names}
    for i, (col, value) in enumerate(AWKWARD):
        cols[col][10 + 7 * i] = value
    j = 10 + 7 * len(AWKWARD)
    cols["TGL_LHR"][j], cols["STAT_HBKEL"][j] = "01-01-2020", "KEPALA KELUARGA"
    for c in cols:
        cols[c].append(cols[c][3])  # an exact copy of row 4
    pq.write_table(pa.table({c: pa.array(v, pa.string()) for c, v in cols.items()}), out)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("floor")
    data.make_world(d / "world", 2_000, seed=5)
    data.make_sources(d / "world", d / "src", seed=5)
    _awkward(d / "src" / "siak_penduduk.parquet", d / "src" / "awkward.parquet")
    data.make_increment(d / "src", d / "src" / "inc.parquet", 0.05, seed=5)
    return d


@pytest.mark.parametrize("delivery", ["siak_penduduk", "awkward"])
def test_floor_findings_equal_the_hubs(world: Path, delivery: str) -> None:
    home = world / f"home-{delivery}"
    env = hub_env(home, None)
    b = Bench(world, delivery, env)
    db = str(world / f"floor-{delivery}.duckdb")
    files = [world / "src" / f"{delivery}.parquet"]
    if delivery == "siak_penduduk":
        files.append(world / "src" / "inc.parquet")  # history, rows equal to the current record
    for n, file in enumerate(files):
        landed = b.stage(
            "land_file", delivery, "-",
            {"file": str(file), "source": "siak", "stream": "penduduk", "cursor": "UPDATED_AT"},
        )  # fmt: skip
        load_id = landed["load_id"]
        hub = b.stage("transform", delivery, "-", {"pipeline": "siak_penduduk", "load_id": load_id})
        b.stage("load", delivery, "duckdb", {"pipeline": "siak_penduduk", "load_id": load_id})
        landed_file = home / "landing" / "siak" / "penduduk" / load_id / "data.parquet"
        found = world / f"floor-{delivery}-{n}.parquet"
        mine = floor.run(
            {"file": str(landed_file), "db": db, "load_id": load_id, "findings": str(found)}
        )
        c = floor.compare(
            pd.read_parquet(Path(hub["staging"]) / "findings.parquet"), pd.read_parquet(found)
        )
        assert c["equal"], f"findings differ (rule: [hub-only, floor-only]): {c['by_rule']}"
        for k in ("quarantined", "warned", "valid", "duplicate"):
            assert mine[k] == hub[k], (k, mine[k], hub[k])
        assert mine["core_rows"] > 0
        if n == 0:
            assert hub["quarantined"] > 0
