"""Property-based tests for the parsers bad input reaches first (NIK rules, date parsing,
region codes), and a short fuzz run of the file readers: whatever the bytes, only
FileFormatError may escape."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base.files import FileFormatError, read_xlsx
from connectors.base.text_files import read_csv
from connectors.opensid.connector import desa_from_name
from simpul.domain import nik
from simpul.domain.regions import match_kecamatan, match_village, normalise_name, villages
from simpul.mapping_values import parse_dates

from .corpus.make import OPENSID_ROWS, ROWS, csv_bytes, xlsx_bytes

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.one_of(st.none(), st.text(max_size=40), st.from_regex(r"\d{10,20}", fullmatch=True))


def _nik(born: date, female: bool, serial: int, region: str = "160801") -> str:
    day = born.day + (40 if female else 0)
    return f"{region}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


@FAST
@given(st.lists(TEXT, max_size=20))
def test_nik_rules_never_raise_and_keep_the_index(values):
    s = pd.Series(values, dtype="string", index=range(100, 100 + len(values)))
    for out in (nik.structure_ok(s), nik.kk_structure_ok(s)):
        assert list(out.index) == list(s.index)
        assert not out.isna().any() and set(out.tolist()) <= {True, False}
    present = s.dropna()  # GX hands map rules non-null values only
    assert set(nik.is_temporary_nik(present).tolist()) <= {True, False}


def test_is_temporary_nik_accepts_nulls():
    s = pd.Series([None, "0", "0160801200100001"], dtype="string")
    assert nik.is_temporary_nik(s).tolist() == [False, True, True]


@FAST
@given(
    st.dates(min_value=date(1920, 1, 1), max_value=date(2025, 12, 31)),
    st.booleans(),
    st.integers(min_value=1, max_value=9999),
)
def test_every_well_formed_nik_is_accepted_and_agrees_with_its_birth(born, female, serial):
    value = _nik(born, female, serial)
    s = pd.Series([value], dtype="string")
    assert nik.structure_ok(s).tolist() == [True]
    assert nik.agrees_with_birth(
        s, pd.Series([born]), pd.Series(["2" if female else "1"], dtype="string")
    ).tolist() == [True]
    wrong_sex = pd.Series(["1" if female else "2"], dtype="string")
    assert nik.agrees_with_birth(s, pd.Series([born]), wrong_sex).tolist() == [False]
    other_day = born + timedelta(days=1)
    assert nik.agrees_with_birth(
        s, pd.Series([other_day]), pd.Series(["2" if female else "1"], dtype="string")
    ).tolist() == [False]


@FAST
@given(st.from_regex(r"\d{16}", fullmatch=True))
def test_serial_0000_or_a_bad_month_is_never_accepted(value):
    broken = [value[:12] + "0000", value[:8] + "13" + value[10:], value[:8] + "00" + value[10:]]
    assert not any(nik.structure_ok(pd.Series(broken, dtype="string")))


@FAST
@given(st.lists(st.one_of(st.none(), st.text(max_size=25)), max_size=15))
def test_date_parsing_never_raises_and_gives_dates_or_none(values):
    s = pd.Series(values, dtype="string")
    out = parse_dates(s, ["%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d"], excel_serial=True)
    assert len(out) == len(values)
    assert all(v is None or isinstance(v, date) for v in out)


@FAST
@given(st.dates(min_value=date(1902, 9, 26), max_value=date(2099, 12, 31)))  # 4-5 digits
def test_date_parsing_round_trips_every_format_and_the_excel_serial(d):
    serial = (d - date(1899, 12, 30)).days
    s = pd.Series(
        [d.strftime("%d-%m-%Y"), d.strftime("%d/%m/%Y"), d.isoformat(), str(serial),
         f"{serial}.0"],
        dtype="string",
    )  # fmt: skip
    out = parse_dates(s, ["%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d"], excel_serial=True)
    assert list(out) == [d] * 5


@FAST
@given(st.text(max_size=40))
def test_region_matching_never_raises_and_only_returns_real_codes(name):
    code = match_village(name, "16.08.01")
    assert code is None or (code in villages() and code.startswith("16.08.01."))
    assert normalise_name(normalise_name(name)) == normalise_name(name)
    kec = match_kecamatan(name, "16.08")
    assert kec is None or kec.count(".") == 2
    try:
        assert desa_from_name(name + ".xlsx", "16.08.01") in villages()
    except FileFormatError:
        pass


@FAST
@given(st.sampled_from(sorted(c for c in villages() if c.startswith("16.08.01."))))
def test_every_village_name_and_code_finds_itself(code):
    assert match_village(villages()[code], "16.08.01") == code
    assert desa_from_name(f"penduduk_{code}.xlsx", "16.08.01") == code
    assert desa_from_name(f"penduduk_{code.replace('.', '')}.xlsx", "16.08.01") == code


# ------------------------------------------------------------------------------ fuzzing
GOOD_CSV = csv_bytes(ROWS)
GOOD_XLSX = xlsx_bytes(OPENSID_ROWS)


def _drain(batches) -> int:
    return sum(b.num_rows for b in batches)


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    b = bytearray(data)
    for pos, val in edits:
        b[pos % len(b)] = val
    return bytes(b[:cut] if cut else b)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_read_csv_random_bytes(data):
    try:
        _drain(read_csv(data, "fuzz.csv"))
    except FileFormatError as exc:
        assert "fuzz.csv" in str(exc)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.integers(1, len(GOOD_CSV))),
)
def test_fuzz_read_csv_mutated_file(edits, cut):
    try:
        _drain(read_csv(_mutate(GOOD_CSV, edits, cut), "fuzz.csv"))
    except FileFormatError as exc:
        assert "fuzz.csv" in str(exc)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000))
def test_fuzz_read_xlsx_random_bytes(data):
    with pytest.raises(FileFormatError, match="fuzz.xlsx"):
        _drain(read_xlsx(data, "fuzz.xlsx", sheet="Data Penduduk"))


def _rezip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    return buf.getvalue()


with zipfile.ZipFile(io.BytesIO(GOOD_XLSX)) as _zf:
    XLSX_MEMBERS = {n: _zf.read(n) for n in _zf.namelist()}


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from(sorted(XLSX_MEMBERS)),
    st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.one_of(st.none(), st.integers(1, 5000)),
)
def test_fuzz_read_xlsx_mutated_parts(member, edits, cut):
    """Valid ZIP, damaged XML inside: the part openpyxl parses lazily while rows stream."""
    parts = dict(XLSX_MEMBERS)
    parts[member] = _mutate(parts[member], edits, cut)
    try:
        _drain(read_xlsx(_rezip(parts), "fuzz.xlsx", sheet="Data Penduduk"))
    except FileFormatError as exc:
        assert "fuzz.xlsx" in str(exc)
