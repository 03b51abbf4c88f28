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
from simpul.synth.families import YEAR, build_households
from simpul.synth.names import draw_names
from simpul.synth.nik import digits, make_nik, make_no_kk
from simpul.synth.permits import make_izin, make_permohonan

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


def _spec_by_age(rng: np.random.Generator, age_y: np.ndarray, female: np.ndarray) -> dict:
    """Education and occupation that fit the age and sex."""
    n = len(age_y)
    pend = np.empty(n, dtype=object)
    adult_bands = np.digitize(age_y, [40, 60])
    codes_, weights = codes.PENDIDIKAN_ADULT
    for band in range(3):
        m = (age_y >= 19) & (adult_bands == band)
        pend[m] = codes.pick(rng, (codes_, weights[band]), int(m.sum()))
    pend[age_y < 19] = "4"
    pend[age_y < 16] = "3"
    pend[age_y < 13] = "2"
    pend[age_y < 7] = "1"
    kerja = np.where(
        female, codes.pick(rng, codes.PEKERJAAN_FEMALE, n), codes.pick(rng, codes.PEKERJAAN_MALE, n)
    ).astype(object)
    old = age_y >= 60
    kerja[old] = codes.pick(rng, codes.PEKERJAAN_OLD, int(old.sum()))
    student = (age_y >= 6) & (age_y < 19)
    kerja[student] = "3"
    study_more = (age_y >= 19) & (age_y < 23) & (rng.random(n) < 0.3)
    kerja[study_more] = "3"
    kerja[age_y < 6] = "1"
    return {"pendidikan": pend, "pekerjaan": kerja}


def _village_layout(rng: np.random.Generator, village: str) -> tuple[str, int, int]:
    """(unit word, number of dusun/lingkungan, RT per dusun) for a village."""
    unit = "LINGKUNGAN" if village.split(".")[-1].startswith("1") else "DUSUN"
    return unit, int(rng.integers(3, 7)), int(rng.integers(2, 6))


def _addresses(rng: np.random.Generator, hh_village: np.ndarray) -> dict[str, np.ndarray]:
    n = len(hh_village)
    dusun = np.empty(n, dtype=object)
    rw = np.empty(n, dtype=object)
    rt = np.empty(n, dtype=object)
    alamat = np.empty(n, dtype=object)
    for v in np.unique(hh_village):
        m = np.flatnonzero(hh_village == v)
        unit, n_dusun, n_rt = _village_layout(rng, v)
        d = rng.integers(0, n_dusun, len(m))
        dusun[m] = np.array([f"{unit} {codes.ROMAN[i]}" for i in range(n_dusun)], dtype=object)[d]
        rw[m] = np.array([f"{i + 1:03d}" for i in range(n_dusun)], dtype=object)[d]
        rt[m] = np.array([f"{i + 1:03d}" for i in range(n_rt)], dtype=object)[
            rng.integers(0, n_rt, len(m))
        ]
        if unit == "LINGKUNGAN":
            street = np.asarray(codes.STREETS, dtype=object)[
                rng.integers(0, len(codes.STREETS), len(m))
            ]
            no = rng.integers(1, 250, len(m))
            alamat[m] = [f"{s} NO. {k}" for s, k in zip(street, no, strict=True)]
        else:
            alamat[m] = dusun[m]
    return {"dusun": dusun, "rw": rw, "rt": rt, "alamat": alamat}


def generate_world(config: WorldConfig | None = None) -> World:
    """Generate the clean truth for the configured kecamatan (see module docstring)."""
    cfg = config or WorldConfig()
    ss = np.random.SeedSequence(cfg.seed)
    (s_struct, s_place, s_person, s_nik, s_names, s_events, s_permit, s_bantuan) = ss.spawn(8)
    as_of = np.datetime64(cfg.as_of.isoformat(), "D")
    reg = codes.regions()

    # --- households per kecamatan -------------------------------------------------------
    parts = []
    hh_offset = 0
    person_offset = 0
    struct_seeds = s_struct.spawn(len(cfg.kecamatan_codes()))
    for (kec, size), sseed in zip(cfg.sizes().items(), struct_seeds, strict=True):
        st = build_households(int(sseed.generate_state(1)[0]), size)
        df = pd.DataFrame(
            {
                "household": st.household + hh_offset,
                "shdk": st.shdk,
                "female": st.female,
                "age_days": st.age_days,
                "status_perkawinan": st.kawin,
                "father": np.where(st.father >= 0, st.father + person_offset, -1),
                "mother": np.where(st.mother >= 0, st.mother + person_offset, -1),
                "kecamatan": kec,
            }
        )
        parts.append(df)
        hh_offset += st.n_households
        person_offset += size
    p = pd.concat(parts, ignore_index=True)
    n = len(p)
    n_hh = hh_offset
    rng = np.random.default_rng(s_place)

    # --- households: village, address, KK ----------------------------------------------
    hh_kec = p.groupby("household")["kecamatan"].first().reindex(range(n_hh)).to_numpy()
    hh_village = np.empty(n_hh, dtype=object)
    for kec in cfg.kecamatan_codes():
        vill = codes.villages_of(kec)
        w = rng.lognormal(0.0, 0.45, len(vill))
        m = np.flatnonzero(hh_kec == kec)
        hh_village[m] = np.asarray(vill, dtype=object)[rng.choice(len(vill), len(m), p=w / w.sum())]
    addr = _addresses(rng, hh_village)
    hh_moved_in = rng.random(n_hh) < 0.04
    head_age = p[p["shdk"] == "1"].set_index("household")["age_days"].reindex(range(n_hh))
    head_age = head_age.fillna(30 * YEAR).to_numpy()
    earliest = np.maximum(
        as_of - (head_age - 18 * YEAR).clip(0).astype("timedelta64[D]"),
        np.datetime64("2006-01-01"),
    )
    span = np.maximum((as_of - np.timedelta64(30, "D") - earliest).astype(int), 1)
    issued = earliest + (rng.random(n_hh) * span).astype("timedelta64[D]")
    hh_region6 = np.array([digits(k) for k in hh_kec], dtype=object)
    no_kk = make_no_kk(np.random.default_rng(s_nik.spawn(1)[0]), hh_region6, issued)

    hh = p["household"].to_numpy()
    p["kode_desa"] = hh_village[hh]
    for k, v in addr.items():
        p[k] = v[hh]
    p["no_kk"] = no_kk[hh]
    p["moved_in"] = hh_moved_in[hh]

    # --- persons ---------------------------------------------------------------------------
    rng = np.random.default_rng(s_person)
    female = p["female"].to_numpy()
    age_y = p["age_days"].to_numpy() / YEAR
    born = as_of - p["age_days"].to_numpy().astype("timedelta64[D]")
    p["born"] = born
    # first-registration region: home kecamatan, another OKU Timur kecamatan, or elsewhere
    # in Sumatera Selatan (always elsewhere for households that moved in)
    home = np.array([digits(k) for k in p["kecamatan"]], dtype=object)
    okut = np.array([digits(k) for k in reg.okut_districts], dtype=object)
    sumsel = np.array(
        sorted(digits(k) for k in reg.sumsel_districts if not k.startswith("16.08")), dtype=object
    )
    u = rng.random(n)
    region6 = home.copy()
    near = (u < 0.09) | (p["moved_in"].to_numpy() & (u < 0.4))
    far = (u >= 0.94) | (p["moved_in"].to_numpy() & (u >= 0.4))
    region6[near] = okut[rng.integers(0, len(okut), n)][near]
    region6[far] = sumsel[rng.integers(0, len(sumsel), n)][far]
    region6[p["moved_in"].to_numpy() & (region6 == home)] = sumsel[0]
    # children born here are registered here
    kid = age_y < 17
    region6[kid & ~p["moved_in"].to_numpy()] = home[kid & ~p["moved_in"].to_numpy()]
    # birthplace: the kecamatan name inside OKU Timur, else the regency / city name
    town = {
        digits(k): v.replace("Kabupaten ", "").replace("Kota ", "").upper()
        for k, v in reg.regencies.items()
    }
    place = {
        digits(k): (v.upper() if k.startswith("16.08") else town[digits(k)[:4]])
        for k, v in reg.sumsel_districts.items()
    }
    tempat = np.array([place[r] for r in region6], dtype=object)
    far_born = (age_y > 40) & (rng.random(n) < 0.2)
    tempat[far_born] = np.asarray(codes.BIRTHPLACES_FAR, dtype=object)[
        rng.integers(0, len(codes.BIRTHPLACES_FAR), n)
    ][far_born]

    nik = make_nik(np.random.default_rng(s_nik), region6, born, female)
    if len(set(nik)) != n:
        raise RuntimeError("generated NIKs are not unique")
    p["nik"] = nik
    rng_names = np.random.default_rng(s_names)
    p["nama_lengkap"] = draw_names(rng_names, female)
    father_names = draw_names(rng_names, np.zeros(n, dtype=bool))
    mother_names = draw_names(rng_names, np.ones(n, dtype=bool))
    fa = p["father"].to_numpy()
    mo = p["mother"].to_numpy()
    names = p["nama_lengkap"].to_numpy()
    p["nik_ayah"] = np.where(fa >= 0, nik[np.maximum(fa, 0)], None)
    p["nama_ayah"] = np.where(fa >= 0, names[np.maximum(fa, 0)], father_names)
    p["nik_ibu"] = np.where(mo >= 0, nik[np.maximum(mo, 0)], None)
    p["nama_ibu"] = np.where(mo >= 0, names[np.maximum(mo, 0)], mother_names)

    hh_agama = codes.pick(rng, codes.AGAMA, n_hh)
    p["agama"] = hh_agama[hh]
    p["golongan_darah"] = codes.pick(rng, codes.GOLONGAN_DARAH, n)
    p["kewarganegaraan"] = np.where(rng.random(n) < 0.0002, "2", "1").astype(object)
    for k, v in _spec_by_age(rng, age_y, female).items():
        p[k] = v
    p["jenis_kelamin"] = np.where(female, "2", "1").astype(object)
    p["tempat_lahir"] = tempat

    # --- events --------------------------------------------------------------------------
    ev_rng = np.random.default_rng(s_events)
    origin = np.array([f"{r[:2]}.{r[2:4]}.{r[4:6]}" for r in region6], dtype=object)
    peristiwa = apply_events(ev_rng, p, as_of, cfg.event_years, origin)

    # --- permits, services, assistance --------------------------------------------------------
    prng = np.random.default_rng(s_permit)
    adults = p[(p["status_dasar"] == "1") & (age_y >= 17)].reset_index(drop=True)
    owners = adults[adults["pekerjaan"].isin(["88", "84", "8", "9", "12", "35"])]
    owners = owners.reset_index(drop=True)
    permohonan = make_permohonan(prng, adults, as_of, cfg.event_years)
    izin = make_izin(prng, owners if len(owners) else adults, as_of)
    bantuan = make_bantuan(np.random.default_rng(s_bantuan), p, as_of)

    # --- keluarga ------------------------------------------------------------------------
    heads = p[p["shdk"] == "1"].set_index("household")
    grp = p.groupby("household")
    kel = pd.DataFrame(
        {
            "no_kk": no_kk,
            "nik_kepala": heads["nik"].reindex(range(n_hh)).to_numpy(),
            "kode_desa": hh_village,
            "dusun": addr["dusun"],
            "rw": addr["rw"],
            "rt": addr["rt"],
            "alamat": addr["alamat"],
            "jumlah_anggota": grp.size().reindex(range(n_hh)).to_numpy(),
            "tanggal_terbit": issued,
            "updated_at": grp["updated_at"].max().reindex(range(n_hh)).to_numpy(),
        }
    )
    kel = kel.sort_values("no_kk", kind="stable").reset_index(drop=True)

    pend = p[[f.name for f in PENDUDUK_SCHEMA if f.name != "tanggal_lahir"]].copy()
    pend.insert(5, "tanggal_lahir", born)
    penduduk = _to_table(pend, PENDUDUK_SCHEMA)
    world = World(
        config=cfg,
        penduduk=penduduk,
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
