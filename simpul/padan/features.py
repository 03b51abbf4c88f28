"""Comparison-ready person records: one row per agency or SIAK record, all text.

Why a separate step: agency files carry dates as Excel serials or dd/mm/yyyy, sex as L/P or
codes, NIKs with spaces and apostrophes; linkage compares the normalised forms. Where a record
has no birth date or sex, the NIK's own DDMMYY (day + 40 for women) supplies them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from simpul.padan.names import normalise_name

COLUMNS = ("unique_id", "nama", "nama_key", "tgl_lahir", "jk", "nik", "kk", "kode_desa", "alamat")
# the person fields of an agency or SIAK record, as the warehouse holds them
INPUT_COLUMNS = ("record_id", "nik", "no_kk", "nama_lengkap", "tanggal_lahir", "jenis_kelamin",
                 "kode_desa", "alamat")  # fmt: skip
EXCEL_EPOCH = date(1899, 12, 30)
_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y")


def digits(value: object, length: int = 16) -> str | None:
    """Digits only; None unless exactly ``length`` digits and not all zeros (OpenSID '0')."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    d = re.sub(r"\D", "", str(value))
    return d if len(d) == length and d.strip("0") else None


def parse_date(value: object) -> date | None:
    """ISO, dd-mm-yyyy, dd/mm/yyyy or an Excel serial number; None when unreadable."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()[:10]
    if re.fullmatch(r"\d{4,5}(\.0+)?", str(value).strip()):
        serial = int(float(str(value).strip()))
        if 1 <= serial <= 80000:
            return EXCEL_EPOCH + timedelta(days=serial)
        return None
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def nik_birth(nik: str | None, century_hint: int | None = None) -> tuple[date | None, str | None]:
    """Birth date and sex ('1' male, '2' female) encoded in a NIK, when it holds a real date."""
    if not isinstance(nik, str) or len(nik) != 16:
        return None, None
    if not isinstance(century_hint, int):
        century_hint = None
    dd, mm, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = "2" if dd > 40 else "1"
    dd = dd - 40 if dd > 40 else dd
    today = date.today()
    year = (century_hint or (1900 if 2000 + yy > today.year else 2000)) + yy
    try:
        return date(year, mm, dd), sex
    except ValueError:
        return None, sex


def sex_code(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    v = str(value).strip().upper()
    if v in ("1", "L", "LK", "LAKI-LAKI", "LAKI LAKI", "PRIA"):
        return "1"
    if v in ("2", "P", "PR", "PEREMPUAN", "WANITA"):
        return "2"
    return None


def _desa(value: object) -> str | None:
    d = re.sub(r"\D", "", str(value or ""))
    return d or None


def _alamat(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = re.sub(r"[^A-Z0-9 ]", " ", str(value).upper())
    text = re.sub(r"\b(JALAN|JLN|JL)\b", "JL", text)
    text = " ".join(text.split())
    return text or None


def _by_unique(values: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` once per distinct value (names and dates repeat a lot); one hashing pass."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    results = np.empty(len(uniques) + 1, dtype=object)
    results[:-1] = [fn(v) for v in uniques]
    results[-1] = fn(None)  # code -1: a missing value
    return pd.Series(results[codes], index=values.index, dtype=object)


def digits_column(values: pd.Series, length: int = 16) -> pd.Series:
    """:func:`digits` for a whole column, vectorised (Arrow): a kabupaten has 1.3M NIKs/KKs."""
    arr = pa.array(values.astype(object).where(values.notna(), None).astype(str), pa.string())
    arr = pc.if_else(pa.array(values.notna().to_numpy()), arr, pa.scalar(None, pa.string()))
    d = pc.replace_substring_regex(arr, r"\D", "")
    zeros = pc.match_substring_regex(d, "^0*$")  # OpenSID's '0' for "no NIK"
    ok = pc.and_(pc.equal(pc.utf8_length(d), length), pc.invert(zeros))
    out = pc.if_else(pc.fill_null(ok, False), d, pa.scalar(None, pa.string()))
    return pd.Series(out.to_numpy(zero_copy_only=False), index=values.index, dtype=object)


def prepare(records: pd.DataFrame) -> pd.DataFrame:
    """Agency or SIAK rows (``INPUT_COLUMNS``, any may be missing) -> ``COLUMNS``."""
    df = records.reindex(columns=list(INPUT_COLUMNS)).reset_index(drop=True)
    nik = digits_column(df["nik"])
    born = _by_unique(df["tanggal_lahir"], parse_date)
    sex = _by_unique(df["jenis_kelamin"], sex_code)
    # a record with nothing but a NIK (permit applicants) gets no birth date or sex from it:
    # compared against SIAK they would only repeat the NIK's own digits as extra "agreement"
    # and let a NIK one digit off a stranger's pass for a typo
    named = df["nama_lengkap"].notna() & (df["nama_lengkap"].astype(str).str.strip() != "")
    need = (named & (born.isna() | sex.isna())).to_numpy()
    if need.any():  # only records that lack a birth date or sex read them from the NIK
        hint = born[need].map(lambda b: b.year // 100 * 100 if b else None)
        from_nik = pd.Series(
            [nik_birth(n, h) for n, h in zip(nik[need], hint, strict=True)],
            index=born.index[need],
            dtype=object,
        )
        born = born.copy()
        sex = sex.copy()
        born[need] = born[need].where(born[need].notna(), from_nik.map(lambda t: t[0]))
        sex[need] = sex[need].where(sex[need].notna(), from_nik.map(lambda t: t[1]))
    names = _by_unique(
        df["nama_lengkap"], lambda n: (lambda x: (x, x.replace(" ", "")))(normalise_name(n))
    )
    frame = pd.DataFrame(
        {
            "unique_id": df["record_id"].astype(str),
            "nama": names.map(lambda t: t[0] or None),
            "nama_key": names.map(lambda t: t[1] or None),
            "tgl_lahir": _by_unique(born, lambda b: b.isoformat() if b else None),
            "jk": sex,
            "nik": nik,
            "kk": digits_column(df["no_kk"]),
            "kode_desa": _by_unique(df["kode_desa"], _desa),
            "alamat": _by_unique(df["alamat"], _alamat),
        },
        columns=list(COLUMNS),
    )
    frame = frame.astype(object).where(frame.notna(), None)
    frame["nik_tgl"] = frame["nik"].str.slice(6, 12)
    frame["nik_reg_ser"] = frame["nik"].str.slice(0, 6) + frame["nik"].str.slice(12, 16)
    frame["kode_kec"] = frame["kode_desa"].str.slice(0, 6)  # blocking: same kecamatan
    return frame
