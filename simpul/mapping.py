"""Declarative mappings (``mappings/*.yaml``): a source stream's rows -> the canonical model.

A mapping file is validated against :class:`MappingSpec` when loaded. Applying it never raises
on bad data: a value that cannot be mapped becomes null and a :class:`MappingIssue` names the
row and field, so the row is quarantined with a reason instead of crashing the run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import pandas as pd
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simpul.config import PROJECT_ROOT, ConfigError
from simpul.domain.regions import code_lists, match_kecamatan, match_village_names
from simpul.domain.text import WHITESPACE_RUN, clean_digits, clean_text
from simpul.mapping_values import Memo, dot_groups, parse_dates, parse_timestamps, per_distinct
from simpul.model import Entity, entity

MAPPINGS_DIR = PROJECT_ROOT / "mappings"

Transform = Literal["text", "upper", "digits", "rtrw", "village", "region_code", "integer"]
Severity = Literal["error", "warn"]


class FieldSpec(BaseModel):
    """How one canonical column is produced."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(default=None, alias="from", description="source column")
    absent: bool = Field(
        default=False,
        description="the source does not deliver this field: always empty (declared, not "
        "faked with an invented source column)",
    )
    concat: list[str] | None = Field(default=None, description="source columns joined by '.'")
    pad: list[int] | None = Field(default=None, description="zero-pad widths for concat parts")
    transform: Transform = "text"
    code_list: str | None = Field(default=None, description="translate labels to codes")
    aliases: dict[str, str] = Field(default_factory=dict, description="extra label -> code")
    values: dict[str, str] | None = Field(default=None, description="explicit value map")
    date_formats: list[str] | None = Field(default=None, description="strptime formats, in order")
    excel_serial: bool = Field(default=False, description="accept Excel serial day numbers")
    timestamp: bool = False
    kecamatan: str | None = Field(
        default=None, description="village transform: the kecamatan code all names belong to"
    )
    kecamatan_from: str | None = Field(
        default=None, description="village transform: column with the kecamatan code or name"
    )
    kabupaten: str | None = Field(
        default=None, description="village transform: where kecamatan names are looked up"
    )
    name_check: str | None = Field(
        default=None,
        description="column with the village name; a warning when it names another village",
    )

    @model_validator(mode="after")
    def _one_input(self) -> FieldSpec:
        if self.absent:
            if self.source is not None or self.concat is not None:
                raise ValueError("an 'absent' field takes no 'from' or 'concat'")
            return self
        if (self.source is None) == (self.concat is None):
            raise ValueError("give exactly one of 'from' or 'concat' (or 'absent: true')")
        if self.transform == "village":
            if self.source is None or (self.kecamatan is None) == (self.kecamatan_from is None):
                raise ValueError(
                    "transform 'village' needs 'from' and exactly one of 'kecamatan' or "
                    "'kecamatan_from'"
                )
            if self.kecamatan and match_kecamatan(self.kecamatan) is None:
                raise ValueError(f"unknown kecamatan {self.kecamatan!r}")
        elif self.kecamatan or self.kecamatan_from or self.kabupaten:
            raise ValueError("'kecamatan', 'kecamatan_from' and 'kabupaten' need transform village")
        if self.pad and (not self.concat or len(self.pad) != len(self.concat)):
            raise ValueError("'pad' needs one width per 'concat' column")
        if self.code_list and self.code_list not in code_lists():
            raise ValueError(f"unknown code_list {self.code_list!r}")
        return self

    @property
    def inputs(self) -> list[str]:
        if self.absent:
            return []
        cols = self.concat or [cast(str, self.source)]  # _one_input: a source when no concat
        return [*cols, self.kecamatan_from] if self.kecamatan_from else cols


class MappingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    source: str
    stream: str
    entity: str
    cursor: str | None = Field(default=None, description="canonical column that orders changes")
    fields: dict[str, FieldSpec]

    @model_validator(mode="after")
    def _complete(self) -> MappingSpec:
        ent = entity(self.entity)
        missing = set(ent.column_names) - set(self.fields)
        extra = set(self.fields) - set(ent.column_names)
        if missing or extra:
            raise ValueError(
                f"fields must match entity {ent.name!r}: missing {sorted(missing)}, "
                f"unknown {sorted(extra)}"
            )
        return self

    @property
    def source_columns(self) -> set[str]:
        return {c for f in self.fields.values() for c in f.inputs}


def load_mapping(name: str, directory: Path = MAPPINGS_DIR) -> MappingSpec:
    path = directory / f"{name}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return MappingSpec.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"{path}: mapping file not found") from None
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: invalid mapping: {msgs}") from None


@dataclass(frozen=True)
class MappingIssue:
    """One value that could not be mapped (error) or looks doubtful (warn); never the value."""

    row: int
    field: str
    source_column: str
    problem_en: str
    problem_id: str
    severity: Severity = "error"
    rule: str = ""

    def as_failure(self) -> dict[str, object]:
        """The issue as a row of validation failures (``simpul.validate.FAILURE_COLUMNS``)."""
        return {
            "row": self.row,
            "rule": self.rule or f"mapping_{self.field}",
            "severity": self.severity,
            "field": self.field,
            "reason_en": self.problem_en,
            "reason_id": self.problem_id,
        }


def _label_key(s: pd.Series) -> pd.Series:
    """Upper case without whitespace: ``"".join(label.upper().split())``, run by Arrow."""
    return s.astype("string").str.upper().str.replace(WHITESPACE_RUN, "", regex=True)


class Mapper:
    """Applies one :class:`MappingSpec` to pandas frames of source rows."""

    def __init__(self, spec: MappingSpec):
        self.spec = spec
        self.entity: Entity = entity(spec.entity)
        lists = code_lists()
        # conversions remembered across the batches of one delivery (per_distinct)
        self._memo: dict[str, Memo] = {}
        self._lookup: dict[str, dict[str, str]] = {}
        for name, f in spec.fields.items():
            if f.code_list:
                table = {k.upper(): k for k in lists[f.code_list]}  # codes themselves are fine
                for code, label in lists[f.code_list].items():
                    table["".join(label.upper().split())] = code
                for alias, code in f.aliases.items():
                    table["".join(alias.upper().split())] = code
                self._lookup[name] = table
            elif f.values is not None:
                self._lookup[name] = {"".join(k.upper().split()): v for k, v in f.values.items()}

    def check_columns(self, columns: list[str]) -> list[str]:
        """Source columns the mapping needs that the delivery lacks (schema drift)."""
        return sorted(self.spec.source_columns - set(columns))

    def apply(self, frame: pd.DataFrame, rows: pd.Series) -> tuple[pa.Table, list[MappingIssue]]:
        """Map a frame; ``rows`` holds each row's 1-based number in the delivery."""
        issues: list[MappingIssue] = []
        out: dict[str, pd.Series] = {}
        for name, f in self.spec.fields.items():
            raw = self._input(frame, f)
            if f.transform == "village":
                value, bad = self._village(frame, f, raw)
            else:
                convert = functools.partial(self._convert, name, f)
                value, bad = per_distinct(raw, convert, self._memo.setdefault(name, Memo()))
            out[name] = value
            if f.name_check:
                issues.extend(self._check_name(frame, name, f.name_check, value, rows))
            if bad.any():
                col = ",".join(f.inputs)
                for r in rows[bad]:  # raw values may be personal data: never in messages
                    issues.append(
                        MappingIssue(
                            int(r),
                            name,
                            col,
                            f"value of {col} cannot be read as {name} ({_describe(f)[0]})",
                            f"nilai {col} tidak dapat dibaca sebagai {name} ({_describe(f)[1]})",
                        )
                    )
        table = pa.table(
            {
                c.name: pa.array(out[c.name], type=c.type, from_pandas=True)
                for c in self.entity.columns
            }
        )
        return table, issues

    @staticmethod
    def _village(frame: pd.DataFrame, f: FieldSpec, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Village name -> code within its kecamatan (normalised, then unambiguous fuzzy)."""
        names = clean_text(raw)
        if f.kecamatan:
            kec: pd.Series | str = match_kecamatan(f.kecamatan) or f.kecamatan
        else:
            given = clean_text(frame[f.kecamatan_from]) if f.kecamatan_from in frame else None
            if given is None:
                kec = pd.Series(pd.NA, index=frame.index, dtype="string")
            else:
                lookup = {v: match_kecamatan(v, f.kabupaten) for v in given.dropna().unique()}
                kec = given.map(lookup).astype("string")
        value = match_village_names(names, kec)
        return value, (names.notna() & value.isna()).fillna(False).astype(bool)

    def _check_name(
        self, frame: pd.DataFrame, field: str, column: str, codes: pd.Series, rows: pd.Series
    ) -> list[MappingIssue]:
        """Warn where a village *name* column names another village than the code does.

        Spelling variants ("Kota Baru Barat" / "KOTABARU BARAT", a "DESA " prefix) normalise to
        the same village and pass; a name that matches nothing or another village is reported.
        """
        if column not in frame:
            return []
        memo = self._memo.setdefault(f"{column}|text", Memo())
        names = per_distinct(frame[column].astype("string"), clean_text, memo)
        code = pd.Series(codes, index=frame.index, dtype="string")
        matched = match_village_names(names, code.str.slice(0, 8))
        bad = (names.notna() & code.notna() & (matched.isna() | (matched != code))).fillna(False)
        return [
            MappingIssue(
                int(r),
                field,
                column,
                f"village name in {column} does not match the village code ({field})",
                f"nama desa pada {column} tidak sesuai dengan kode desa ({field})",
                severity="warn",
                rule=f"mapping_{field}_name",
            )
            for r in rows[bad.astype(bool)]
        ]

    def _input(self, frame: pd.DataFrame, f: FieldSpec) -> pd.Series:
        if f.absent:
            return pd.Series(pd.NA, index=frame.index, dtype="string")
        if f.concat:
            parts = []
            for col, width in zip(f.concat, f.pad or [0] * len(f.concat), strict=True):
                memo = self._memo.setdefault(f"{col}|digits", Memo())
                p = per_distinct(frame[col].astype("string"), clean_digits, memo)
                parts.append(p.str.zfill(width) if width else p)
            joined = parts[0]
            for p in parts[1:]:
                joined = joined + "." + p
            return joined
        return (
            frame[f.source].astype("string")
            if f.source in frame
            else pd.Series(pd.NA, index=frame.index, dtype="string")
        )

    def _convert(self, name: str, f: FieldSpec, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
        cleaned = clean_text(raw)  # pure: computed once per field, used for presence and value
        present = cleaned.notna()
        if f.transform == "digits" or f.concat:
            val = clean_digits(raw) if not f.concat else raw
        elif f.transform == "region_code":
            # Kemendagri codes arrive dotted (16.08.01.2006) or as bare digits (1608012006)
            d = clean_digits(raw)
            ok = d.str.fullmatch(r"\d{2}|\d{4}|\d{6}|\d{10}").fillna(False).astype(bool)
            dotted = d.str.replace(r"^(\d{2})(\d{2})?(\d{2})?(\d{4})?$", dot_groups, regex=True)
            val = dotted.where(ok)
        elif f.transform == "integer":
            v = cleaned.str.replace(r"\.0+$", "", regex=True)
            val = pd.to_numeric(
                v.where(v.str.fullmatch(r"-?\d+").fillna(False)), errors="coerce"
            ).astype("Int64")
        elif f.transform == "rtrw":
            v = cleaned.str.replace(r"\.0$", "", regex=True)
            v = v.mask(v.isin(["-", "0", "00", "000"]), pd.NA)
            ok = v.str.fullmatch(r"\d{1,3}").fillna(True)
            val = v.where(ok).str.zfill(3)
        else:
            val = cleaned
            if f.transform == "upper":
                val = val.str.upper()
        if name in self._lookup:
            val = _label_key(val).map(self._lookup[name]).astype("string")
        elif f.timestamp:
            val = parse_timestamps(val, f.date_formats or [], f.excel_serial)
        elif f.date_formats or f.excel_serial:
            val = parse_dates(val, f.date_formats or [], f.excel_serial)
        bad = present & pd.Series(val, index=raw.index).isna()
        return val, bad.fillna(False).astype(bool)


def _describe(f: FieldSpec) -> tuple[str, str]:
    """What the field expects, in English and Indonesian."""
    if f.code_list:
        return f"code list {f.code_list}", f"daftar kode {f.code_list}"
    if f.values is not None:
        allowed = ", ".join(sorted(f.values))
        return f"one of {allowed}", f"salah satu dari {allowed}"
    if (f.date_formats or f.excel_serial) and not f.timestamp:
        fmts = " / ".join(f.date_formats or []) + (" / Excel serial" if f.excel_serial else "")
        return f"date {fmts}", f"tanggal {fmts}"
    if f.timestamp:
        serial = " / Excel serial" if f.excel_serial else ""
        return f"ISO 8601 timestamp{serial}", f"waktu ISO 8601{serial}"
    if f.transform == "rtrw":
        return "RT/RW number", "nomor RT/RW"
    if f.transform == "region_code":
        return "Kemendagri region code", "kode wilayah Kemendagri"
    if f.transform == "integer":
        return "whole number", "bilangan bulat"
    if f.transform == "village":
        return (
            "village name of the kecamatan (after normalising spelling)",
            "nama desa di kecamatan tersebut (setelah ejaan diseragamkan)",
        )
    return "text", "teks"
