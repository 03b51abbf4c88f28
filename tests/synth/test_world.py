"""Clean synthetic world: reproducible bytes, valid NIKs, sane families, canonical codes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from simpul.domain import nik as nikrules
from simpul.synth import TABLES, WorldConfig, generate_world, load_world
from simpul.synth.codes import code_lists, regions

LISTS = {
    "jenis_kelamin": "jenis_kelamin",
    "agama": "agama",
    "status_perkawinan": "status_perkawinan_f101_2019",
    "shdk": "status_hubungan_dalam_keluarga",
    "pendidikan": "pendidikan_dalam_kk",
    "pekerjaan": "jenis_pekerjaan",
    "golongan_darah": "golongan_darah",
    "kewarganegaraan": "kewarganegaraan",
    "status_dasar": "status_dasar_opensid",
}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    cfg = WorldConfig(seed=3, population=1200)
    a = generate_world(cfg).write(tmp_path / "a")
    b = generate_world(cfg).write(tmp_path / "b")
    for name in [*TABLES, "world"]:
        ext = "json" if name == "world" else "parquet"
        assert (a / f"{name}.{ext}").read_bytes() == (b / f"{name}.{ext}").read_bytes(), name
    c = generate_world(WorldConfig(seed=4, population=1200))
    assert not c.penduduk.equals(load_world(a).penduduk)
    assert load_world(a).penduduk.equals(generate_world(cfg).penduduk)


def test_population_size_and_defaults() -> None:
    assert sum(WorldConfig(kecamatan=None).sizes().values()) == 650_000
    assert WorldConfig().sizes() == {"16.08.01": 64_000}
    assert (
        sum(WorldConfig(kecamatan=("16.08.01", "16.08.03"), population=999).sizes().values()) == 999
    )


def test_nik_consistent_with_person(small_world) -> None:
    p = small_world.penduduk.to_pandas()
    nik = p["nik"]
    assert nik.str.fullmatch(r"\d{16}").all()
    assert nik.is_unique
    assert (nik.str[12:] != "0000").all()
    assert nikrules.structure_ok(nik).all()
    assert nikrules.agrees_with_birth(nik, p["tanggal_lahir"], p["jenis_kelamin"]).all()
    sumsel = {c.replace(".", "") for c in regions().sumsel_districts}
    assert nik.str[:6].isin(sumsel).all()
    assert (nik.str[:6] == "160801").mean() > 0.7  # most registered in the home kecamatan
    assert (nik.str[:6] != "160801").any()  # some born elsewhere in Sumatera Selatan


def test_codes_are_canonical(small_world) -> None:
    p = small_world.penduduk.to_pandas()
    lists = code_lists()
    for col, lst in LISTS.items():
        assert p[col].isin(set(lists[lst])).all(), col
    assert p["kode_desa"].isin(set(regions().okut_villages)).all()
    assert p["kode_desa"].str.startswith("16.08.01.").all()
    assert p["rt"].str.fullmatch(r"\d{3}").all() and p["rw"].str.fullmatch(r"\d{3}").all()
    assert (p["nama_lengkap"] == p["nama_lengkap"].str.upper()).all()
    assert (p["agama"] == "1").mean() > 0.9


def test_family_structure(small_world) -> None:
    p = small_world.penduduk.to_pandas()
    heads = p[p["shdk"] == "1"]
    assert heads["no_kk"].is_unique
    assert set(p["no_kk"]) == set(heads["no_kk"])
    assert set(small_world.keluarga.column("no_kk").to_pylist()) == set(heads["no_kk"])
    assert (p[p["shdk"] == "3"]["jenis_kelamin"] == "2").all()
    by_nik = p.set_index("nik")
    kids = p[p["nik_ibu"].notna()]
    mothers = by_nik.loc[kids["nik_ibu"]]
    assert (mothers["jenis_kelamin"].to_numpy() == "2").all()
    gap = kids["tanggal_lahir"].to_numpy() - mothers["tanggal_lahir"].to_numpy()
    assert (pd.to_timedelta(gap).days >= 15 * 365).all()
    assert (mothers["no_kk"].to_numpy() == kids["no_kk"].to_numpy()).all()
    fathers = by_nik.loc[p[p["nik_ayah"].notna()]["nik_ayah"]]
    assert (fathers["jenis_kelamin"] == "1").all()
    # under-age people are never married
    young = p[pd.to_datetime(p["tanggal_lahir"]) > pd.Timestamp("2010-01-01")]
    assert (young["status_perkawinan"] == "1").all()


def test_events_agree_with_status(small_world) -> None:
    p = small_world.penduduk.to_pandas().set_index("nik")
    ev = small_world.peristiwa.to_pandas()
    dead = set(p.index[p["status_dasar"] == "2"])
    assert dead == set(ev.loc[ev["kode_peristiwa"] == "2", "nik"])
    gone = set(p.index[p["status_dasar"] == "3"])
    assert gone == set(ev.loc[ev["kode_peristiwa"] == "3", "nik"])
    assert ev["id_peristiwa"].is_unique
    assert (p.loc[ev["nik"], "updated_at"].to_numpy() >= ev["updated_at"].to_numpy()).all()
    assert (
        pc.max(small_world.penduduk.column("updated_at")).as_py().date() < small_world.config.as_of
    )


def test_permits_services_assistance(small_world) -> None:
    izin = small_world.izin.to_pandas()
    assert izin["nib"].str.fullmatch(r"\d{13}").all() and izin["nib"].is_unique
    assert izin["kbli"].str.fullmatch(r"\d{5}").all() and izin["kbli"].str.startswith("0").any()
    assert set(izin["tingkat_risiko"]) <= {"rendah", "menengah rendah", "menengah tinggi", "tinggi"}
    p = small_world.penduduk.to_pandas().set_index("nik")
    assert izin["nik_pemohon"].isin(p.index).all()
    pl = small_world.permohonan_layanan.to_pandas()
    assert set(pl["status"]) <= {"diterima", "verifikasi", "perlu_perbaikan", "terbit", "ditolak"}
    done = pl["tanggal_selesai"].notna()
    assert (pl.loc[done, "tanggal_selesai"] >= pl.loc[done, "tanggal_diterima"]).all()
    pb = small_world.penerima_bantuan.to_pandas()
    assert (p.loc[pb["nik"], "status_dasar"] == "1").all()
    assert set(pb["program"]) <= {"PKH", "BPNT", "BLT-DD"}
