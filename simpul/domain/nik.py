"""NIK (Nomor Induk Kependudukan) rules, vectorised over pandas Series.

Structure ``PP KK CC DDMMYY SSSS``: first-registration region, birth date with day + 40 for
women, an opaque serial (never 0000). There is no check digit. Rules from ../shared/DOMAIN.md;
published validators get the century and the BPS/Kemendagri order wrong, so we own these.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from simpul.domain.regions import province_codes

NIK_PATTERN = r"^\d{16}$"


def _number(part: pd.Series) -> pd.Series:
    """``pd.to_numeric(part, errors="coerce")`` read once per distinct value: a two-digit part
    has at most a hundred, and to_numeric walks text value by value in Python."""
    if len(part) < 1_000:  # a few values: reading them is cheaper than counting them
        return pd.to_numeric(part, errors="coerce")
    codes, uniques = pd.factorize(part, use_na_sentinel=True)
    if not len(uniques):  # nothing but nulls: to_numeric's own dtype for that
        return pd.to_numeric(part, errors="coerce")
    numbers = pd.to_numeric(pd.Series(uniques.array), errors="coerce").array
    return pd.Series(numbers.take(codes, allow_fill=True), index=part.index)  # -1: null


def _parts(nik: pd.Series) -> pd.DataFrame:
    s = nik.astype("string")
    return pd.DataFrame(
        {
            "prov": s.str.slice(0, 2),
            "day": _number(s.str.slice(6, 8)),
            "month": _number(s.str.slice(8, 10)),
            "yy": _number(s.str.slice(10, 12)),
            "serial": s.str.slice(12, 16),
        },
        index=nik.index,
    )


def is_temporary_nik(nik: pd.Series) -> pd.Series:
    """OpenSID's temporary NIK ('0' + 10-digit village code + 5-digit serial) or '0' (none)."""
    s = nik.astype("string")
    shaped = s.str.fullmatch(r"0\d{15}").fillna(False).astype(bool)
    coded = s.str.slice(1, 2).ne("0").fillna(False).astype(bool)
    return (s == "0").fillna(False).astype(bool) | (shaped & coded)


def structure_ok(nik: pd.Series) -> pd.Series:
    """16 digits, known province, plausible day (01-31 / 41-71) and month, serial != 0000.

    Null values are *not* judged here (a not-null rule says that); they return True.
    """
    s = nik.astype("string")
    digits = s.str.fullmatch(r"\d{16}").fillna(False).astype(bool)
    p = _parts(s)
    day = p["day"]
    plain_day = day.where(day <= 40, day - 40)
    ok = (
        digits
        & p["prov"].isin(province_codes()).fillna(False).astype(bool)
        & (((day >= 1) & (day <= 31)) | ((day >= 41) & (day <= 71))).fillna(False).astype(bool)
        & ((p["month"] >= 1) & (p["month"] <= 12)).fillna(False).astype(bool)
        & (p["serial"] != "0000").fillna(False).astype(bool)
    )
    # the DDMMYY must be a real calendar date (century is irrelevant except for 29 Feb: use 2000)
    dates = pd.to_datetime(
        {
            "year": 2000 + p["yy"].fillna(0),
            "month": p["month"].clip(1, 12).fillna(1),
            "day": plain_day.clip(1, 31).fillna(1),
        },
        errors="coerce",
    )
    real = dates.notna() & (dates.dt.day == plain_day)
    ok = ok & real.fillna(False).astype(bool)
    return ok | s.isna()


def agrees_with_birth(
    nik: pd.Series, tanggal_lahir: pd.Series, jenis_kelamin: pd.Series
) -> pd.Series:
    """DDMMYY of the NIK equals the birth date (day + 40 for women); day > 40 iff female.

    ``jenis_kelamin`` uses the SIAK code: "1" laki-laki, "2" perempuan. Rows where any input is
    null, or the NIK is not 16 digits, are not judged (True): other rules cover them.
    """
    ok, judged = _agreement(nik, tanggal_lahir, jenis_kelamin)
    return ok | ~judged


def _agreement(
    nik: pd.Series, tanggal_lahir: pd.Series, jenis_kelamin: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """(agrees, could be judged), both plain bool."""
    s = nik.astype("string")
    born = pd.to_datetime(tanggal_lahir, errors="coerce")
    female = jenis_kelamin.astype("string") == "2"
    p = _parts(s)
    expected_day = born.dt.day + female.astype("Int64") * 40
    ok = (
        (p["day"] == expected_day) & (p["month"] == born.dt.month) & (p["yy"] == born.dt.year % 100)
    )
    judged = s.str.fullmatch(r"\d{16}").fillna(False) & born.notna() & jenis_kelamin.notna()
    return ok.fillna(False).astype(bool), judged.fillna(False).astype(bool)


def unique_or_owner(
    nik: pd.Series, tanggal_lahir: pd.Series, jenis_kelamin: pd.Series
) -> pd.Series:
    """A NIK on several records of one delivery belongs to the one record it describes.

    A NIK encodes its holder's birth date and sex, so among records sharing a NIK the single one
    whose NIK agrees with its own birth date and sex keeps it (True); the others fail. When none
    or several agree (the same person twice, or no way to tell) every copy fails: a person must
    look. Records with a unique or null NIK pass.
    """
    s = nik.astype("string")
    dup = (s.duplicated(keep=False) & s.notna()).fillna(False).astype(bool)
    ok = pd.Series(True, index=nik.index)
    if not dup.any():
        return ok
    agree, judged = _agreement(s[dup], tanggal_lahir[dup], jenis_kelamin[dup])
    owner = agree & judged
    owners = owner.astype(int).groupby(s[dup]).transform("sum")
    ok[dup] = owner & (owners == 1)
    return ok


def _ends_in_zero(s: pd.Series) -> pd.Series:
    return s.str.fullmatch(r"\d{15}0").fillna(False).astype(bool)


def _isin(s: pd.Series, values: pd.Series) -> pd.Series:
    """``s.isin(values)`` for large text ``values``, by Arrow (pandas builds a Python list)."""
    found = pc.is_in(
        pa.array(s.astype("string")), value_set=pa.array(values.astype("string").dropna())
    )
    return pd.Series(pc.fill_null(found, False).to_numpy(zero_copy_only=False), index=s.index)


def excel_truncated_nik(nik: pd.Series, *references: pd.Series) -> pd.Series:
    """False where a NIK evidently lost its 16th digit to Excel's 15-digit precision.

    A truncated NIK ends in 0, but so does one NIK in ten: alone that proves nothing. The
    evidence is a family member's reference (``nik_ayah`` / ``nik_ibu``) to a NIK with the same
    first 15 digits and another last digit that no record of the delivery carries: the parent
    referenced is this record, before Excel rounded it. Without such a reference the defect is
    undetectable and the record passes.
    """
    s = nik.astype("string")
    zero = _ends_in_zero(s)
    ok = pd.Series(True, index=nik.index)
    if not zero.any() or not references:
        return ok
    refs = pd.concat([r.astype("string") for r in references], ignore_index=True).dropna()
    refs = refs[refs.str.fullmatch(r"\d{15}[1-9]").fillna(False).astype(bool)]
    dangling = refs[~_isin(refs, s)]
    ok[zero] = ~_isin(s[zero].str.slice(0, 15), dangling.str.slice(0, 15))
    return ok


def excel_truncated_kk(no_kk: pd.Series, kode_desa: pd.Series) -> pd.Series:
    """False where a Nomor KK evidently lost its 16th digit to Excel.

    Family members share one KK and one village: a KK ending in 0 next to another KK of the same
    village with the same first 15 digits and a non-zero last digit is the family's number cut
    short. (Two families whose KKs differ only in the last digit would also meet this, which is
    why the rule is a warning.) Without a family member in the delivery it passes.
    """
    s = no_kk.astype("string")
    zero = _ends_in_zero(s)
    ok = pd.Series(True, index=no_kk.index)
    if not zero.any():
        return ok
    desa = kode_desa.astype("string").fillna("")
    full = s.str.fullmatch(r"\d{15}[1-9]").fillna(False).astype(bool)
    known = desa[full] + "|" + s[full].str.slice(0, 15)
    ok[zero] = ~_isin(desa[zero] + "|" + s[zero].str.slice(0, 15), known)
    return ok


def in_region(nik: pd.Series, prefix_digits: str) -> pd.Series:
    """First-registration region starts with e.g. '1608' (warning only: people move)."""
    s = nik.astype("string")
    return s.str.startswith(prefix_digits).fillna(True).astype(bool)


def kk_structure_ok(no_kk: pd.Series) -> pd.Series:
    """Nomor KK: 16 digits, known province, issue date DDMMYY (no +40) real, serial != 0000.

    The issue-date part is less certain than the NIK's (DOMAIN.md), so callers treat a failure
    of the date part as a warning. Nulls are not judged.
    """
    s = no_kk.astype("string")
    digits = s.str.fullmatch(r"\d{16}").fillna(False).astype(bool)
    p = _parts(s)
    dates = pd.to_datetime(
        {
            "year": 2000 + p["yy"].fillna(0),
            "month": p["month"].clip(1, 12).fillna(1),
            "day": p["day"].clip(1, 31).fillna(1),
        },
        errors="coerce",
    )
    real = (
        (dates.notna() & (dates.dt.day == p["day"]) & p["month"].between(1, 12))
        .fillna(False)
        .astype(bool)
    )
    ok = (
        digits
        & p["prov"].isin(province_codes()).fillna(False).astype(bool)
        & (p["serial"] != "0000").fillna(False).astype(bool)
        & real
    )
    return ok | s.isna()


def age_on(born: pd.Series, on: pd.Timestamp) -> pd.Series:
    """Whole years of age on a date (null where the birth date is unknown)."""
    b = pd.to_datetime(born, errors="coerce")
    years = on.year - b.dt.year
    before_birthday = (b.dt.month > on.month) | ((b.dt.month == on.month) & (b.dt.day > on.day))
    return (years - before_birthday.astype("Int64")).astype("Int64")
