"""Store and forward: build a delivery into the outbox, send it, collect receipts, retry.

``prepare`` builds one (agreement, dataset) delivery: the dataset is shaped to the grant
(default deny), written under ``SIMPUL_HOME/outbox/<delivery_id>/`` with a signed manifest, and
queued in ``ops.exchange_outbox`` with its evidence row and disclosure index in one
transaction. ``dispatch`` sends what is due, claiming each row first so two dispatchers do not
both send it; a failure schedules the next attempt with exponential backoff, so deliveries
survive an agency outage or a hub restart. The delivery id is the idempotency key every channel
honours, so a resend (e.g. after a crash between sending and recording) reaches the agency once.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from simpul.config import home
from simpul.exchange import channels
from simpul.exchange.agreements import Agreement, AgreementsFile
from simpul.exchange.datasets import DATASETS, apply_filter, shape
from simpul.exchange.errors import ExchangeError
from simpul.exchange.formats import write, write_csv
from simpul.exchange.signing import (
    MANIFEST,
    SIGNATURE,
    canonical_json,
    load_signing_key,
    sha256_bytes,
    sha256_file,
    sign_manifest,
)
from simpul.exchange.store import ensure_exchange_schema, log_event, now_utc
from simpul.warehouse.engine import Warehouse

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=6)
LEASE = timedelta(minutes=10)  # a claimed row is retried after this if its sender died


def outbox_dir() -> Path:
    return home() / "outbox"


def backoff(attempt: int) -> timedelta:
    """Delay before attempt ``attempt + 1``: 30 s, 1 min, 2 min, ... capped at 6 h."""
    return min(BACKOFF_BASE * (2 ** max(attempt - 1, 0)), BACKOFF_MAX)


def _schema_json(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


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


def _save_state(agreement_id: str, dataset: str, delivery_id: str, hashes: list[str]) -> None:
    path = _state_path(agreement_id, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"delivery_id": delivery_id, "row_hashes": sorted(hashes)}))
    tmp.replace(path)


# --------------------------------------------------------------------------- prepare


def prepare(
    wh: Warehouse,
    agreements: AgreementsFile,
    agreement_id: str,
    dataset: str,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Build, sign and queue one delivery; returns its outbox row (an empty result is still a
    delivery, with a manifest saying so)."""
    ensure_exchange_schema(wh)
    agreement = agreements.get(agreement_id)
    if dataset not in agreement.datasets:  # default deny: only granted datasets are built
        raise ExchangeError(f"dataset {dataset!r} is not granted by agreement {agreement_id!r}")
    now = now or now_utc()
    signing_key = load_signing_key()  # fail before building anything when there is none
    ds = DATASETS[dataset]
    grant = agreement.datasets[dataset]
    result = ds.build(wh, agreement.params_for(dataset))
    filtered = apply_filter(result.table, grant.filter)
    table = shape(ds, filtered, grant.columns, None, grant.small_cell_threshold)
    subjects: list[str] = []
    if ds.subject_column and ds.subject_column in filtered.column_names and not ds.measure:
        subjects = sorted({s for s in filtered.column(ds.subject_column).to_pylist() if s})

    delivery_id = str(uuid.uuid4())
    notes = list(result.notes)
    base = None
    hashes: list[str] = []
    if agreement.mode == "delta":
        keep, hashes, base = _delta_mask(agreement_id, dataset, table)
        table = table.filter(keep)
        if subjects:  # row-level data: ``table`` is ``filtered`` projected, same row order
            filtered = filtered.filter(keep)
            subjects = sorted({s for s in filtered.column(ds.subject_column).to_pylist() if s})
    if table.num_rows == 0 and not notes:
        notes.append("tidak ada baris baru / no rows in this delivery")

    ids = {
        "delivery_id": delivery_id,
        "agreement": agreement_id,
        "agency": agreement.agency,
        "dataset": dataset,
    }
    disclosures = _disclosures(ids, subjects)  # before any file: needs the key
    metadata = dict(result.metadata)
    if "kode_desa" in table.column_names:
        metadata["kode_wilayah"] = sorted({k for k in table.column("kode_desa").to_pylist() if k})
    final = outbox_dir() / delivery_id
    tmp = outbox_dir() / f".tmp-{delivery_id}"
    tmp.mkdir(parents=True)
    data_path = write(table, tmp / dataset, agreement.format)
    files = [
        {
            "name": data_path.name,
            "role": "data",
            "sha256": sha256_file(data_path),
            "bytes": data_path.stat().st_size,
            "rows": table.num_rows,
            "schema": _schema_json(table.schema),
        }
    ]
    for att in result.attachments:
        target = tmp / f"lampiran_{att.parent.name}_{att.name}"
        if att.suffix == ".csv":  # pandas wrote it: re-write with formula cells neutralised
            write_csv(_read_text_csv(att), target)
        else:
            shutil.copyfile(att, target)
        files.append(
            {
                "name": target.name,
                "role": "attachment",
                "sha256": sha256_file(target),
                "bytes": target.stat().st_size,
            }
        )
    manifest = {
        "manifest_version": 1,
        "delivery_id": delivery_id,
        "hub_id": agreements.hub_id,
        "agreement": agreement_id,
        "agency": agreement.agency,
        "agency_name": agreement.agency_name,
        "dataset": dataset,
        "title": ds.title,
        "description": ds.description,
        "purpose": agreement.purpose,
        "legal_basis": agreement.legal_basis,
        "pks_reference": agreement.pks_reference,
        "created_at": now.isoformat(),
        "format": agreement.format,
        "mode": agreement.mode,
        "delta_base_delivery_id": base,
        "retention_days": agreement.retention_days,
        "delete_after": (now + timedelta(days=agreement.retention_days)).date().isoformat(),
        "measure": ds.measure,
        "small_cell_threshold": grant.small_cell_threshold if ds.measure else None,
        "rows": table.num_rows,
        "files": files,
        "notes": notes,
        "metadata": metadata,
    }
    manifest_bytes, signature = sign_manifest(manifest, signing_key)
    (tmp / MANIFEST).write_bytes(manifest_bytes)
    (tmp / SIGNATURE).write_text(signature + "\n")
    tmp.rename(final)

    row = {
        "delivery_id": delivery_id,
        "agreement": agreement_id,
        "agency": agreement.agency,
        "dataset": dataset,
        "channel": agreement.channel.type,
        "status": "pending",
        "rows": table.num_rows,
        "manifest_sha256": sha256_bytes(manifest_bytes),
        "signature": signature,
        "path": str(final),
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    with wh.begin() as conn:
        cols = list(row)
        conn.execute(
            sa.text(
                f"INSERT INTO ops.exchange_outbox ({', '.join(_q(c) for c in cols)}) "
                f"VALUES ({', '.join(':' + c for c in cols)})"
            ),
            row,
        )
        log_event(conn, "queued", _evidence(row, agreement), detail="; ".join(notes)[:500] or None)
        if disclosures is not None:
            wh.bulk_insert(conn, "ops.exchange_disclosures", disclosures)
    if agreement.mode == "delta":
        _save_state(agreement_id, dataset, delivery_id, hashes)
    log.info(
        "exchange: queued %s for %s (%s, %d rows)",
        delivery_id,
        agreement.agency,
        dataset,
        table.num_rows,
    )
    return row


def _delta_mask(agreement_id: str, dataset: str, table: pa.Table) -> tuple[Any, list[str], Any]:
    """Rows new or changed since the last delivery (keyed row hashes kept in a state file)."""
    hashes = _row_hashes(table)
    path = _state_path(agreement_id, dataset)
    before = json.loads(path.read_text()) if path.exists() else {}
    seen = set(before.get("row_hashes", []))
    return pa.array([h not in seen for h in hashes], pa.bool_()), hashes, before.get("delivery_id")


def _read_text_csv(path: Path) -> pa.Table:
    """A CSV with every column read as text (codes and NIKs keep their leading zeros)."""
    import pyarrow.csv as pacsv

    with open(path, "rb") as fh:
        header = fh.readline().decode("utf-8-sig").strip().split(",")
    types = {c.strip('"'): pa.string() for c in header}
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))


def _q(col: str) -> str:
    return f'"{col}"' if col == "rows" else col


def _evidence(row: dict[str, Any], agreement: Agreement) -> dict[str, Any]:
    return {**row, "purpose": agreement.purpose, "legal_basis": agreement.legal_basis}


def _disclosures(row: dict[str, Any], subjects: list[str]) -> pa.Table | None:
    """The per-person index: who the delivery is about, under the keyed NIK pseudonym."""
    if not subjects:
        return None
    from simpul.warehouse.pseudonym import key_id, pseudonym_key, pseudonymise

    key = pseudonym_key()  # refuses without a real key: a guessable hash would leak NIKs
    pseudonyms = sorted({pseudonymise(s, key, "nik") for s in subjects})
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


# --------------------------------------------------------------------------- dispatch


@dataclass
class Attempt:
    delivery_id: str
    agency: str
    dataset: str
    outcome: str  # receipted | sent | retry | cancelled | tampered | skipped
    detail: str = ""


def _outgoing(row: dict[str, Any]) -> channels.Outgoing:
    path = Path(row["path"])
    manifest = json.loads((path / MANIFEST).read_bytes())
    return channels.Outgoing(row["delivery_id"], path, manifest, row["manifest_sha256"])


def _claim(wh: Warehouse, row: dict[str, Any], now: datetime) -> bool:
    """Take the row for this dispatcher (attempts + 1, lease); False if someone else did."""
    with wh.begin() as conn:
        res = conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET attempts = attempts + 1, next_attempt_at = :lease "
                "WHERE delivery_id = :id AND attempts = :attempts AND status = 'pending'"
            ),
            {"lease": now + LEASE, "id": row["delivery_id"], "attempts": row["attempts"]},
        )
        return res.rowcount == 1


def record_success(
    wh: Warehouse,
    row: dict[str, Any],
    agreement: Agreement,
    result: channels.SendResult,
    now: datetime,
) -> str:
    """Mark a sent delivery and append its evidence (sent, and receipted when there is one)."""
    status = "receipted" if result.receipt is not None else "sent"
    ev = _evidence(row, agreement)
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET status = :status, sent_at = :now, "
                "next_attempt_at = NULL, last_error = NULL, receipt_sha256 = :rsha, "
                "receipt_at = :rat WHERE delivery_id = :id"
            ),
            {
                "status": status,
                "now": now,
                "rsha": result.receipt_sha256,
                "rat": now if result.receipt is not None else None,
                "id": row["delivery_id"],
            },
        )
        log_event(
            conn, "sent", ev, attempt=row["attempts"] + 1, sent_at=now, detail=result.detail[:500]
        )
        if result.receipt is not None:
            log_event(
                conn,
                "receipted",
                ev,
                attempt=row["attempts"] + 1,
                sent_at=now,
                receipt_sha256=result.receipt_sha256,
                receipt_at=now,
            )
    return status


def _record_failure(
    wh: Warehouse, row: dict[str, Any], agreement: Agreement, exc: Exception, now: datetime
) -> timedelta:
    from simpul.orchestration.alerts import redact

    attempt = row["attempts"] + 1
    delay = backoff(attempt)
    reason = redact(f"{type(exc).__name__}: {exc}", 300)
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET next_attempt_at = :next, last_error = :err "
                "WHERE delivery_id = :id"
            ),
            {"next": now + delay, "err": reason, "id": row["delivery_id"]},
        )
        log_event(conn, "attempt_failed", _evidence(row, agreement), attempt=attempt, detail=reason)
    return delay


def _cancel(wh: Warehouse, row: dict[str, Any], reason: str, status: str = "cancelled") -> None:
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET status = :s, last_error = :r, "
                "next_attempt_at = NULL WHERE delivery_id = :id"
            ),
            {"s": status, "r": reason, "id": row["delivery_id"]},
        )
        log_event(conn, status, row, detail=reason)


def self_check(row: dict[str, Any]) -> str | None:
    """Why the outbox copy differs from what was signed and recorded (None: intact).

    Anchored on the manifest hash in ``ops.exchange_outbox``, so it holds across a rotation of
    the signing key; a changed outbox folder is never sent."""
    path = Path(row["path"])
    try:
        if sha256_file(path / MANIFEST) != row["manifest_sha256"]:
            return "manifest changed in the outbox"
        for f in json.loads((path / MANIFEST).read_bytes())["files"]:
            if sha256_file(path / f["name"]) != f["sha256"]:
                return f"file {f['name']} changed in the outbox"
    except (OSError, ValueError, KeyError) as exc:
        return f"outbox copy unreadable: {type(exc).__name__}"
    return None


def dispatch(
    wh: Warehouse,
    agreements: AgreementsFile,
    *,
    now: datetime | None = None,
    agreement_id: str | None = None,
) -> list[Attempt]:
    """Send every pending delivery that is due; failures are rescheduled, never raised."""
    ensure_exchange_schema(wh)
    now = now or now_utc()
    due = wh.query(
        'SELECT delivery_id, agreement, agency, dataset, status, "rows", manifest_sha256, '
        "signature, path, attempts FROM ops.exchange_outbox WHERE status = 'pending' "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= :now) "
        + ("AND agreement = :agreement " if agreement_id else "")
        + "ORDER BY created_at, delivery_id",
        {"now": now, "agreement": agreement_id},
    )
    out: list[Attempt] = []
    for row in due:
        agreement = agreements.agreements.get(row["agreement"])
        if agreement is None or not agreement.enabled or row["dataset"] not in agreement.datasets:
            # entitlement withdrawn after queueing: default deny applies to the outbox too
            _cancel(wh, row, "agreement or grant withdrawn / perjanjian dicabut")
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "cancelled"))
            continue
        problem = self_check(row)
        if problem:
            _cancel(wh, row, problem, status="tampered")
            log.error("exchange: %s not sent: %s", row["delivery_id"], problem)
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "tampered"))
            continue
        if not _claim(wh, row, now):
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "skipped"))
            continue
        try:
            result = channels.send(agreement, _outgoing(row))
        except Exception as exc:  # noqa: BLE001 - any failure is retried later
            delay = _record_failure(wh, row, agreement, exc, now)
            log.warning(
                "exchange: %s to %s failed (%s); retry in %s",
                row["delivery_id"],
                row["agency"],
                type(exc).__name__,
                delay,
            )
            out.append(
                Attempt(
                    row["delivery_id"], row["agency"], row["dataset"], "retry", type(exc).__name__
                )
            )
            continue
        status = record_success(wh, row, agreement, result, now)
        out.append(
            Attempt(row["delivery_id"], row["agency"], row["dataset"], status, result.detail)
        )
    return out


def collect_receipts(
    wh: Warehouse, agreements: AgreementsFile, *, now: datetime | None = None
) -> list[Attempt]:
    """Pick up receipts the receiving side wrote for folder deliveries."""
    ensure_exchange_schema(wh)
    now = now or now_utc()
    out = []
    for row in wh.query(
        'SELECT delivery_id, agreement, agency, dataset, "rows", manifest_sha256, signature, '
        "path, attempts FROM ops.exchange_outbox WHERE status = 'sent' AND channel = 'folder'"
    ):
        agreement = agreements.agreements.get(row["agreement"])
        if agreement is None or agreement.channel.type != "folder":
            continue
        try:
            result = channels.folder_receipt(agreement.channel, _outgoing(row))
        except ExchangeError as exc:
            _mark(wh, row, agreement, "rejected", now, detail=str(exc)[:300])
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "rejected"))
            continue
        if result is None:
            continue
        _mark(wh, row, agreement, "receipted", now, result=result)
        out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "receipted"))
    return out


def _mark(
    wh: Warehouse,
    row: dict,
    agreement: Agreement,
    status: str,
    now: datetime,
    result: channels.SendResult | None = None,
    detail: str | None = None,
) -> None:
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET status = :s, receipt_sha256 = :r, "
                "receipt_at = :t, last_error = :d WHERE delivery_id = :id"
            ),
            {
                "s": status,
                "r": result.receipt_sha256 if result else None,
                "t": now if result else None,
                "d": detail,
                "id": row["delivery_id"],
            },
        )
        log_event(
            conn,
            status,
            _evidence(row, agreement),
            receipt_sha256=result.receipt_sha256 if result else None,
            receipt_at=now if result else None,
            detail=detail,
        )


def purge(wh: Warehouse, agreements: AgreementsFile, *, now: datetime | None = None) -> int:
    """Remove the hub's outbox copies of receipted deliveries past their retention days
    (the evidence rows and hashes stay); returns how many were purged."""
    ensure_exchange_schema(wh)
    now = now or now_utc()
    n = 0
    for row in wh.query(
        "SELECT delivery_id, agreement, agency, dataset, path, receipt_at FROM "
        "ops.exchange_outbox WHERE status = 'receipted' AND purged_at IS NULL"
    ):
        agreement = agreements.agreements.get(row["agreement"])
        days = agreement.retention_days if agreement else 0
        if row["receipt_at"] is None or row["receipt_at"] + timedelta(days=days) > now:
            continue
        shutil.rmtree(row["path"], ignore_errors=True)
        with wh.begin() as conn:
            conn.execute(
                sa.text("UPDATE ops.exchange_outbox SET purged_at = :t WHERE delivery_id = :id"),
                {"t": now, "id": row["delivery_id"]},
            )
            log_event(conn, "purged", row)
        n += 1
    return n


def run(
    wh: Warehouse,
    agreements: AgreementsFile,
    *,
    agreement_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Prepare every granted dataset of the (enabled) agreements, then dispatch the outbox."""
    ids = (
        [agreement_id]
        if agreement_id
        else [a for a, ag in agreements.agreements.items() if ag.enabled]
    )
    queued, errors = [], []
    for aid in ids:
        agreement = agreements.get(aid)
        if not agreement.enabled:
            raise ExchangeError(f"agreement {aid!r} is disabled")
        for dataset in agreement.datasets:
            try:
                queued.append(prepare(wh, agreements, aid, dataset, now=now))
            except Exception as exc:  # one failing dataset must not stop the others
                if agreement_id:
                    raise
                log.error("exchange: %s/%s not prepared: %s", aid, dataset, type(exc).__name__)
                errors.append({"agreement": aid, "dataset": dataset, "error": type(exc).__name__})
    attempts = dispatch(wh, agreements, now=now, agreement_id=agreement_id)
    receipts = collect_receipts(wh, agreements, now=now)
    return {"queued": queued, "attempts": attempts, "receipts": receipts, "errors": errors}


def rows_of(path: Path) -> int:
    """Row count of a delivered data file (for receivers and checks)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    import pyarrow.csv as pacsv

    return pacsv.read_csv(path).num_rows


__all__ = [
    "backoff",
    "collect_receipts",
    "dispatch",
    "prepare",
    "purge",
    "record_success",
    "run",
]
