"""Inject the defects real agency deliveries carry, and record every one of them.

``inject_defects`` returns the delivered table (all columns as text, as files and JSON deliver
them) plus a ground-truth table with one row per injected defect, so tests and the demo can
check that the hub finds each one. At most one defect per delivered row keeps the truth exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simpul.synth.codes import regions
from simpul.synth.injector import Injector

DEFECT_KINDS = (
    "duplicate_nik",
    "nik_date_mismatch",
    "nik_sex_mismatch",
    "nik_excel_zeroed",
    "leading_apostrophe",
    "nonprinting_chars",
    "invalid_code",
    "excel_serial_date",
    "mixed_date_format",
    "village_name_variant",
    "future_date",
    "deceased_receiving_assistance",
    "permit_unknown_nik",
)
# the defects one person row of a population register can carry (not the cross-entity ones)
PERSON_KINDS = tuple(
    k for k in DEFECT_KINDS if k not in ("deceased_receiving_assistance", "permit_unknown_nik")
)
ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "penduduk": ("nik",),
    "keluarga": ("no_kk",),
    "peristiwa": ("id_peristiwa",),
    "permohonan_layanan": ("id_permohonan",),
    "izin": ("nomor_izin",),
    "penerima_bantuan": ("nik", "program", "periode"),
}
GROUND_TRUTH_SCHEMA = pa.schema(
    [
        ("entity", pa.string()),
        ("row_index", pa.int64()),
        ("record_key", pa.string()),
        ("nik", pa.string()),
        ("kind", pa.string()),
        ("field", pa.string()),
        ("original_value", pa.string()),
        ("delivered_value", pa.string()),
        ("detail", pa.string()),
    ]
)


def as_text(table: pa.Table) -> pa.Table:
    """Every column as string: dates ISO, timestamps ``YYYY-MM-DDTHH:MM:SSZ``; adds nama_desa."""
    cols: dict[str, pa.Array] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            sec = col.cast(pa.timestamp("s", tz="UTC"), safe=False)
            cols[name] = pc.strftime(sec, "%Y-%m-%dT%H:%M:%SZ")
        else:
            cols[name] = col.cast(pa.string())
    if "kode_desa" in cols and "nama_desa" not in cols:
        names = {k: v.upper() for k, (_, v) in regions().okut_villages.items()}
        cols["nama_desa"] = pa.array(
            [names.get(k) for k in cols["kode_desa"].to_pylist()], pa.string()
        )
    return pa.table(cols)


def inject_defects(
    table: pa.Table,
    rate: float,
    seed: int,
    kinds: Sequence[str] | None = None,
    *,
    entity: str = "penduduk",
    penduduk: pa.Table | None = None,
    as_of: date | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Corrupt about ``rate`` of the rows of ``table``; return (delivered, ground_truth).

    ``kinds=None`` uses every kind that applies to this entity; an explicitly requested kind
    that cannot apply raises ValueError. ``penduduk`` (the clean truth) is needed for
    deceased_receiving_assistance and keeps permit_unknown_nik / NIK edits from colliding
    with real NIKs. Delivered rows keep their order; duplicate_nik rows are inserted.
    """
    text = as_text(table)
    inj = Injector(entity, text, seed, penduduk, as_of)
    requested = list(kinds) if kinds is not None else list(DEFECT_KINDS)
    for k in requested:
        if k not in DEFECT_KINDS:
            raise ValueError(f"unknown defect kind: {k}")
    target = int(round(rate * inj.n))
    cands = {k: inj.candidates(k) if target or kinds is not None else [] for k in requested}
    usable = [k for k in requested if cands[k]]
    if kinds is not None and len(usable) < len(requested):
        missing = sorted(set(requested) - set(usable))
        raise ValueError(f"defect kinds not applicable to {entity}: {missing}")
    used: set[int] = set()
    if usable and target:
        quota = {k: target // len(usable) for k in usable}
        for k in inj.r.sample(usable, target % len(usable)):
            quota[k] += 1
        for k in usable:
            pool = [i for i in cands[k] if i not in used]
            inj.r.shuffle(pool)
            done = 0
            for i in pool:
                if done >= quota[k]:
                    break
                if inj.apply(i, k):
                    used.add(i)
                    done += 1
    return _assemble(entity, inj, text.column_names, table)


def _assemble(
    entity: str, inj: Injector, names: list[str], original: pa.Table
) -> tuple[pa.Table, pa.Table]:
    """Insert duplicate rows and translate row numbers to delivered positions."""
    after: dict[int, list[tuple[int, str]]] = {}
    for pos, src, nik in inj.duplicates:
        after.setdefault(pos, []).append((src, nik))
    order: list[tuple[int, str | None]] = []  # (source row, replacement nik or None)
    position: dict[int, int] = {}
    dup_rows: list[tuple[int, int, str]] = []  # (delivered row, source row, nik)
    for i in range(inj.n):
        position[i] = len(order)
        order.append((i, None))
        for src, nik in after.get(i, []):
            dup_rows.append((len(order), src, nik))
            order.append((src, nik))
    nf = inj.nik_col
    cols: dict[str, list] = {name: [] for name in names}
    for src, replacement in order:
        for name in names:
            cols[name].append(
                replacement if (replacement is not None and name == nf) else inj.cols[name][src]
            )
    delivered = pa.table({n: pa.array(v, pa.string()) for n, v in cols.items()})
    rows = _truth_rows(entity, inj, original, position, dup_rows)
    return delivered, pa.Table.from_pylist(rows, schema=GROUND_TRUTH_SCHEMA)


def _truth_rows(
    entity: str,
    inj: Injector,
    original: pa.Table,
    position: dict[int, int],
    dup_rows: list[tuple[int, int, str]],
) -> list[dict[str, Any]]:
    """One ground-truth row per change and per inserted duplicate, in delivered order."""
    nf = inj.nik_col
    key_cols = ENTITY_KEYS.get(entity, ())
    orig_nik = original.column(nf).to_pylist() if nf else [None] * inj.n
    orig_keys = [
        original.column(k).cast(pa.string()).to_pylist()
        for k in key_cols
        if k in original.column_names
    ]

    def key(i: int) -> str:
        return "|".join(str(col[i]) for col in orig_keys) if orig_keys else str(i)

    rows = []
    for t in inj.truth:
        i = t["row"]
        rows.append(
            {
                "entity": entity,
                "row_index": position[i],
                "record_key": key(i),
                "nik": orig_nik[i],
                **{
                    k: t[k]
                    for k in ("kind", "field", "original_value", "delivered_value", "detail")
                },
            }
        )
    for pos, src, nik in dup_rows:
        rows.append(
            {
                "entity": entity,
                "row_index": pos,
                "record_key": key(src),
                "nik": orig_nik[src],
                "kind": "duplicate_nik",
                "field": nf,
                "original_value": orig_nik[src],
                "delivered_value": nik,
                "detail": "copy of another record carrying an existing NIK",
            }
        )
    rows.sort(key=lambda x: x["row_index"])
    return rows
