"""Reference data the generator draws from: regions, code lists and realistic frequencies.

Everything comes from ``simpul/reference`` so generated codes are exactly the canonical ones;
the frequencies are plausible for rural Sumatera Selatan, not official statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simpul.domain.regions import code_lists, reference_rows

KABUPATEN = "16.08"
PROVINCE_NAME = "SUMATERA SELATAN"
KABUPATEN_NAME = "OGAN KOMERING ULU TIMUR"

# Approximate 2020-census-like sizes: Martapura ~64k; the rest of OKU Timur (~650k in total)
# is spread by village count in ``default_population``.
KABUPATEN_POPULATION = 650_000
KNOWN_POPULATION = {"16.08.01": 64_000}


def label(list_name: str, code: str) -> str:
    return code_lists()[list_name][code]


@dataclass(frozen=True)
class Regions:
    """Region tables as parallel tuples (cheap to index with numpy arrays)."""

    okut_districts: dict[str, str]  # 16.08.xx -> name
    okut_villages: dict[str, tuple[str, str]]  # village code -> (district code, name)
    sumsel_districts: dict[str, str]  # all Sumsel kecamatan code -> name
    regencies: dict[str, str]


@lru_cache(maxsize=1)
def regions() -> Regions:
    return Regions(
        okut_districts={
            r["code"]: r["name"] for r in reference_rows("idn_area_okutimur_1608_districts.csv")
        },
        okut_villages={
            r["code"]: (r["district_code"], r["name"])
            for r in reference_rows("idn_area_okutimur_1608_villages.csv")
        },
        sumsel_districts={
            r["code"]: r["name"] for r in reference_rows("idn_area_sumsel_16_districts.csv")
        },
        regencies={
            r["code"]: r["name"] for r in reference_rows("idn_area_sumsel_16_regencies.csv")
        },
    )


def villages_of(kecamatan: str) -> list[str]:
    return sorted(c for c, (d, _) in regions().okut_villages.items() if d == kecamatan)


def default_population(kecamatan: str) -> int:
    """Realistic default size of one OKU Timur kecamatan (Martapura ~64,000)."""
    if kecamatan in KNOWN_POPULATION:
        return KNOWN_POPULATION[kecamatan]
    vill = regions().okut_villages
    others = [c for c, (d, _) in vill.items() if d not in KNOWN_POPULATION]
    rest = KABUPATEN_POPULATION - sum(KNOWN_POPULATION.values())
    return round(rest * len(villages_of(kecamatan)) / len(others))


# --- frequencies: (codes, probabilities); normalised by ``pick`` ------------------------------

AGAMA = (("1", "2", "3", "4", "5", "6"), (95.6, 1.4, 0.9, 1.6, 0.45, 0.05))
GOLONGAN_DARAH = (
    ("13", "4", "1", "2", "3", "11", "5", "7", "9"),
    (58.0, 14.0, 10.0, 10.0, 3.0, 2.0, 1.2, 1.2, 0.6),
)
# adult education, index = age band (<40, 40-59, 60+)
PENDIDIKAN_ADULT = (
    ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10"),
    (
        (3.0, 6.0, 22.0, 23.0, 35.0, 1.5, 3.0, 6.0, 0.45, 0.05),
        (8.0, 12.0, 35.0, 18.0, 20.0, 1.0, 2.0, 3.6, 0.35, 0.05),
        (22.0, 25.0, 33.0, 9.0, 8.0, 0.5, 1.0, 1.4, 0.09, 0.01),
    ),
)
PEKERJAAN_MALE = (
    (
        "9",
        "88",
        "19",
        "20",
        "15",
        "84",
        "8",
        "5",
        "65",
        "81",
        "6",
        "7",
        "26",
        "27",
        "35",
        "18",
        "85",
        "10",
        "12",
        "13",
        "14",
        "16",
        "89",
    ),
    (
        30.0,
        15.0,
        8.0,
        9.0,
        9.0,
        5.0,
        2.0,
        3.0,
        1.5,
        2.5,
        0.6,
        0.6,
        1.5,
        1.2,
        1.0,
        2.0,
        0.8,
        1.0,
        0.8,
        0.8,
        0.8,
        0.5,
        2.5,
    ),
)
PEKERJAAN_FEMALE = (
    ("2", "9", "88", "84", "15", "20", "65", "5", "73", "74", "18", "30", "8", "19", "89"),
    (48.0, 13.0, 8.0, 7.0, 5.0, 4.0, 3.0, 2.0, 0.7, 0.8, 2.5, 1.0, 1.5, 2.0, 1.5),
)
PEKERJAAN_OLD = (("1", "9", "4", "2", "88", "84"), (40.0, 25.0, 7.0, 18.0, 6.0, 4.0))

# birthplaces for people registered outside Sumatera Selatan (transmigrants from Java and Bali)
BIRTHPLACES_FAR = (
    "KEBUMEN",
    "BLITAR",
    "KEDIRI",
    "PONOROGO",
    "WONOGIRI",
    "BOYOLALI",
    "CILACAP",
    "BANYUMAS",
    "TULUNGAGUNG",
    "MADIUN",
    "KLATEN",
    "TABANAN",
    "GIANYAR",
    "BULELENG",
    "BANDAR LAMPUNG",
    "METRO",
    "KOTABUMI",
    "JAKARTA",
)
STREETS = (
    "JL. MERDEKA",
    "JL. JEND. SUDIRMAN",
    "JL. A. YANI",
    "JL. LINTAS SUMATERA",
    "JL. PRAMUKA",
    "JL. KI HAJAR DEWANTARA",
    "JL. PERINTIS KEMERDEKAAN",
    "JL. PAHLAWAN",
    "JL. KOMERING",
    "JL. DIPONEGORO",
    "JL. KARTINI",
    "JL. IMAM BONJOL",
    "JL. SENTOT ALIBASYAH",
    "JL. PASAR",
    "JL. PERJUANGAN",
    "JL. KEMALA",
    "JL. GARUDA",
    "JL. RAYA MARTAPURA",
)
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")


def pick(rng: np.random.Generator, spec: tuple, size: int) -> np.ndarray:
    """Draw codes (as an object array of str) from a (codes, weights) spec."""
    codes, weights = spec
    p = np.asarray(weights, dtype=float)
    return np.asarray(codes, dtype=object)[rng.choice(len(codes), size=size, p=p / p.sum())]
