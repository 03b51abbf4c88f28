"""Inject the defects real agency deliveries carry, and record every one of them.

``inject_defects`` returns the delivered table (all columns as text, as files and JSON deliver
them) plus a ground-truth table with one row per injected defect, so tests and the demo can
check that the hub finds each one. At most one defect per delivered row keeps the truth exact.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from simpul.synth.codes import code_lists, regions

DEFECT_KINDS = (
    "duplicate_nik",
    "nik_date_mismatch",
    "nik_sex_mismatch",
    "nik_excel_zeroed",
    "leading_apostrophe",
    "nonprinting_chars",
    "invalid_code",
    "excel_serial_date",
    "mixed_date_format",
    "village_name_variant",
    "future_date",
    "deceased_receiving_assistance",
    "permit_unknown_nik",
)
# the defects one person row of a population register can carry (not the cross-entity ones)
PERSON_KINDS = tuple(
    k for k in DEFECT_KINDS if k not in ("deceased_receiving_assistance", "permit_unknown_nik")
)
ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "penduduk": ("nik",),
    "keluarga": ("no_kk",),
    "peristiwa": ("id_peristiwa",),
    "permohonan_layanan": ("id_permohonan",),
    "izin": ("nomor_izin",),
    "penerima_bantuan": ("nik", "program", "periode"),
}
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
GROUND_TRUTH_SCHEMA = pa.schema(
    [
        ("entity", pa.string()),
        ("row_index", pa.int64()),
        ("record_key", pa.string()),
        ("nik", pa.string()),
        ("kind", pa.string()),
        ("field", pa.string()),
        ("original_value", pa.string()),
        ("delivered_value", pa.string()),
        ("detail", pa.string()),
    ]
)
EXCEL_EPOCH = date(1899, 12, 30)


def as_text(table: pa.Table) -> pa.Table:
    """Every column as string: dates ISO, timestamps ``YYYY-MM-DDTHH:MM:SSZ``; adds nama_desa."""
    cols: dict[str, pa.Array] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            sec = col.cast(pa.timestamp("s", tz="UTC"), safe=False)
            cols[name] = pc.strftime(sec, "%Y-%m-%dT%H:%M:%SZ")
        else:
            cols[name] = col.cast(pa.string())
    if "kode_desa" in cols and "nama_desa" not in cols:
        names = {k: v.upper() for k, (_, v) in regions().okut_villages.items()}
        cols["nama_desa"] = pa.array(
            [names.get(k) for k in cols["kode_desa"].to_pylist()], pa.string()
        )
    return pa.table(cols)


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


class _Injector:
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
        if not hasattr(self, "_dead"):
            p = self.penduduk
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

    def apply(self, i: int, kind: str) -> bool:  # one branch per kind, on purpose
        c, r, nf = self.cols, self.r, self.nik_col
        if kind == "duplicate_nik":
            j = r.choice([k for k in r.sample(range(self.n), min(self.n, 8)) if k != i] or [i])
            if j == i:
                return False
            self.duplicates.append((r.randrange(self.n), j, c[nf][i]))
            return True
        if kind == "nik_date_mismatch":
            v = c["nik"][i]
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
        if kind == "nik_sex_mismatch":
            v = c["nik"][i]
            dd = int(v[6:8])
            new = f"{v[:6]}{dd - 40 if dd > 40 else dd + 40:02d}{v[8:]}"
            if not self._new_nik(new):
                return False
            self._set(i, kind, "nik", new, "day +/- 40 disagrees with jenis_kelamin")
            return True
        if kind == "nik_excel_zeroed":
            fields = [
                f for f in (nf, "no_kk") if f in c and _is_nik(c[f][i]) and c[f][i][15] != "0"
            ]
            f = fields[0] if len(fields) == 1 or r.random() < 0.7 else fields[1]
            new = c[f][i][:15] + "0"
            if f == nf and not self._new_nik(new):
                return False
            self._set(i, kind, f, new, "16th digit lost to Excel 15-digit precision")
            return True
        if kind == "leading_apostrophe":
            fields = [f for f in (nf, "no_kk") if f in c and c[f][i]]
            f = r.choice(fields)
            self._set(i, kind, f, "'" + c[f][i], "text-format apostrophe kept")
            return True
        if kind == "nonprinting_chars":
            fields = [f for f in ("nama_lengkap", "alamat", nf) if f and f in c and c[f][i]]
            f = r.choice(fields)
            ch = r.choice(NONPRINTING)
            v = c[f][i]
            if " " in v and r.random() < 0.5:
                new = v.replace(" ", ch, 1)
            else:
                new = v + ch if r.random() < 0.5 else ch + v
            self._set(i, kind, f, new, f"U+{ord(ch):04X}")
            return True
        if kind == "invalid_code":
            f = r.choice([f for f in CODE_COLUMNS if f in c])
            valid = set(code_lists()[CODE_COLUMNS[f]])
            new = r.choice([x for x in ("0", "99", "X", "77") if x not in valid])
            self._set(i, kind, f, new, f"not in {CODE_COLUMNS[f]}")
            return True
        if kind in ("excel_serial_date", "mixed_date_format", "future_date"):
            f = next(f for f in DATE_COLUMNS if self.col(f)[i])
            d = date.fromisoformat(c[f][i])
            if kind == "excel_serial_date":
                serial = (d - EXCEL_EPOCH).days
                new = f"{serial}.0" if r.random() < 0.2 else str(serial)
            elif kind == "mixed_date_format":
                new = d.strftime("%d/%m/%Y")
            else:
                new = (self.as_of + timedelta(days=r.randint(30, 3000))).isoformat()
            self._set(i, kind, f, new, "")
            return True
        if kind == "village_name_variant":
            v = c["nama_desa"][i]
            new = _village_variant(r, v)
            if new == v:
                return False
            self._set(i, kind, "nama_desa", new, "spelling variant of the village name")
            return True
        if kind == "deceased_receiving_assistance":
            nik, kk, desa = r.choice(self._deceased())
            self._set(i, kind, "nik", nik, "recipient is recorded as deceased (status_dasar 2)")
            c["no_kk"][i] = kk if "no_kk" in c else None
            if "kode_desa" in c:
                c["kode_desa"][i] = desa
            return True
        if kind == "permit_unknown_nik":
            for _ in range(50):
                v = c["nik_pemohon"][i] or "1608010101000001"
                new = f"{v[:12]}{r.randint(1, 9999):04d}"
                if self._new_nik(new):
                    self._set(i, kind, "nik_pemohon", new, "NIK not in the population register")
                    return True
            return False
        raise ValueError(f"unknown defect kind: {kind}")


def inject_defects(
    table: pa.Table,
    rate: float,
    seed: int,
    kinds: Sequence[str] | None = None,
    *,
    entity: str = "penduduk",
    penduduk: pa.Table | None = None,
    as_of: date | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Corrupt about ``rate`` of the rows of ``table``; return (delivered, ground_truth).

    ``kinds=None`` uses every kind that applies to this entity; an explicitly requested kind
    that cannot apply raises ValueError. ``penduduk`` (the clean truth) is needed for
    deceased_receiving_assistance and keeps permit_unknown_nik / NIK edits from colliding
    with real NIKs. Delivered rows keep their order; duplicate_nik rows are inserted.
    """
    text = as_text(table)
    inj = _Injector(entity, text, seed, penduduk, as_of)
    requested = list(kinds) if kinds is not None else list(DEFECT_KINDS)
    for k in requested:
        if k not in DEFECT_KINDS:
            raise ValueError(f"unknown defect kind: {k}")
    target = int(round(rate * inj.n))
    cands = {k: inj.candidates(k) if target or kinds is not None else [] for k in requested}
    usable = [k for k in requested if cands[k]]
    if kinds is not None and len(usable) < len(requested):
        missing = sorted(set(requested) - set(usable))
        raise ValueError(f"defect kinds not applicable to {entity}: {missing}")
    used: set[int] = set()
    if usable and target:
        quota = {k: target // len(usable) for k in usable}
        for k in inj.r.sample(usable, target % len(usable)):
            quota[k] += 1
        for k in usable:
            pool = [i for i in cands[k] if i not in used]
            inj.r.shuffle(pool)
            done = 0
            for i in pool:
                if done >= quota[k]:
                    break
                if inj.apply(i, k):
                    used.add(i)
                    done += 1
    return _assemble(entity, inj, text.column_names, table)


def _assemble(
    entity: str, inj: _Injector, names: list[str], original: pa.Table
) -> tuple[pa.Table, pa.Table]:
    """Insert duplicate rows and translate row numbers to delivered positions."""
    after: dict[int, list[tuple[int, str]]] = {}
    for pos, src, nik in inj.duplicates:
        after.setdefault(pos, []).append((src, nik))
    order: list[tuple[int, str | None]] = []  # (source row, replacement nik or None)
    position: dict[int, int] = {}
    dup_rows: list[tuple[int, int, str]] = []  # (delivered row, source row, nik)
    for i in range(inj.n):
        position[i] = len(order)
        order.append((i, None))
        for src, nik in after.get(i, []):
            dup_rows.append((len(order), src, nik))
            order.append((src, nik))
    nf = inj.nik_col
    cols: dict[str, list] = {name: [] for name in names}
    for src, nik in order:
        for name in names:
            cols[name].append(nik if (nik is not None and name == nf) else inj.cols[name][src])
    delivered = pa.table({n: pa.array(v, pa.string()) for n, v in cols.items()})

    key_cols = ENTITY_KEYS.get(entity, ())
    orig_nik = original.column(nf).to_pylist() if nf else [None] * inj.n
    orig_keys = [
        original.column(k).cast(pa.string()).to_pylist()
        for k in key_cols
        if k in original.column_names
    ]

    def key(i: int) -> str:
        return "|".join(str(col[i]) for col in orig_keys) if orig_keys else str(i)

    rows = []
    for t in inj.truth:
        i = t["row"]
        rows.append(
            {
                "entity": entity,
                "row_index": position[i],
                "record_key": key(i),
                "nik": orig_nik[i],
                **{
                    k: t[k]
                    for k in ("kind", "field", "original_value", "delivered_value", "detail")
                },
            }
        )
    for pos, src, nik in dup_rows:
        rows.append(
            {
                "entity": entity,
                "row_index": pos,
                "record_key": key(src),
                "nik": orig_nik[src],
                "kind": "duplicate_nik",
                "field": nf,
                "original_value": orig_nik[src],
                "delivered_value": nik,
                "detail": "copy of another record carrying an existing NIK",
            }
        )
    rows.sort(key=lambda x: x["row_index"])
    truth = pa.Table.from_pylist(rows, schema=GROUND_TRUTH_SCHEMA)
    return delivered, truth
