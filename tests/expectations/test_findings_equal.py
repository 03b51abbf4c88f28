"""The vectorised validation pass gives exactly GX's findings: every (row, rule) pair equal.

A synthetic world with a high defect rate is delivered as the agencies deliver it (SIAK web
service rows, OSS rows), mapped as ``transform`` maps it, and validated twice: by the
vectorised pass (``run_suite``'s default) and by GX's own ``batch.validate`` (``engine="gx"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import expectations
from simpul.mapping import Mapper, load_mapping
from simpul.validate import load_checks, run_suite

DEFECT_RATE = 0.15
# every suite in expectations/ (the other modules there build checks, they are no suite)
SUITES = sorted(
    p.stem
    for p in Path(expectations.__file__).parent.glob("*.py")
    if p.stem not in {"__init__", "common", "custom", "rules"}
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simpul.synth import WorldConfig, generate_world

    out = tmp_path_factory.mktemp("world")
    generate_world(WorldConfig(seed=11, population=2500)).write(out)
    return out


def _dinsos_rows(world: Path) -> list[dict]:
    """Dinas Sosial's recipient CSV drop, read back as its rows."""
    import csv

    from simpul.simulators.dinsos import DELIMITER, ENCODING, write_dinsos_drop

    drop = write_dinsos_drop(world, world / "drop", defect_rate=DEFECT_RATE, seed=11)
    with drop.open(encoding=ENCODING, newline="") as f:
        return list(csv.DictReader(f, delimiter=DELIMITER))


def _agency_rows(world: Path) -> dict[str, tuple[str, list[dict]]]:
    """mapping -> (suite, source rows) with defects, as the simulators serve them."""
    from simpul.simulators.oss import OSS_KINDS
    from simpul.simulators.siak import keluarga_row, penduduk_row, peristiwa_row
    from simpul.simulators.siak_register import SiakState
    from simpul.synth.defects import inject_defects
    from simpul.synth.world import load_world

    state = SiakState(world, DEFECT_RATE, 11)

    def rows(stream, fn) -> list[dict]:
        frame = stream.frame
        cols = [c for c in frame.columns if not c.startswith("_")]
        return [fn(r) for r in frame[cols].to_dict("records")]

    w = load_world(world)
    izin, _ = inject_defects(
        w.izin, DEFECT_RATE, 11, OSS_KINDS, entity="izin", penduduk=w.penduduk,
        as_of=w.config.as_of,
    )  # fmt: skip
    return {
        "siak_penduduk": ("penduduk", rows(state.people, penduduk_row)),
        "siak_keluarga": ("keluarga", rows(state.families, lambda r: keluarga_row(r, state.names))),
        "siak_peristiwa": ("peristiwa", rows(state.events, peristiwa_row)),
        "oss_izin": ("izin", izin.to_pylist()),
        "dinsos_penerima_bantuan": ("penerima_bantuan", _dinsos_rows(world)),
    }


def _mapped(mapping: str, rows: list[dict]) -> pd.DataFrame:
    """The canonical frame ``transform`` hands to ``run_suite``."""
    from simpul.pipeline.mapped import types_mapper

    mapper = Mapper(load_mapping(mapping))
    frame = pd.DataFrame(rows).astype("string")
    for col in mapper.check_columns(list(frame.columns)):
        frame[col] = pd.Series(pd.NA, index=frame.index, dtype="string")
    table, _ = mapper.apply(frame, pd.Series(range(1, len(frame) + 1)))
    return pa.Table.from_pandas(table.to_pandas(), preserve_index=False).to_pandas(
        types_mapper=types_mapper
    )


def _scramble(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """More defects than agencies make: in every text column a few values emptied, a few
    replaced by junk or by another row's value (duplicates), so every check kind fails."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = frame.copy()
    if "nominal" in out:  # amounts of zero or below
        out.loc[rng.random(len(out)) < 0.05, "nominal"] = 0
    if "nik" in out:  # OpenSID's temporary NIKs
        out.loc[rng.random(len(out)) < 0.02, "nik"] = "0"
        out.loc[rng.random(len(out)) < 0.02, "nik"] = "0160801200100001"
    if "tanggal_terbit" in out:  # expiring before issued: the two dates swapped
        swap = rng.random(len(out)) < 0.05
        issued = out.loc[swap, "tanggal_terbit"].to_numpy()
        out.loc[swap, "tanggal_terbit"] = out.loc[swap, "tanggal_berlaku_sampai"].to_numpy()
        out.loc[swap, "tanggal_berlaku_sampai"] = issued
    for col in out.columns:
        if not isinstance(out[col].dtype, pd.StringDtype):
            continue
        n = len(out)
        pick = rng.random(n)
        out.loc[pick < 0.03, col] = pd.NA
        out.loc[(pick >= 0.03) & (pick < 0.05), col] = "X1"
        copy = (pick >= 0.05) & (pick < 0.07)
        out.loc[copy, col] = out[col].sample(int(copy.sum()), random_state=seed).to_numpy()
    return out


def _pairs(failures: pd.DataFrame) -> set[tuple[int, str, str]]:
    return set(failures[["row", "rule", "severity"]].itertuples(index=False, name=None))


def test_mapping_per_distinct_value_equals_mapping_per_row(world: Path, monkeypatch) -> None:
    """Mapping on distinct values (``mapping_values.per_distinct``) gives the very table and issues
    of mapping every row."""
    import simpul.mapping as mapping_module

    def apply(mapping: str, frame: pd.DataFrame, batches: int = 1):
        """One mapper over the frame in ``batches`` parts (it remembers values across them)."""
        mapper = Mapper(load_mapping(mapping))
        for col in mapper.check_columns(list(frame.columns)):
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="string")
        numbers = pd.Series(range(1, len(frame) + 1))
        tables, issues = [], []
        for part in np.array_split(np.arange(len(frame)), batches):
            table, found = mapper.apply(frame.iloc[part], numbers.iloc[part])
            tables.append(table)
            issues += found
        return pa.concat_tables(tables), issues

    for mapping, (_, rows) in _agency_rows(world).items():
        source = pd.DataFrame(rows).astype("string")
        for frame in (source, _scramble(source, 3)):
            fast_table, fast_issues = apply(mapping, frame.copy())
            batched_table, batched_issues = apply(mapping, frame.copy(), batches=3)
            with monkeypatch.context() as m:
                m.setattr(mapping_module, "per_distinct", lambda raw, fn, memo=None: fn(raw))
                ref_table, ref_issues = apply(mapping, frame.copy())
            assert fast_table.equals(ref_table), mapping
            assert fast_issues == ref_issues, mapping
            assert batched_table.equals(ref_table), mapping
            assert sorted(batched_issues, key=repr) == sorted(ref_issues, key=repr), mapping


def test_vectorised_findings_equal_gx_findings(world: Path) -> None:
    seen_rules: set[str] = set()
    kinds: dict[str, str] = {}
    for mapping, (suite, rows) in _agency_rows(world).items():
        kinds |= {c.rule: c.spec.type for c in load_checks(suite, kabupaten="16.08")}
        for frame in (_mapped(mapping, rows), _scramble(_mapped(mapping, rows), 5)):
            seen_rules |= _compare(mapping, suite, frame)
    # the defects make many rules fail, so the comparison is not one of empty sets
    assert len(seen_rules) >= 40, seen_rules
    # and every expectation kind any suite uses fails somewhere, in both engines alike
    used = {c.spec.type for suite in SUITES for c in load_checks(suite, kabupaten="16.08")}
    assert used <= {kinds[rule] for rule in seen_rules}, used - {kinds[r] for r in seen_rules}


def _compare(mapping: str, suite: str, frame: pd.DataFrame) -> set[str]:
    """Both engines on one frame; returns the rules that failed somewhere."""
    numbers = pd.Series(range(1, len(frame) + 1))
    fast, fast_summary = run_suite(frame, suite, numbers, kabupaten="16.08")
    ref, ref_summary = run_suite(frame, suite, numbers, engine="gx", kabupaten="16.08")
    assert _pairs(fast) == _pairs(ref), mapping
    assert len(fast) == len(ref), mapping
    assert fast_summary == ref_summary, mapping
    return set(fast["rule"])
