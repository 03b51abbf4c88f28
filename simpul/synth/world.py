"""``generate_world``: a seeded, reproducible synthetic kecamatan (or all of OKU Timur).

Same config -> byte-identical parquet files. All randomness flows from one ``SeedSequence``
spawned per part, so changing e.g. the permit generator does not reshuffle the population.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simpul.synth import codes
from simpul.synth.bantuan import make_bantuan
from simpul.synth.events import apply_events
from simpul.synth.families import YEAR
from simpul.synth.permits import make_izin, make_permohonan
from simpul.synth.population import (
    Households,
    birthplaces,
    describe_people,
    household_members,
    name_people,
    place_households,
    registration_regions,
)

TABLES = ("penduduk", "keluarga", "peristiwa", "permohonan_layanan", "izin", "penerima_bantuan")
UTC_US = pa.timestamp("us", tz="UTC")

PENDUDUK_SCHEMA = pa.schema(
    [
        ("nik", pa.string()),
        ("no_kk", pa.string()),
        ("nama_lengkap", pa.string()),
        ("jenis_kelamin", pa.string()),
        ("tempat_lahir", pa.string()),
        ("tanggal_lahir", pa.date32()),
        ("agama", pa.string()),
        ("status_perkawinan", pa.string()),
        ("shdk", pa.string()),
        ("pendidikan", pa.string()),
        ("pekerjaan", pa.string()),
        ("golongan_darah", pa.string()),
        ("kewarganegaraan", pa.string()),
        ("nik_ayah", pa.string()),
        ("nama_ayah", pa.string()),
        ("nik_ibu", pa.string()),
        ("nama_ibu", pa.string()),
        ("kode_desa", pa.string()),
        ("dusun", pa.string()),
        ("rw", pa.string()),
        ("rt", pa.string()),
        ("alamat", pa.string()),
        ("status_dasar", pa.string()),
        ("updated_at", UTC_US),
    ]
)


@dataclass(frozen=True)
class WorldConfig:
    """What to generate. ``population=None`` uses realistic sizes (Martapura ~64,000)."""

    seed: int = 42
    kecamatan: tuple[str, ...] | None = ("16.08.01",)  # None = all 20 of OKU Timur
    population: int | None = None
    as_of: date = date(2026, 11, 1)
    event_years: int = 3

    def kecamatan_codes(self) -> tuple[str, ...]:
        return tuple(self.kecamatan) if self.kecamatan else tuple(codes.regions().okut_districts)

    def sizes(self) -> dict[str, int]:
        """People per kecamatan: defaults, or ``population`` split in proportion to them."""
        kec = self.kecamatan_codes()
        default = np.array([codes.default_population(k) for k in kec], dtype=float)
        if self.population is None:
            return dict(zip(kec, default.astype(int).tolist(), strict=True))
        share = default / default.sum() * self.population
        n = np.floor(share).astype(int)
        n[np.argsort(-(share - n), kind="stable")[: self.population - n.sum()]] += 1
        return dict(zip(kec, n.tolist(), strict=True))


@dataclass
class World:
    config: WorldConfig
    penduduk: pa.Table
    keluarga: pa.Table
    peristiwa: pa.Table
    permohonan_layanan: pa.Table
    izin: pa.Table
    penerima_bantuan: pa.Table
    counts: dict[str, int] = field(default_factory=dict)

    def tables(self) -> dict[str, pa.Table]:
        return {name: getattr(self, name) for name in TABLES}

    def write(self, out_dir: Path | str) -> Path:
        """``<name>.parquet`` per table plus world.json (config and counts), reproducibly."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables().items():
            pq.write_table(table, out / f"{name}.parquet", compression="zstd")
        meta = {
            "config": {
                **asdict(self.config),
                "as_of": self.config.as_of.isoformat(),
                "kecamatan": list(self.config.kecamatan_codes()),
            },
            "counts": {name: t.num_rows for name, t in self.tables().items()},
        }
        (out / "world.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return out


def load_world(world_dir: Path | str) -> World:
    """Read a world written by ``World.write``."""
    d = Path(world_dir)
    meta = json.loads((d / "world.json").read_text())
    c = meta["config"]
    cfg = WorldConfig(
        seed=c["seed"],
        kecamatan=tuple(c["kecamatan"]),
        population=c["population"],
        as_of=date.fromisoformat(c["as_of"]),
        event_years=c.get("event_years", 3),
    )
    tables = {name: pq.read_table(d / f"{name}.parquet") for name in TABLES}
    return World(config=cfg, counts=meta["counts"], **tables)


def generate_world(config: WorldConfig | None = None) -> World:
    """Generate the clean truth for the configured kecamatan (see module docstring)."""
    cfg = config or WorldConfig()
    ss = np.random.SeedSequence(cfg.seed)
    (s_struct, s_place, s_person, s_nik, s_names, s_events, s_permit, s_bantuan) = ss.spawn(8)
    as_of = np.datetime64(cfg.as_of.isoformat(), "D")

    p, n_hh = household_members(cfg.sizes(), s_struct.spawn(len(cfg.kecamatan_codes())))
    households = place_households(
        np.random.default_rng(s_place), p, n_hh, cfg.kecamatan_codes(), as_of, s_nik
    )
    rng = np.random.default_rng(s_person)
    age_y = p["age_days"].to_numpy() / YEAR
    born = as_of - p["age_days"].to_numpy().astype("timedelta64[D]")
    p["born"] = born
    region6 = registration_regions(rng, p)
    tempat = birthplaces(rng, region6, age_y)
    name_people(p, region6, born, s_nik, s_names)
    describe_people(rng, p, n_hh)
    p["tempat_lahir"] = tempat

    origin = np.array([f"{r[:2]}.{r[2:4]}.{r[4:6]}" for r in region6], dtype=object)
    peristiwa = apply_events(np.random.default_rng(s_events), p, as_of, cfg.event_years, origin)

    prng = np.random.default_rng(s_permit)
    adults = p[(p["status_dasar"] == "1") & (age_y >= 17)].reset_index(drop=True)
    owners = adults[adults["pekerjaan"].isin(["88", "84", "8", "9", "12", "35"])]
    owners = owners.reset_index(drop=True)
    permohonan = make_permohonan(prng, adults, as_of, cfg.event_years)
    izin = make_izin(prng, owners if len(owners) else adults, as_of)
    bantuan = make_bantuan(np.random.default_rng(s_bantuan), p, as_of)

    pend = p[[f.name for f in PENDUDUK_SCHEMA if f.name != "tanggal_lahir"]].copy()
    pend.insert(5, "tanggal_lahir", born)
    kel = _keluarga(p, households, n_hh)
    world = World(
        config=cfg,
        penduduk=_to_table(pend, PENDUDUK_SCHEMA),
        keluarga=_to_table(
            kel, _schema(kel, {"tanggal_terbit": pa.date32(), "jumlah_anggota": pa.int32()})
        ),
        peristiwa=_to_table(peristiwa, _schema(peristiwa, {"tanggal_peristiwa": pa.date32()})),
        permohonan_layanan=_to_table(
            permohonan,
            _schema(permohonan, {"tanggal_diterima": pa.date32(), "tanggal_selesai": pa.date32()}),
        ),
        izin=_to_table(
            izin,
            _schema(izin, {"tanggal_terbit": pa.date32(), "tanggal_berlaku_sampai": pa.date32()}),
        ),
        penerima_bantuan=_to_table(bantuan, _schema(bantuan, {"nominal": pa.int64()})),
    )
    world.counts = {name: t.num_rows for name, t in world.tables().items()}
    return world


def _keluarga(p: pd.DataFrame, households: Households, n_hh: int) -> pd.DataFrame:
    """One row per KK, ordered by its number: head, address, size, last change."""
    heads = p[p["shdk"] == "1"].set_index("household")
    grp = p.groupby("household")
    addr = households.address
    kel = pd.DataFrame(
        {
            "no_kk": households.no_kk,
            "nik_kepala": heads["nik"].reindex(range(n_hh)).to_numpy(),
            "kode_desa": households.village,
            "dusun": addr["dusun"],
            "rw": addr["rw"],
            "rt": addr["rt"],
            "alamat": addr["alamat"],
            "jumlah_anggota": grp.size().reindex(range(n_hh)).to_numpy(),
            "tanggal_terbit": households.issued,
            "updated_at": grp["updated_at"].max().reindex(range(n_hh)).to_numpy(),
        }
    )
    return kel.sort_values("no_kk", kind="stable").reset_index(drop=True)


def _schema(df: pd.DataFrame, special: dict[str, pa.DataType]) -> pa.Schema:
    fields = []
    for c in df.columns:
        if c in special:
            fields.append((c, special[c]))
        elif c == "updated_at":
            fields.append((c, UTC_US))
        else:
            fields.append((c, pa.string()))
    return pa.schema(fields)


def _to_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    cols = {}
    for f in schema:
        s = df[f.name]
        if pa.types.is_timestamp(f.type):
            arr = pa.array(
                pd.to_datetime(s).dt.tz_localize("UTC").astype("datetime64[us, UTC]"), type=f.type
            )
        elif pa.types.is_date32(f.type):
            arr = pa.array(pd.to_datetime(s).dt.date, type=f.type)
        elif pa.types.is_string(f.type):
            arr = pa.array(s.to_numpy(dtype=object), type=f.type, from_pandas=True)
        else:
            arr = pa.array(s.to_numpy(), type=f.type)
        cols[f.name] = arr
    return pa.table(cols, schema=schema)
