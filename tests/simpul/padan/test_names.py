"""Indonesian name normalisation: variants of one person's name compare equal."""

from __future__ import annotations

import pytest

from simpul.padan.names import name_key, normalise_name


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("H. Ahmad Fauzi", "AHMAD FAUZI"),
        ("Hj. Siti Aminah, S.Pd", "SITI AMINAH"),
        ("Drs. H. Abd. Rohman, M.Pd", "ABDUL ROHMAN"),
        ("Ir. Budi Santoso", "BUDI SANTOSO"),
        ("Dr. Ir. Siti Aminah M.Si", "SITI AMINAH"),
        ("BUDI S.Pd.I", "BUDI"),
        ("A.Md. Rina", "RINA"),
        ("M. Rizki", "MUHAMMAD RIZKI"),
        ("Moh. Rizki", "MUHAMMAD RIZKI"),
        ("Muh. Rizki", "MUHAMMAD RIZKI"),
        ("MHD RIZKI", "MUHAMMAD RIZKI"),
        ("Muhamad Rizki", "MUHAMMAD RIZKI"),
        ("Mohammad Rizki", "MUHAMMAD RIZKI"),
        ("Ahmad bin Abdullah", "AHMAD ABDULLAH"),
        ("SITI BINTI HASAN", "SITI HASAN"),
        ("Sitti Nurhaliza", "SITI NURHALIZA"),
        ("Soekarno", "SUKARNO"),
        ("Djoko", "JOKO"),
        ("Ma'ruf", "MARUF"),
        ("  siti\u00a0 aminah ", "SITI AMINAH"),
    ],
)
def test_variants_normalise_to_the_same_form(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


def test_spacing_does_not_matter_for_the_key() -> None:
    assert name_key("NUR AINI") == name_key("Nuraini")
    assert name_key("Abdul Rohman") != name_key("Abdul Rahmat")


def test_different_people_stay_different() -> None:
    assert normalise_name("SITI AMINAH") != normalise_name("SITI ROHANI")
    # a lone initial M before a name is Muhammad, not the degree M.
    assert normalise_name("M. ALI") == "MUHAMAD ALI"


def test_empty_and_title_only_names() -> None:
    assert normalise_name(None) == ""
    assert normalise_name("") == ""
    assert normalise_name("H") == "H"  # a one-word name is kept even if it looks like a title
