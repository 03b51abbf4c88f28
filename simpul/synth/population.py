"""The population of a synthetic world, one step at a time: household members per kecamatan,
where each household lives and since when, and who each person is (region of first
registration, birthplace, NIK, names, parents, religion, education, work).

Each step draws from its own random stream, in a fixed order, so the same seed gives the same
people byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simpul.synth import codes
from simpul.synth.families import YEAR, build_households
from simpul.synth.names import draw_names
from simpul.synth.nik import digits, make_nik, make_no_kk


@dataclass
class Households:
    """Per household (indexed 0..n-1): village, address parts, KK issue date and number."""

    village: np.ndarray
    address: dict[str, np.ndarray]
    issued: np.ndarray
    no_kk: np.ndarray


def household_members(
    sizes: dict[str, int], struct_seeds: list[np.random.SeedSequence]
) -> tuple[pd.DataFrame, int]:
    """Everyone, household by household, kecamatan by kecamatan; and the number of households."""
    parts = []
    hh_offset = 0
    person_offset = 0
    for (kec, size), sseed in zip(sizes.items(), struct_seeds, strict=True):
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
    return pd.concat(parts, ignore_index=True), hh_offset


def place_households(
    rng: np.random.Generator,
    p: pd.DataFrame,
    n_hh: int,
    kecamatan: tuple[str, ...],
    as_of: np.datetime64,
    s_nik: np.random.SeedSequence,
) -> Households:
    """Village, address and KK of every household, copied onto its members in ``p``."""
    hh_kec = p.groupby("household")["kecamatan"].first().reindex(range(n_hh)).to_numpy()
    hh_village = np.empty(n_hh, dtype=object)
    for kec in kecamatan:
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
    return Households(hh_village, addr, issued, no_kk)


def registration_regions(rng: np.random.Generator, p: pd.DataFrame) -> np.ndarray:
    """Six-digit region of each person's first registration: home kecamatan, another OKU
    Timur kecamatan, or elsewhere in Sumatera Selatan (always elsewhere for households that
    moved in); children born here are registered here."""
    reg = codes.regions()
    n = len(p)
    age_y = p["age_days"].to_numpy() / YEAR
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
    kid = age_y < 17
    region6[kid & ~p["moved_in"].to_numpy()] = home[kid & ~p["moved_in"].to_numpy()]
    return region6


def birthplaces(rng: np.random.Generator, region6: np.ndarray, age_y: np.ndarray) -> np.ndarray:
    """The kecamatan name inside OKU Timur, else the regency / city name; some older people
    were born far away."""
    reg = codes.regions()
    n = len(region6)
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
    return tempat


def name_people(
    p: pd.DataFrame,
    region6: np.ndarray,
    born: np.ndarray,
    s_nik: np.random.SeedSequence,
    s_names: np.random.SeedSequence,
) -> None:
    """NIK and name of everyone, and their parents' NIK and name (drawn for parents who are
    not in the register)."""
    n = len(p)
    female = p["female"].to_numpy()
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


def describe_people(rng: np.random.Generator, p: pd.DataFrame, n_hh: int) -> None:
    """Religion (one per household), blood group, citizenship, education, work and sex."""
    n = len(p)
    hh = p["household"].to_numpy()
    female = p["female"].to_numpy()
    age_y = p["age_days"].to_numpy() / YEAR
    hh_agama = codes.pick(rng, codes.AGAMA, n_hh)
    p["agama"] = hh_agama[hh]
    p["golongan_darah"] = codes.pick(rng, codes.GOLONGAN_DARAH, n)
    p["kewarganegaraan"] = np.where(rng.random(n) < 0.0002, "2", "1").astype(object)
    for k, v in _spec_by_age(rng, age_y, female).items():
        p[k] = v
    p["jenis_kelamin"] = np.where(female, "2", "1").astype(object)


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
