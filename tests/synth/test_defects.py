"""Every injected defect appears in the ground truth, and nothing else was changed."""

from __future__ import annotations

import pyarrow as pa
import pytest

from simpul.domain import nik as nikrules
from simpul.synth.defects import DEFECT_KINDS, as_text, inject_defects

ENTITIES = ("penduduk", "keluarga", "peristiwa", "permohonan_layanan", "izin", "penerima_bantuan")


def _rows(t: pa.Table) -> list[dict]:
    return t.to_pylist()


def check_truth(clean: pa.Table, delivered: pa.Table, truth: pa.Table) -> None:
    original = _rows(as_text(clean))
    rows = _rows(delivered)
    gt = _rows(truth)
    dup_positions = {g["row_index"] for g in gt if g["kind"] == "duplicate_nik"}
    assert len(rows) == len(original) + len(dup_positions)
    by_row: dict[int, list[dict]] = {}
    for g in gt:
        by_row.setdefault(g["row_index"], []).append(g)
    assert all(len(v) == 1 for v in by_row.values()), "one defect per delivered row"
    kept = [(pos, r) for pos, r in enumerate(rows) if pos not in dup_positions]
    assert len(kept) == len(original)
    for (pos, got), want in zip(kept, original, strict=True):
        changed = {k for k in want if got[k] != want[k]}
        if not changed:
            assert pos not in by_row
            continue
        assert pos in by_row, f"unrecorded change at row {pos}: {sorted(changed)}"
        g = by_row[pos][0]
        assert g["field"] in changed
        assert got[g["field"]] == g["delivered_value"]
        assert want[g["field"]] == g["original_value"]
    for g in gt:
        if g["kind"] == "duplicate_nik":
            assert rows[g["row_index"]][g["field"]] == g["delivered_value"]
            assert g["delivered_value"] != g["original_value"]
        else:
            assert g["delivered_value"] != g["original_value"]


@pytest.mark.parametrize("entity", ENTITIES)
def test_every_defect_is_recorded(small_world, entity: str) -> None:
    clean = getattr(small_world, entity)
    delivered, truth = inject_defects(
        clean, 0.2, seed=11, entity=entity, penduduk=small_world.penduduk
    )
    assert truth.num_rows >= 0.15 * clean.num_rows
    check_truth(clean, delivered, truth)


@pytest.mark.parametrize(
    "kind",
    [k for k in DEFECT_KINDS if k not in ("deceased_receiving_assistance", "permit_unknown_nik")],
)
def test_each_penduduk_kind(small_world, kind: str) -> None:
    delivered, truth = inject_defects(small_world.penduduk, 0.02, seed=3, kinds=[kind])
    assert truth.num_rows == round(0.02 * small_world.penduduk.num_rows)
    assert set(truth.column("kind").to_pylist()) == {kind}
    check_truth(small_world.penduduk, delivered, truth)


def test_nik_defects_are_detectable(small_world) -> None:
    delivered, truth = inject_defects(
        small_world.penduduk, 0.05, seed=5, kinds=["nik_date_mismatch", "nik_sex_mismatch"]
    )
    d = delivered.to_pandas()
    bad = ~nikrules.agrees_with_birth(d["nik"], d["tanggal_lahir"], d["jenis_kelamin"])
    assert set(d.index[bad]) == set(truth.column("row_index").to_pylist())
    assert d["nik"].is_unique  # edits never collide with another person's NIK


def test_cross_entity_kinds(small_world) -> None:
    _, truth = inject_defects(
        small_world.penerima_bantuan,
        0.1,
        seed=1,
        kinds=["deceased_receiving_assistance"],
        entity="penerima_bantuan",
        penduduk=small_world.penduduk,
    )
    p = small_world.penduduk.to_pandas().set_index("nik")
    assert truth.num_rows > 0
    assert (p.loc[truth.column("delivered_value").to_pylist(), "status_dasar"] == "2").all()
    _, truth = inject_defects(
        small_world.izin,
        0.2,
        seed=1,
        kinds=["permit_unknown_nik"],
        entity="izin",
        penduduk=small_world.penduduk,
    )
    assert truth.num_rows > 0
    assert not set(truth.column("delivered_value").to_pylist()) & set(p.index)


def test_deterministic_and_validated(small_world) -> None:
    a = inject_defects(small_world.penduduk, 0.1, seed=9)
    b = inject_defects(small_world.penduduk, 0.1, seed=9)
    assert a[0].equals(b[0]) and a[1].equals(b[1])
    with pytest.raises(ValueError):
        inject_defects(small_world.penduduk, 0.1, seed=9, kinds=["permit_unknown_nik"])
    with pytest.raises(ValueError):
        inject_defects(small_world.penduduk, 0.1, seed=9, kinds=["nope"])
