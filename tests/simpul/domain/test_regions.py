"""Village-name matching: normalised, then unambiguous fuzzy, within one kecamatan."""

import pandas as pd
import pytest

from simpul.domain.regions import match_kecamatan, match_village, match_village_names

MARTAPURA = "16.08.01"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Kota Baru Barat", "16.08.01.2020"),  # the reference spells it Kotabaru Barat
        ("DESA KOTABARU BARAT", "16.08.01.2020"),
        ("  tanjung kemala  ", "16.08.01.2006"),
        ("TanjungKemala Barat", "16.08.01.2023"),
        ("DUSUN TANJUNG KEMALA", "16.08.01.2006"),  # a stray dusun prefix
        ("Dusun Martapura", "16.08.01.1007"),  # ... but this kelurahan is really called so
        ("KELURAHAN PASAR MARTAPURA", "16.08.01.1008"),
        ("Perjaja", "16.08.01.2011"),  # typo, fuzzy
        ("Kota Baru", "16.08.01.2009"),  # not Kotabaru Barat / Selatan
    ],
)
def test_names_resolve_to_codes(name, code):
    assert match_village(name, MARTAPURA) == code


@pytest.mark.parametrize("name", ["Narnia", "", "Kotabaru Utara"])
def test_unknown_or_ambiguous_names_do_not_match(name):
    assert match_village(name, MARTAPURA) is None


def test_only_villages_of_the_kecamatan_count():
    # "Dusun Tengah" exists, but in 16.09.04, not in Martapura
    assert match_village("Dusun Tengah", "16.09.04") == "16.09.04.2008"
    assert match_village("Dusun Tengah", MARTAPURA) is None


def test_vectorised_matching_with_a_kecamatan_per_row():
    names = pd.Series(["Kota Baru Barat", None, "Narnia", "Kota Baru Barat"])
    kec = pd.Series([MARTAPURA, MARTAPURA, MARTAPURA, None])
    assert match_village_names(names, kec).tolist() == ["16.08.01.2020", pd.NA, pd.NA, pd.NA]


def test_kecamatan_from_code_or_name():
    assert match_kecamatan("160801") == MARTAPURA
    assert match_kecamatan("16.08.01") == MARTAPURA
    assert match_kecamatan("Kec. Martapura", "16.08") == MARTAPURA
    assert match_kecamatan("Atlantis", "16.08") is None
