"""Every rule of the penduduk suite has a passing and a failing record."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from simpul.mapping import Mapper, load_mapping
from simpul.validate import load_checks, run_suite
from tests.siak_rows import person

# rule -> canonical-field changes that must make exactly that record fail it
FAILING: dict[str, dict] = {
    "nik_required": {"nik": None},
    "nik_structure": {"nik": "1608014101900000"},
    "nik_birth_agreement": {"tanggal_lahir": date(1971, 5, 5)},
    "nik_unique": "duplicate",
    "nik_excel_truncated": "truncated",
    "nik_region": {
        "nik": "1601011301900002",
        "jenis_kelamin": "1",
        "tanggal_lahir": date(1990, 1, 13),
    },
    "nik_temporary": {"nik": "0"},
    "no_kk_structure": {"no_kk": "160801010110001"},
    "no_kk_parts": {"no_kk": "1608013213100001"},
    # the good records' KK is 1608010101100001 in the same village: this one lost its last digit
    "no_kk_excel_zeroed": {"no_kk": "1608010101100000"},
    "nama_required": {"nama_lengkap": None},
    "tanggal_lahir_required": {"tanggal_lahir": None},
    "tanggal_lahir_range": "future",
    "shdk_age": "child_head",
    "kode_desa_format": {"kode_desa": "1608012006"},
    "kode_desa_in_kabupaten": {"kode_desa": "16.01.07.2001"},
    "jenis_kelamin_code": {"jenis_kelamin": "3"},
    "jenis_kelamin_required": {"jenis_kelamin": None},
    "agama_code": {"agama": "9"},
    "status_perkawinan_code": {"status_perkawinan": "7"},
    "shdk_code": {"shdk": "12"},
    "pendidikan_code": {"pendidikan": "11"},
    "pekerjaan_code": {"pekerjaan": "999"},
    "golongan_darah_code": {"golongan_darah": "14"},
    "status_dasar_code": {"status_dasar": "5"},
    "status_dasar_required": {"status_dasar": None},
}


def canonical(n: int) -> pd.DataFrame:
    rows = pd.DataFrame([person(i) for i in range(1, n + 1)]).astype("string")
    table, issues = Mapper(load_mapping("siak_penduduk")).apply(rows, pd.Series(range(1, n + 1)))
    assert issues == []
    return table.to_pandas()


def make_bad(base: pd.Series, rule: str, change) -> pd.Series:
    row = base.copy()
    if change == "duplicate":
        # another person carrying the base record's NIK: the copy fails, the holder does not
        other = person(999, female=row["jenis_kelamin"] != "2")
        row["tanggal_lahir"] = date.fromisoformat(
            "-".join(reversed(str(other["TGL_LHR"]).split("-")))
        )
        row["jenis_kelamin"] = "2" if other["JENIS_KLMIN"] == "PEREMPUAN" else "1"
        return row
    if change == "truncated":
        # a NIK ending in 0 that a parent reference shows with its real 16th digit (here the
        # record's own nik_ibu field, to stay within one fictional row)
        row["nik"] = row["nik"][:12] + "9990"
        row["nik_ibu"] = row["nik"][:15] + "7"
        return row
    if change == "future":
        born = date.today() + timedelta(days=400)
        female = row["jenis_kelamin"] == "2"
        row["tanggal_lahir"] = born
        row["nik"] = (
            f"160801{born.day + (40 if female else 0):02d}{born.month:02d}{born.year % 100:02d}7777"
        )
        return row
    if change == "child_head":
        born = date.today() - timedelta(days=365 * 8)
        row["tanggal_lahir"], row["shdk"], row["jenis_kelamin"] = born, "1", "1"
        row["nik"] = f"160801{born.day:02d}{born.month:02d}{born.year % 100:02d}8888"
        return row
    for k, v in change.items():
        row[k] = v
    return row


@pytest.fixture(scope="module")
def results():
    good = canonical(len(FAILING) + 5)
    bad_rows = []
    for i, (rule, change) in enumerate(FAILING.items()):
        base = good.iloc[i]
        bad = make_bad(base, rule, change)
        sets_nik = isinstance(change, str) or "nik" in change
        if not sets_nik:
            bad["nik"] = base["nik"][:12] + f"{9000 + i:04d}"  # keep NIK unique
        bad_rows.append(bad)
    frame = pd.concat([good, pd.DataFrame(bad_rows)], ignore_index=True)
    rows = pd.Series(range(1, len(frame) + 1))
    failures, _ = run_suite(frame, "penduduk", rows, kabupaten="16.08")
    return good, failures


def test_suite_covers_every_rule():
    assert {c.rule for c in load_checks("penduduk")} == set(FAILING)


def test_clean_records_pass_every_rule(results):
    good, failures = results
    # includes the holder of the NIK the 'duplicate' case copies: the holder is not flagged
    clean = failures[failures["row"] <= len(good)]
    assert clean.empty, clean.to_dict("records")


def test_two_records_that_both_fit_a_nik_are_both_quarantined():
    good = canonical(3)
    frame = pd.concat([good, good.iloc[[0]].assign(nama_lengkap="ORANG LAIN")], ignore_index=True)
    failures, _ = run_suite(frame, "penduduk", pd.Series(range(1, 5)), kabupaten="16.08")
    assert set(failures.loc[failures["rule"] == "nik_unique", "row"]) == {1, 4}


@pytest.mark.parametrize("rule", list(FAILING))
def test_each_rule_catches_its_defect(results, rule):
    good, failures = results
    row = len(good) + list(FAILING).index(rule) + 1
    assert rule in set(failures.loc[failures["row"] == row, "rule"]), rule
