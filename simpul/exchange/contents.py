"""What goes into one delivery besides the shaped data: the delta against the last delivery
(keyed row hashes in a state file), the attachments cut to the grant, the per-person
disclosure index, and the content hash that says whether the agency already has it."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simpul.config import home
from simpul.exchange.agreements import Agreement
from simpul.exchange.errors import Unchanged
from simpul.exchange.formats import write_csv
from simpul.exchange.signing import canonical_json, sha256_bytes, sha256_file


def schema_json(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def content_sha256(files: list[dict[str, Any]]) -> str:
    """What the agency receives, independent of delivery id and time: the files' hashes."""
    return sha256_bytes(canonical_json(sorted([f["name"], f["sha256"]] for f in files)))


def check_changed(
    agreement: Agreement,
    last: dict[str, Any] | None,
    content: str,
    now: datetime,
    notes: list[str],
) -> None:
    """Raise :class:`Unchanged` when the agency has (or is about to get) this content, unless
    the agreement's periodic full copy is due."""
    if last is None or last["content_sha256"] != content:
        return
    if last["status"] == "pending":
        raise Unchanged(
            f"isi sama dengan kiriman {last['delivery_id']} yang masih antre / "
            f"same content as queued delivery {last['delivery_id']}",
            last["delivery_id"],
        )
    if not full_copy_due(agreement, last, now):
        raise Unchanged(
            f"tidak berubah sejak kiriman {last['delivery_id']} / "
            f"unchanged since delivery {last['delivery_id']}",
            last["delivery_id"],
        )
    notes.append("salinan lengkap berkala / periodic full copy")


def full_copy_due(agreement: Agreement, last: dict[str, Any], now: datetime) -> bool:
    """True when the agreement's periodic full copy is due since ``last`` was sent."""
    if not agreement.full_copy_days:
        return False
    when = last.get("sent_at") or last.get("created_at")
    return bool(when is None or when + timedelta(days=agreement.full_copy_days) <= now)


# --------------------------------------------------------------------------- delta state


def _state_path(agreement_id: str, dataset: str) -> Path:
    return home() / "exchange" / "state" / agreement_id / f"{dataset}.json"


def _row_hashes(table: pa.Table) -> list[str]:
    from simpul.warehouse.pseudonym import hashing_key, value_hash

    key = hashing_key()
    return [
        value_hash("row", canonical_json({k: str(v) for k, v in r.items()}).decode(), key) or ""
        for r in table.to_pylist()
    ]


def save_state(agreement_id: str, dataset: str, delivery_id: str, hashes: list[str]) -> None:
    path = _state_path(agreement_id, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"delivery_id": delivery_id, "row_hashes": sorted(hashes)}))
    tmp.replace(path)


def delta_mask(agreement_id: str, dataset: str, table: pa.Table) -> tuple[Any, list[str], Any]:
    """Rows new or changed since the last delivery (keyed row hashes kept in a state file)."""
    hashes = _row_hashes(table)
    path = _state_path(agreement_id, dataset)
    before = json.loads(path.read_text()) if path.exists() else {}
    seen = set(before.get("row_hashes", []))
    return pa.array([h not in seen for h in hashes], pa.bool_()), hashes, before.get("delivery_id")


# ------------------------------------------------------------------ attachments, disclosures


def attachments(
    paths: list[Path], data: pa.Table, grant: Any, tmp: Path, notes: list[str]
) -> list[dict[str, Any]]:
    """Attachments shaped by the grant like the data: a row-level CSV keeps only the granted
    columns, the granted severities and the rows that are in this delivery's data (so a
    village's share carries only its own rows); a summary that covers more than the grant
    (all severities, every row of the load) is left out, with a note."""
    out = []
    keep_rows: dict[str, set[int]] = {}
    if {"load_id", "baris"} <= set(data.column_names):
        for r in data.select(["load_id", "baris"]).to_pylist():
            keep_rows.setdefault(r["load_id"], set()).add(int(r["baris"]))
    for att in paths:
        load_id = att.parent.name
        target = tmp / f"lampiran_{load_id}_{att.name}"
        if att.suffix == ".csv":  # pandas wrote it: re-shape, with formula cells neutralised
            table = _read_text_csv(att)
            if "tingkat" in table.column_names:
                table = table.filter(
                    pc.is_in(table.column("tingkat"), value_set=pa.array(grant.severities))
                )
            if "baris" in table.column_names:
                wanted = keep_rows.get(load_id, set())
                mask = [int(b) in wanted if b else False for b in table.column("baris").to_pylist()]
                table = table.filter(pa.array(mask, pa.bool_()))
            cols = [c for c in table.column_names if c in grant.columns]
            if not cols or table.num_rows == 0:
                continue
            write_csv(table.select(cols), target)
        elif "warning" in grant.severities and not grant.partition_by:
            shutil.copyfile(att, target)  # the whole report is within the grant
        else:
            note = f"ringkasan {att.name} tidak dilampirkan / summary not attached (grant)"
            if note not in notes:
                notes.append(note)
            continue
        out.append(
            {
                "name": target.name,
                "role": "attachment",
                "sha256": sha256_file(target),
                "bytes": target.stat().st_size,
            }
        )
    return out


def _read_text_csv(path: Path) -> pa.Table:
    """A CSV with every column read as text (codes and NIKs keep their leading zeros)."""
    import pyarrow.csv as pacsv

    with open(path, "rb") as fh:
        header = fh.readline().decode("utf-8-sig").strip().split(",")
    types = {c.strip('"'): pa.string() for c in header}
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))


def disclosures(row: dict[str, Any], subjects: list[str]) -> pa.Table | None:
    """The per-person index: who the delivery is about, under the keyed NIK pseudonym."""
    if not subjects:
        return None
    from simpul.warehouse.pseudonym import key_id, pseudonym_key, pseudonymise

    key = pseudonym_key()  # refuses without a real key: a guessable hash would leak NIKs
    pseudonyms = sorted({p for s in subjects if (p := pseudonymise(s, key, "nik"))})
    n = len(pseudonyms)
    return pa.table(
        {
            "delivery_id": pa.array([row["delivery_id"]] * n),
            "agreement": pa.array([row["agreement"]] * n),
            "agency": pa.array([row["agency"]] * n),
            "dataset": pa.array([row["dataset"]] * n),
            "subject_pseudonym": pa.array(pseudonyms),
            "kunci_id": pa.array([key_id(key)] * n),
        }
    )
