"""The defect injector: which rows each kind of defect can apply to, and how it changes one.

Every change is recorded (row, field, original and delivered value) so ``inject_defects`` can
return exact ground truth. Kinds that would collide with a real NIK are refused, not forced.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from simpul.synth.codes import code_lists

CODE_COLUMNS = {
    "jenis_kelamin": "jenis_kelamin",
    "agama": "agama",
    "status_perkawinan": "status_perkawinan_f101_2019",
    "shdk": "status_hubungan_dalam_keluarga",
    "pendidikan": "pendidikan_dalam_kk",
    "pekerjaan": "jenis_pekerjaan",
    "golongan_darah": "golongan_darah",
}
DATE_COLUMNS = ("tanggal_lahir", "tanggal_terbit", "tanggal_diterima", "tanggal_peristiwa")
NONPRINTING = ("\u00a0", "\u200b", "\t", "\ufeff")
EXCEL_EPOCH = date(1899, 12, 30)


def _nik_field(cols: dict[str, list]) -> str | None:
    return next((c for c in ("nik", "nik_pemohon") if c in cols), None)


def _is_nik(v: str | None) -> bool:
    return v is not None and len(v) == 16 and v.isdigit()


def _village_variant(r: random.Random, name: str) -> str:
    """Spellings seen across sources; all normalise back to the canonical name."""
    options = [name.title(), f"DESA {name}", f"KELURAHAN {name}", f" {name}  "]
    joined = name.replace("KOTA BARU", "KOTABARU").replace("TANJUNG ", "TANJUNG")
    split = name.replace("KOTABARU", "KOTA BARU")
    options += [v for v in (joined, split) if v != name]
    return r.choice(options)


class Injector:
    """One table's columns being corrupted, with the truth of every change."""

    def __init__(
        self, entity: str, text: pa.Table, seed: int, penduduk: pa.Table | None, as_of: date | None
    ) -> None:
        self.entity = entity
        self.cols = {c: text.column(c).to_pylist() for c in text.column_names}
        self.n = text.num_rows
        self.r = random.Random(seed)
        self.penduduk = penduduk
        self.as_of = as_of or self._guess_as_of()
        self.nik_col = _nik_field(self.cols)
        self.all_niks = set(self.cols.get(self.nik_col, []) if self.nik_col else [])
        if penduduk is not None:
            self.all_niks |= set(penduduk.column("nik").to_pylist())
        self.truth: list[dict] = []
        self._none = [None] * self.n
        self.duplicates: list[tuple[int, int, str]] = []  # (insert after, source row, nik)

    def col(self, name: str) -> list:
        """A column's values, or all-None when the table lacks it."""
        return self.cols.get(name, self._none)

    def _guess_as_of(self) -> date:
        stamps = [v for v in self.cols.get("updated_at", []) if v]
        return date.fromisoformat(max(stamps)[:10]) + timedelta(days=1) if stamps else date.today()

    # -- which rows a kind can apply to ------------------------------------------------------
    def candidates(self, kind: str) -> list[int]:
        c, nf = self.cols, self.nik_col
        rows = range(self.n)
        if kind in ("nik_date_mismatch", "nik_sex_mismatch"):
            if not (nf == "nik" and "tanggal_lahir" in c and "jenis_kelamin" in c):
                return []
            return [i for i in rows if _is_nik(c["nik"][i])]
        if kind == "duplicate_nik":
            return [i for i in rows if nf and _is_nik(c[nf][i])] if self.n > 1 else []
        if kind == "nik_excel_zeroed":
            return [
                i
                for i in rows
                if (nf and _is_nik(c[nf][i]) and c[nf][i][15] != "0")
                or (_is_nik(self.col("no_kk")[i]) and c["no_kk"][i][15] != "0")
            ]
        if kind == "leading_apostrophe":
            return [i for i in rows if (nf and c[nf][i]) or self.col("no_kk")[i]]
        if kind == "nonprinting_chars":
            fields = [f for f in ("nama_lengkap", "alamat", nf) if f and f in c]
            return [i for i in rows if any(c[f][i] for f in fields)]
        if kind == "invalid_code":
            return list(rows) if any(f in c for f in CODE_COLUMNS) else []
        if kind in ("excel_serial_date", "mixed_date_format", "future_date"):
            return [i for i in rows if any(self.col(f)[i] for f in DATE_COLUMNS)]
        if kind == "village_name_variant":
            return [i for i in rows if self.col("nama_desa")[i]]
        if kind == "deceased_receiving_assistance":
            if self.entity != "penerima_bantuan" or self.penduduk is None or "nik" not in c:
                return []
            return list(rows) if self._deceased() else []
        if kind == "permit_unknown_nik":
            return list(rows) if self.entity == "izin" and "nik_pemohon" in c else []
        raise ValueError(f"unknown defect kind: {kind}")

    def _deceased(self) -> list[tuple[str, str, str]]:
        """(nik, no_kk, kode_desa) of the deceased in ``penduduk`` (empty without it)."""
        if not hasattr(self, "_dead"):
            p = self.penduduk
            if p is None:
                return []
            m = pc.equal(p.column("status_dasar"), "2")
            d = p.filter(m)
            self._dead = list(
                zip(
                    d.column("nik").to_pylist(),
                    d.column("no_kk").to_pylist(),
                    d.column("kode_desa").to_pylist(),
                    strict=True,
                )
            )
        return self._dead

    # -- applying ---------------------------------------------------------------------------
    def _set(self, i: int, kind: str, field: str, new: str | None, detail: str = "") -> None:
        old = self.cols[field][i]
        self.cols[field][i] = new
        self._record(i, kind, field, old, new, detail)

    def _record(self, i: int, kind: str, field: str, old, new, detail: str) -> None:
        self.truth.append(
            {
                "row": i,
                "kind": kind,
                "field": field,
                "original_value": old,
                "delivered_value": new,
                "detail": detail,
            }
        )

    def _new_nik(self, nik: str) -> bool:
        if nik in self.all_niks:
            return False
        self.all_niks.add(nik)
        return True

    def apply(self, i: int, kind: str) -> bool:
        """Give row ``i`` a defect of ``kind``; False when this row cannot take it."""
        appliers: dict[str, Callable[[int, str], bool]] = {
            "duplicate_nik": self._duplicate_nik,
            "nik_date_mismatch": self._nik_date_mismatch,
            "nik_sex_mismatch": self._nik_sex_mismatch,
            "nik_excel_zeroed": self._nik_excel_zeroed,
            "leading_apostrophe": self._leading_apostrophe,
            "nonprinting_chars": self._nonprinting_chars,
            "invalid_code": self._invalid_code,
            "excel_serial_date": self._date,
            "mixed_date_format": self._date,
            "future_date": self._date,
            "village_name_variant": self._village_name_variant,
            "deceased_receiving_assistance": self._deceased_receiving_assistance,
            "permit_unknown_nik": self._permit_unknown_nik,
        }
        if kind not in appliers:
            raise ValueError(f"unknown defect kind: {kind}")
        return appliers[kind](i, kind)

    def _duplicate_nik(self, i: int, kind: str) -> bool:
        """Noted here, inserted on assembly: a copy of another row carrying row ``i``'s NIK."""
        r = self.r
        j = r.choice([k for k in r.sample(range(self.n), min(self.n, 8)) if k != i] or [i])
        if j == i:
            return False
        assert self.nik_col is not None  # candidates only where there is a NIK
        self.duplicates.append((r.randrange(self.n), j, self.cols[self.nik_col][i]))
        return True

    def _nik_date_mismatch(self, i: int, kind: str) -> bool:
        r = self.r
        v = self.cols["nik"][i]
        dd, mm, yy = int(v[6:8]), int(v[8:10]), int(v[10:12])
        plain = dd - 40 if dd > 40 else dd
        if plain <= 28:
            mm = r.choice([m for m in range(1, 13) if m != mm])
        else:
            yy = (yy + r.randint(1, 5)) % 100
            if mm == 2:
                dd -= plain - 28
        new = f"{v[:6]}{dd:02d}{mm:02d}{yy:02d}{v[12:]}"
        if new == v or not self._new_nik(new):
            return False
        self._set(i, kind, "nik", new, "birth date in NIK differs from tanggal_lahir")
        return True

    def _nik_sex_mismatch(self, i: int, kind: str) -> bool:
        v = self.cols["nik"][i]
        dd = int(v[6:8])
        new = f"{v[:6]}{dd - 40 if dd > 40 else dd + 40:02d}{v[8:]}"
        if not self._new_nik(new):
            return False
        self._set(i, kind, "nik", new, "day +/- 40 disagrees with jenis_kelamin")
        return True

    def _nik_excel_zeroed(self, i: int, kind: str) -> bool:
        c, nf = self.cols, self.nik_col
        fields = [f for f in (nf, "no_kk") if f in c and _is_nik(c[f][i]) and c[f][i][15] != "0"]
        f = fields[0] if len(fields) == 1 or self.r.random() < 0.7 else fields[1]
        assert f is not None  # a candidate has a NIK or a no_kk
        new = c[f][i][:15] + "0"
        if f == nf and not self._new_nik(new):
            return False
        self._set(i, kind, f, new, "16th digit lost to Excel 15-digit precision")
        return True

    def _leading_apostrophe(self, i: int, kind: str) -> bool:
        c = self.cols
        fields = [f for f in (self.nik_col, "no_kk") if f in c and c[f][i]]
        f = self.r.choice(fields)
        assert f is not None
        self._set(i, kind, f, "'" + c[f][i], "text-format apostrophe kept")
        return True

    def _nonprinting_chars(self, i: int, kind: str) -> bool:
        c, r = self.cols, self.r
        fields = [f for f in ("nama_lengkap", "alamat", self.nik_col) if f and f in c and c[f][i]]
        f = r.choice(fields)
        assert f is not None
        ch = r.choice(NONPRINTING)
        v = c[f][i]
        if " " in v and r.random() < 0.5:
            new = v.replace(" ", ch, 1)
        else:
            new = v + ch if r.random() < 0.5 else ch + v
        self._set(i, kind, f, new, f"U+{ord(ch):04X}")
        return True

    def _invalid_code(self, i: int, kind: str) -> bool:
        r = self.r
        f = r.choice([f for f in CODE_COLUMNS if f in self.cols])
        valid = set(code_lists()[CODE_COLUMNS[f]])
        new = r.choice([x for x in ("0", "99", "X", "77") if x not in valid])
        self._set(i, kind, f, new, f"not in {CODE_COLUMNS[f]}")
        return True

    def _date(self, i: int, kind: str) -> bool:
        """excel_serial_date, mixed_date_format or future_date on the row's first date."""
        r = self.r
        f = next(f for f in DATE_COLUMNS if self.col(f)[i])
        d = date.fromisoformat(self.cols[f][i])
        if kind == "excel_serial_date":
            serial = (d - EXCEL_EPOCH).days
            new = f"{serial}.0" if r.random() < 0.2 else str(serial)
        elif kind == "mixed_date_format":
            new = d.strftime("%d/%m/%Y")
        else:
            new = (self.as_of + timedelta(days=r.randint(30, 3000))).isoformat()
        self._set(i, kind, f, new, "")
        return True

    def _village_name_variant(self, i: int, kind: str) -> bool:
        v = self.cols["nama_desa"][i]
        new = _village_variant(self.r, v)
        if new == v:
            return False
        self._set(i, kind, "nama_desa", new, "spelling variant of the village name")
        return True

    def _deceased_receiving_assistance(self, i: int, kind: str) -> bool:
        c = self.cols
        nik, kk, desa = self.r.choice(self._deceased())
        self._set(i, kind, "nik", nik, "recipient is recorded as deceased (status_dasar 2)")
        c["no_kk"][i] = kk if "no_kk" in c else None
        if "kode_desa" in c:
            c["kode_desa"][i] = desa
        return True

    def _permit_unknown_nik(self, i: int, kind: str) -> bool:
        for _ in range(50):
            v = self.cols["nik_pemohon"][i] or "1608010101000001"
            new = f"{v[:12]}{self.r.randint(1, 9999):04d}"
            if self._new_nik(new):
                self._set(i, kind, "nik_pemohon", new, "NIK not in the population register")
                return True
        return False
