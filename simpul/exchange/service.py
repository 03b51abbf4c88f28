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
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from simpul.config import ConfigError, home
from simpul.domain import alerts
from simpul.domain.alerts import Alert
from simpul.exchange import channels
from simpul.exchange.agreements import Agreement, AgreementsFile
from simpul.exchange.datasets import DATASETS, apply_filter, shape
from simpul.exchange.errors import (
    ChannelUnavailable,
    ExchangeConfigError,
    ExchangeError,
    NotReady,
    Unchanged,
    VerificationError,
)
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
    """The outbox folder this process writes (``SIMPUL_OUTBOX_URL``: its local working copy
    when the outbox is in shared storage, see :mod:`simpul.storage`)."""
    from simpul.storage import OUTBOX_URL_ENV, store

    return store("outbox").local if os.environ.get(OUTBOX_URL_ENV) else home() / "outbox"


def _outbox_copy(row: dict[str, Any]) -> Path:
    """The delivery's folder on this host: in shared storage, fetched (signature last) by a
    dispatcher on another host than the one that built it."""
    from simpul.storage import store

    st = store("outbox")
    if not st.remote:
        return Path(row["path"])
    st.fetch(row["delivery_id"], SIGNATURE)
    return st.local / row["delivery_id"]


def _outbox_remove(row: dict[str, Any]) -> None:
    """A delivery's folder gone from this host and from shared storage."""
    from simpul.storage import store

    shutil.rmtree(row["path"], ignore_errors=True)
    st = store("outbox")
    if st.remote:
        st.remove(row["delivery_id"])


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
    reviewed_by: str | None = None,
) -> dict[str, Any]:
    """Build, sign and queue one (unpartitioned) delivery; returns its outbox row.

    Raises :class:`NotReady` when its inputs are not ready and :class:`Unchanged` when the
    agency already has (or is about to get) this content. An empty result is still a
    delivery, with a manifest saying so."""
    queued, unchanged = prepare_deliveries(
        wh, agreements, agreement_id, dataset, now=now, reviewed_by=reviewed_by
    )
    if queued:
        return queued[0]
    raise Unchanged(unchanged[0]["reason"], unchanged[0].get("delivery_id"))


def preflight(agreement: Agreement) -> None:
    """Every setting the agreement needs, checked before anything is built: a missing one
    raises :class:`ExchangeConfigError` naming the variable (not retried)."""
    load_signing_key()
    agreement.channel.resolved_url()
    token = getattr(agreement.channel, "token", None)
    if token is not None:
        token()
    agreement.agency_public_key()


def prepare_deliveries(
    wh: Warehouse,
    agreements: AgreementsFile,
    agreement_id: str,
    dataset: str,
    *,
    now: datetime | None = None,
    reviewed_by: str | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(queued outbox rows, unchanged parts) for one granted dataset: one delivery, or one
    per partition (``partition_by``), each only when its content changed."""
    from simpul.exchange.readiness import check_inputs, check_reconciliation, input_pipelines

    ensure_exchange_schema(wh)
    agreement = agreements.get(agreement_id)
    if dataset not in agreement.datasets:  # default deny: only granted datasets are built
        raise ExchangeError(f"dataset {dataset!r} is not granted by agreement {agreement_id!r}")
    now = now or now_utc()
    signing_key = load_signing_key()  # fail before building anything when there is none
    ds = DATASETS[dataset]
    grant = agreement.datasets[dataset]
    params = agreement.params_for(dataset)
    pipelines = input_pipelines(ds.pipelines, params, wh)
    load_ids = check_inputs(wh, pipelines, timedelta(hours=agreement.cycle_hours), now)
    result = ds.build(wh, params)
    if ds.empty_means_not_ready and result.table.num_rows == 0:
        raise NotReady(
            f"{dataset} masih kosong (marts belum dibangun?)",
            f"{dataset} is still empty (marts not built yet?)",
        )
    if ds.reconciliation and not reviewed_by:
        check_reconciliation(result.metadata, result.table.num_rows, grant.max_delta_share)
    filtered = apply_filter(result.table, grant.filter)
    parts: list[tuple[str | None, pa.Table]] = [(None, filtered)]
    if grant.partition_by:
        col = grant.partition_by
        values = sorted({v for v in filtered.column(col).to_pylist() if v})
        parts = [
            (v, filtered.filter(pc.equal(filtered.column(col), v)))
            for v in values
            if _PART.match(str(v))
        ]
    queued, unchanged = [], []
    for part, rows in parts:
        try:
            queued.append(
                _prepare_part(
                    wh,
                    agreements,
                    agreement_id,
                    dataset,
                    part,
                    rows,
                    result,
                    now,
                    signing_key,
                    {"inputs": pipelines, "load_ids": load_ids, "reviewed_by": reviewed_by},
                )
            )
        except Unchanged as exc:
            unchanged.append(
                {
                    "agreement": agreement_id,
                    "agency": agreement.agency,
                    "dataset": dataset,
                    "part": part,
                    "delivery_id": exc.delivery_id,
                    "reason": str(exc),
                }
            )
    return queued, unchanged


_PART = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,40}$")
DEAD = ("superseded", "cancelled", "tampered", "rejected")


def _latest(wh: Warehouse, agreement_id: str, dataset: str, part: str | None) -> dict | None:
    """The last delivery of this agreement, dataset and partition that is or may be received."""
    rows = wh.query(
        "SELECT delivery_id, status, content_sha256, created_at, sent_at, path, attempts "
        "FROM ops.exchange_outbox WHERE agreement = :a AND dataset = :d "
        + ("AND part = :p " if part is not None else "AND part IS NULL ")
        + f"AND status NOT IN ({', '.join(repr(s) for s in DEAD)}) "
        "ORDER BY created_at DESC, delivery_id DESC LIMIT 1",
        {"a": agreement_id, "d": dataset, "p": part},
    )
    return rows[0] if rows else None


def _content_sha256(files: list[dict[str, Any]]) -> str:
    """What the agency receives, independent of delivery id and time: the files' hashes."""
    return sha256_bytes(canonical_json(sorted([f["name"], f["sha256"]] for f in files)))


def _prepare_part(
    wh: Warehouse,
    agreements: AgreementsFile,
    agreement_id: str,
    dataset: str,
    part: str | None,
    filtered: pa.Table,
    result: Any,
    now: datetime,
    signing_key: Any,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    agreement = agreements.get(agreement_id)
    ds = DATASETS[dataset]
    grant = agreement.datasets[dataset]
    table = shape(ds, filtered, grant.columns, None, grant.small_cell_threshold)
    subjects: list[str] = []
    if ds.subject_column and ds.subject_column in filtered.column_names and not ds.measure:
        subjects = sorted({s for s in filtered.column(ds.subject_column).to_pylist() if s})

    delivery_id = str(uuid.uuid4())
    notes = list(result.notes)
    base = None
    hashes: list[str] = []
    state_key = dataset if part is None else f"{dataset}.{part}"
    last = _latest(wh, agreement_id, dataset, part)
    if agreement.mode == "delta":
        keep, hashes, base = _delta_mask(agreement_id, state_key, table)
        table = table.filter(keep)
        if subjects:  # row-level data: ``table`` is ``filtered`` projected, same row order
            filtered = filtered.filter(keep)
            subjects = sorted({s for s in filtered.column(ds.subject_column).to_pylist() if s})
        if table.num_rows == 0 and base is not None:
            raise Unchanged(
                f"tidak ada baris baru sejak {base} / no new rows since delivery {base}", base
            )
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
    try:
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
        files += _attachments(result.attachments, filtered, grant, tmp, notes)
        content = _content_sha256(files)
        if last is not None and last["content_sha256"] == content:
            if last["status"] == "pending":
                raise Unchanged(
                    f"isi sama dengan kiriman {last['delivery_id']} yang masih antre / "
                    f"same content as queued delivery {last['delivery_id']}",
                    last["delivery_id"],
                )
            if not _full_copy_due(agreement, last, now):
                raise Unchanged(
                    f"tidak berubah sejak kiriman {last['delivery_id']} / "
                    f"unchanged since delivery {last['delivery_id']}",
                    last["delivery_id"],
                )
            notes.append("salinan lengkap berkala / periodic full copy")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest = {
        "manifest_version": 1,
        "delivery_id": delivery_id,
        "hub_id": agreements.hub_id,
        "agreement": agreement_id,
        "agency": agreement.agency,
        "agency_name": agreement.agency_name,
        "addressee": agreement.agency if part is None else f"{agreement.agency}/{part}",
        "partition": {grant.partition_by: part} if part is not None else None,
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
        "supersedes": last["delivery_id"] if last and last["status"] == "pending" else None,
        "content_sha256": content,
        "inputs": provenance,
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
    from simpul.storage import store

    store("outbox").publish(delivery_id, SIGNATURE)  # shared storage: signature last

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
        "content_sha256": content,
        "part": part,
    }
    superseded = None
    with wh.begin() as conn:
        if last is not None and last["status"] == "pending" and agreement.mode == "snapshot":
            # the channel is down and a newer snapshot exists: the agency gets only this one
            res = conn.execute(
                sa.text(
                    "UPDATE ops.exchange_outbox SET status = 'superseded', "
                    "next_attempt_at = NULL, last_error = :why "
                    "WHERE delivery_id = :id AND status = 'pending'"
                ),
                {"id": last["delivery_id"], "why": f"superseded by {delivery_id}"},
            )
            if res.rowcount == 1:
                superseded = last
                log_event(
                    conn,
                    "superseded",
                    {**ids, "delivery_id": last["delivery_id"]},
                    detail=f"superseded by / digantikan oleh {delivery_id}",
                )
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
    if superseded is not None:
        _outbox_remove(superseded)
    if agreement.mode == "delta":
        _save_state(agreement_id, state_key, delivery_id, hashes)
    log.info(
        "exchange: queued %s for %s (%s%s, %d rows)%s",
        delivery_id,
        agreement.agency,
        dataset,
        f" {part}" if part else "",
        table.num_rows,
        f", superseding {superseded['delivery_id']}" if superseded else "",
    )
    return row


def _full_copy_due(agreement: Agreement, last: dict[str, Any], now: datetime) -> bool:
    if not agreement.full_copy_days:
        return False
    when = last.get("sent_at") or last.get("created_at")
    return when is None or when + timedelta(days=agreement.full_copy_days) <= now


ATTACHMENT_COLUMNS = {"tingkat": "severity"}


def _attachments(
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
    path = _outbox_copy(row)
    manifest = json.loads((path / MANIFEST).read_bytes())
    return channels.Outgoing(
        row["delivery_id"], path, manifest, row["manifest_sha256"], row.get("part")
    )


def release_lock(wh: Warehouse) -> None:
    """Close the pooled connections so DuckDB's single-writer file lock is not held while a
    channel waits on the network (they reopen on the next query); PostgreSQL needs nothing."""
    if wh.dialect == "duckdb":
        wh.engine.dispose()


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
    from simpul.redact import redact

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


def _short(exc: Exception) -> str:
    from simpul.redact import redact

    return redact(f"{type(exc).__name__}: {exc}", 300)


def self_check(row: dict[str, Any]) -> str | None:
    """Why the outbox copy differs from what was signed and recorded (None: intact).

    Anchored on the manifest hash in ``ops.exchange_outbox``, so it holds across a rotation of
    the signing key; a changed outbox folder is never sent."""
    path = _outbox_copy(row)
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
        "signature, path, attempts, part FROM ops.exchange_outbox WHERE status = 'pending' "
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
        release_lock(wh)  # the send may wait on the network: never with the warehouse locked
        try:
            result = channels.send(agreement, _outgoing(row))
        except Exception as exc:  # noqa: BLE001 - any failure is retried later
            delay = _record_failure(wh, row, agreement, exc, now)
            outcome = "config_error" if isinstance(exc, ConfigError) else "retry"
            log.warning(
                "exchange: %s to %s not sent (%s: %s); kept in the outbox, next attempt in %s",
                row["delivery_id"],
                row["agency"],
                type(exc).__name__,
                _short(exc),
                delay,
            )
            out.append(
                Attempt(row["delivery_id"], row["agency"], row["dataset"], outcome, _short(exc))
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
        "path, attempts, part FROM ops.exchange_outbox "
        "WHERE status = 'sent' AND channel = 'folder'"
    ):
        agreement = agreements.agreements.get(row["agreement"])
        if agreement is None or agreement.channel.type != "folder":
            continue
        try:
            result = channels.folder_receipt(
                agreement.channel, _outgoing(row), agreement.agency_public_key()
            )
        except ChannelUnavailable:
            continue  # the share is not mounted right now: look again next time
        except VerificationError as exc:
            # a receipt the agency did not sign (anyone can write the drop folder): not
            # evidence; the delivery stays "sent" and its receipt deadline keeps running
            _refuse_receipt(wh, row, agreement, str(exc))
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "refused"))
            continue
        except ExchangeError as exc:
            _mark(wh, row, agreement, "rejected", now, detail=str(exc)[:300])
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "rejected"))
            continue
        if result is None:
            continue
        _mark(wh, row, agreement, "receipted", now, result=result)
        out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "receipted"))
    return out


def _refuse_receipt(wh: Warehouse, row: dict, agreement: Agreement, reason: str) -> None:
    seen = wh.scalar(
        "SELECT count(*) FROM ops.exchange_log WHERE delivery_id = :id "
        "AND status = 'receipt_refused'",
        {"id": row["delivery_id"]},
    )
    log.error("exchange: receipt for %s refused: %s", row["delivery_id"], reason)
    if not seen:
        with wh.begin() as conn:
            log_event(conn, "receipt_refused", _evidence(row, agreement), detail=reason[:300])


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
        _outbox_remove(row)
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
    reviewed_by: str | None = None,
) -> dict[str, Any]:
    """Prepare every granted dataset of the (enabled) agreements that is ready and changed,
    then dispatch the outbox without holding the warehouse lock.

    With ``agreement_id`` a configuration error is raised (the caller must fail at once);
    otherwise it is reported in ``errors`` and the other agreements go ahead."""
    ids = (
        [agreement_id]
        if agreement_id
        else [a for a, ag in agreements.agreements.items() if ag.enabled]
    )
    queued: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    not_ready: list[dict[str, Any]] = []
    unchanged: list[dict[str, Any]] = []
    for aid in ids:
        agreement = agreements.get(aid)
        if not agreement.enabled:
            raise ExchangeConfigError(f"agreement {aid!r} is disabled / perjanjian dinonaktifkan")
        try:
            preflight(agreement)
        except ConfigError as exc:
            if agreement_id:
                raise
            log.error("exchange: %s not run: %s", aid, exc)
            errors.append(
                {"agreement": aid, "dataset": "*", "error": str(exc)[:300], "kind": "config"}
            )
            continue
        for dataset in agreement.datasets:
            try:
                q, u = prepare_deliveries(
                    wh, agreements, aid, dataset, now=now, reviewed_by=reviewed_by
                )
                queued += q
                unchanged += u
            except NotReady as exc:
                entry = {
                    "agreement": aid,
                    "agency": agreement.agency,
                    "dataset": dataset,
                    "review": exc.review,
                    "reason_id": exc.reason_id,
                    "reason_en": exc.reason_en,
                }
                not_ready.append(entry)
                log.warning("exchange: %s/%s not delivered: %s", aid, dataset, exc)
                if exc.review:
                    _alert_held(entry)
            except Exception as exc:  # one failing dataset must not stop the others
                if agreement_id:
                    raise
                log.error("exchange: %s/%s not prepared: %s", aid, dataset, type(exc).__name__)
                errors.append({"agreement": aid, "dataset": dataset, "error": type(exc).__name__})
    for u in unchanged:
        log.info("exchange: %s/%s not sent again: %s", u["agreement"], u["dataset"], u["reason"])
    release_lock(wh)
    attempts = dispatch(wh, agreements, now=now, agreement_id=agreement_id)
    receipts = collect_receipts(wh, agreements, now=now)
    overdue = overdue_receipts(wh, agreements, now=now, agreement_id=agreement_id)
    undelivered = [
        r
        for r in wh.query(
            "SELECT delivery_id, agreement, agency, dataset, attempts, next_attempt_at, "
            "last_error FROM ops.exchange_outbox WHERE status = 'pending' AND attempts > 0"
            + (" AND agreement = :a" if agreement_id else ""),
            {"a": agreement_id},
        )
        if agreement_id or r["agreement"] in ids
    ]
    release_lock(wh)
    return {
        "queued": queued,
        "attempts": attempts,
        "receipts": receipts,
        "errors": errors,
        "not_ready": not_ready,
        "unchanged": unchanged,
        "undelivered": undelivered,
        "overdue": overdue,
    }


def _alert_held(entry: dict[str, Any]) -> None:
    """A reconciliation held for review: tell the operator (once a day per dataset)."""
    if not alerts.due(
        f"exchange-held:{entry['agreement']}:{entry['dataset']}", timedelta(hours=24)
    ):
        return
    alerts.send(
        Alert(
            kind="held",
            message_id=f"Pertukaran {entry['agreement']}/{entry['dataset']} ditahan untuk "
            f"ditinjau: {entry['reason_id']}. Setelah diperiksa, kirim dengan "
            "`simpul exchange run --agreement ... --reviewed-by NAMA`.",
            message_en=f"Exchange {entry['agreement']}/{entry['dataset']} held for review: "
            f"{entry['reason_en']}. Once checked, send it with "
            "`simpul exchange run --agreement ... --reviewed-by NAME`.",
            dag_id=f"simpul_exchange_{entry['agreement']}",
        )
    )


def overdue_receipts(
    wh: Warehouse,
    agreements: AgreementsFile,
    *,
    now: datetime | None = None,
    agreement_id: str | None = None,
) -> list[dict[str, Any]]:
    """Sent deliveries whose receipt is later than the agreement's ``receipt_deadline_hours``.

    The first time one is seen overdue an evidence row ``receipt_overdue`` is appended and an
    alert sent; it stays in the list (and in ``simpul status``) until the receipt comes."""
    ensure_exchange_schema(wh)
    now = now or now_utc()
    rows = wh.query(
        'SELECT delivery_id, agreement, agency, dataset, "rows", sent_at, manifest_sha256 '
        "FROM ops.exchange_outbox WHERE status = 'sent' AND sent_at IS NOT NULL"
        + (" AND agreement = :a" if agreement_id else ""),
        {"a": agreement_id},
    )
    if not rows:
        return []
    flagged = {
        r["delivery_id"]
        for r in wh.query(
            "SELECT DISTINCT delivery_id FROM ops.exchange_log WHERE status = 'receipt_overdue'"
        )
    }
    out = []
    for r in rows:
        agreement = agreements.agreements.get(r["agreement"])
        hours = agreement.receipt_deadline_hours if agreement else 72
        if r["sent_at"] + timedelta(hours=hours) > now:
            continue
        r["due_at"] = r["sent_at"] + timedelta(hours=hours)
        out.append(r)
        if r["delivery_id"] in flagged:
            continue
        with wh.begin() as conn:
            log_event(conn, "receipt_overdue", r, detail=f"deadline {hours} h")
        _alert_overdue(r, hours)
    return out


def _alert_overdue(row: dict[str, Any], hours: float) -> None:
    alerts.send(
        Alert(
            kind="failure",
            message_id=f"Tanda terima kiriman {row['delivery_id']} ({row['agency']}, "
            f"{row['dataset']}) belum datang setelah {hours:g} jam. Periksa folder/penerima "
            "instansi.",
            message_en=f"No receipt for delivery {row['delivery_id']} ({row['agency']}, "
            f"{row['dataset']}) after {hours:g} h. Check the agency's drop folder/receiver.",
            dag_id=f"simpul_exchange_{row['agreement']}",
        )
    )


__all__ = [
    "backoff",
    "collect_receipts",
    "dispatch",
    "prepare",
    "purge",
    "record_success",
    "run",
]


def status_rows(wh: Warehouse, now: datetime | None = None) -> list[dict[str, Any]]:
    """For ``simpul status``: deliveries not yet sent, and sent ones still waiting for a
    receipt, with their receipt deadline and whether it has passed."""
    from simpul.exchange.agreements import load_agreements

    ensure_exchange_schema(wh)
    now = now or now_utc()
    try:
        deadlines = {k: a.receipt_deadline_hours for k, a in load_agreements().agreements.items()}
    except Exception:  # noqa: BLE001 - the status page works without the agreements file
        deadlines = {}
    out = []
    for r in wh.query(
        "SELECT delivery_id, agreement, agency, dataset, part, status, attempts, sent_at, "
        "last_error FROM ops.exchange_outbox WHERE status IN ('pending', 'sent') "
        "ORDER BY created_at"
    ):
        due = None
        if r["sent_at"] is not None:
            due = r["sent_at"] + timedelta(hours=deadlines.get(r["agreement"], 72))
        state = r["status"]
        if state == "sent":
            state = "receipt overdue / terlambat" if due and due <= now else "awaiting receipt"
        elif r["attempts"]:
            state = "not sent, retrying / belum terkirim"
        out.append(
            {
                "delivery_id": r["delivery_id"],
                "agency": r["agency"] + (f"/{r['part']}" if r["part"] else ""),
                "dataset": r["dataset"],
                "state": state,
                "receipt_due": due,
                "last_error": (r["last_error"] or "")[:80],
            }
        )
    return out
