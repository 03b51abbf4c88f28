"""Bench input: a synthetic OKU Timur (or a larger province slice) and the rows each agency
would deliver, written once as "source" Parquet files in the agency's own format (SIAK
upper-case columns and labels, OSS fields), all values text as the connectors land them.

Building the source rows is preparation, not a measured stage: it uses the simulators' own
row functions, so the file-based land gets the same rows the HTTP extract would.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors.base.contract import rows_to_batch

CHUNK = 50_000
DEFECT_RATE = 0.02
SOURCES = {  # pipeline -> (source, stream, cursor column) of the source file
    "siak_penduduk": ("siak", "penduduk", "UPDATED_AT"),
    "siak_keluarga": ("siak", "keluarga", "UPDATED_AT"),
    "oss_izin": ("oss", "izin", "updated_at"),
}


def make_world(out: Path, population: int | None, seed: int) -> dict[str, int]:
    """All 20 kecamatan of OKU Timur; ``population=None`` = realistic sizes (~650,000)."""
    from simpul.synth import WorldConfig, generate_world

    if (out / "world.json").exists():
        meta = json.loads((out / "world.json").read_text())
        if meta["config"]["population"] == population and meta["config"]["seed"] == seed:
            return meta["counts"]
    world = generate_world(WorldConfig(seed=seed, kecamatan=None, population=population))
    world.write(out)
    return dict(world.counts)


def _write(path: Path, rows_iter) -> int:
    writer = None
    n = 0
    columns = None
    for rows in rows_iter:
        batch = rows_to_batch(rows, columns)
        columns = columns or batch.schema.names
        if writer is None:
            writer = pq.ParquetWriter(path, batch.schema, compression="zstd")
        writer.write_batch(batch)
        n += batch.num_rows
    if writer is not None:
        writer.close()
    return n


def make_sources(world_dir: Path, src: Path, seed: int) -> dict[str, int]:
    """``<src>/<pipeline>.parquet`` in delivery order (updated_at, key), 2 % defects in SIAK
    penduduk and OSS izin, as the simulators serve them."""
    from simpul.simulators.oss import OSS_KINDS
    from simpul.simulators.siak import keluarga_row, penduduk_row
    from simpul.simulators.siak_register import SiakState
    from simpul.synth.defects import inject_defects
    from simpul.synth.world import load_world

    src.mkdir(parents=True, exist_ok=True)
    stamp = src / "sources.json"
    if stamp.exists():
        return json.loads(stamp.read_text())
    counts = {}
    state = SiakState(world_dir, DEFECT_RATE, seed)

    def chunks(stream, fn):
        frame = stream.frame
        cols = [c for c in frame.columns if not c.startswith("_")]
        for a in range(0, len(frame), CHUNK):
            yield [fn(r) for r in frame.iloc[a : a + CHUNK][cols].to_dict("records")]

    counts["siak_penduduk"] = _write(
        src / "siak_penduduk.parquet", chunks(state.people, penduduk_row)
    )
    counts["siak_keluarga"] = _write(
        src / "siak_keluarga.parquet",
        chunks(state.families, lambda r: keluarga_row(r, state.names)),
    )
    world = load_world(world_dir)
    izin, _ = inject_defects(
        world.izin, DEFECT_RATE, seed, OSS_KINDS, entity="izin", penduduk=world.penduduk,
        as_of=world.config.as_of,
    )  # fmt: skip
    izin = izin.drop_columns([c for c in ("nama_desa",) if c in izin.column_names])
    order = pc.sort_indices(izin, [("updated_at", "ascending"), ("nomor_izin", "ascending")])
    izin = izin.take(order)
    counts["oss_izin"] = _write(
        src / "oss_izin.parquet",
        (izin.slice(a, CHUNK).to_pylist() for a in range(0, izin.num_rows, CHUNK)),
    )
    stamp.write_text(json.dumps(counts))
    return counts


def make_increment(src: Path, out: Path, share: float, seed: int) -> int:
    """A delivery of ``share`` of the residents, each with a changed address (a tracked
    column, so the history grows) and an ``UPDATED_AT`` one day after the newest."""
    import numpy as np

    table = pq.read_table(src / "siak_penduduk.parquet")
    rng = np.random.default_rng(seed)
    n = max(1, int(table.num_rows * share))
    idx = np.sort(rng.choice(table.num_rows, n, replace=False))
    part = table.take(pa.array(idx))
    newest = pc.max(pc.strptime(table["UPDATED_AT"], "%Y-%m-%dT%H:%M:%SZ", "s", error_is_null=True))
    when = (newest.as_py() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    alamat = pc.binary_join_element_wise(
        pc.coalesce(part["ALAMAT"], pa.scalar("")), pa.scalar("PINDAH RT"), " "
    )
    part = part.set_column(part.schema.get_field_index("ALAMAT"), "ALAMAT", alamat)
    part = part.set_column(
        part.schema.get_field_index("UPDATED_AT"), "UPDATED_AT", pa.array([when] * n, pa.string())
    )
    pq.write_table(part, out, compression="zstd")
    return n


def timed(label: str, fn, *args, **kwargs):
    t = time.monotonic()
    out = fn(*args, **kwargs)
    print(f"  prepared {label} in {time.monotonic() - t:.1f}s", flush=True)
    return out
