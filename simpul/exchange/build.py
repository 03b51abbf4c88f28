"""Build a delivery into the outbox: the dataset shaped to the grant (default deny), written
under ``SIMPUL_HOME/outbox/<delivery_id>/`` with a signed manifest, and queued in
``ops.exchange_outbox`` with its evidence row and disclosure index in one transaction."""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict, Unpack

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from simpul.exchange.agreements import Agreement, AgreementsFile
from simpul.exchange.contents import (
    attachments,
    check_changed,
    content_sha256,
    delta_mask,
    disclosures,
    save_state,
    schema_json,
)
from simpul.exchange.datasets import DATASETS, Dataset
from simpul.exchange.errors import ExchangeError, NotReady, Unchanged
from simpul.exchange.formats import write
from simpul.exchange.outbox import (
    evidence,
    latest,
    outbox_dir,
    outbox_remove,
    quote_column,
)
from simpul.exchange.shaping import apply_filter, shape
from simpul.exchange.signing import (
    MANIFEST,
    SIGNATURE,
    load_signing_key,
    sha256_bytes,
    sha256_file,
    sign_manifest,
)
from simpul.exchange.store import ensure_exchange_schema, log_event, now_utc
from simpul.warehouse.engine import Warehouse

log = logging.getLogger(__name__)

_PART = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,40}$")


class PrepareOptions(TypedDict, total=False):
    """When the delivery is built (default now) and who reviewed a held reconciliation."""

    now: datetime | None
    reviewed_by: str | None


def prepare(
    wh: Warehouse,
    agreements: AgreementsFile,
    agreement_id: str,
    dataset: str,
    **options: Unpack[PrepareOptions],
) -> dict[str, Any]:
    """Build, sign and queue one (unpartitioned) delivery; returns its outbox row.

    Raises :class:`NotReady` when its inputs are not ready and :class:`Unchanged` when the
    agency already has (or is about to get) this content. An empty result is still a
    delivery, with a manifest saying so."""
    queued, unchanged = prepare_deliveries(wh, agreements, agreement_id, dataset, **options)
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


@dataclass
class PartJob:
    """One delivery being built: the agreement's grant of one dataset, one partition of it."""

    agreements: AgreementsFile
    agreement_id: str
    dataset: str
    part: str | None
    result: Any  # the dataset's build result: table, notes, metadata, attachments
    now: datetime
    signing_key: Any
    provenance: dict[str, Any]
    delivery_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def agreement(self) -> Agreement:
        return self.agreements.get(self.agreement_id)

    @property
    def ds(self) -> Dataset:
        return DATASETS[self.dataset]

    @property
    def grant(self) -> Any:
        return self.agreement.datasets[self.dataset]

    @property
    def state_key(self) -> str:
        return self.dataset if self.part is None else f"{self.dataset}.{self.part}"

    @property
    def ids(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "agreement": self.agreement_id,
            "agency": self.agreement.agency,
            "dataset": self.dataset,
        }


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
    provenance = {"inputs": pipelines, "load_ids": load_ids, "reviewed_by": reviewed_by}
    queued, unchanged = [], []
    for part, rows in _parts(apply_filter(result.table, grant.filter), grant.partition_by):
        job = PartJob(agreements, agreement_id, dataset, part, result, now, signing_key, provenance)
        try:
            queued.append(prepare_part(wh, job, rows))
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


def _parts(filtered: pa.Table, partition_by: str | None) -> list[tuple[str | None, pa.Table]]:
    """The whole table, or one table per (well-formed) value of the partition column."""
    if not partition_by:
        return [(None, filtered)]
    column = filtered.column(partition_by)
    values = sorted({v for v in column.to_pylist() if v})
    return [(v, filtered.filter(pc.equal(column, v))) for v in values if _PART.match(str(v))]


def _shaped(job: PartJob, filtered: pa.Table) -> tuple[pa.Table, list[str], list[str], Any]:
    """(the shaped table, its subjects, the row hashes, the delta base delivery): in delta
    mode only the rows new since the last delivery; raises :class:`Unchanged` if none are."""
    ds, grant = job.ds, job.grant
    table = shape(ds, filtered, grant.columns, None, grant.small_cell_threshold)
    subjects: list[str] = []
    if ds.subject_column and ds.subject_column in filtered.column_names and not ds.measure:
        subjects = sorted({s for s in filtered.column(ds.subject_column).to_pylist() if s})
    base = None
    hashes: list[str] = []
    if job.agreement.mode == "delta":
        keep, hashes, base = delta_mask(job.agreement_id, job.state_key, table)
        table = table.filter(keep)
        if subjects:  # row-level data: ``table`` is ``filtered`` projected, same row order
            filtered = filtered.filter(keep)
            subjects = sorted({s for s in filtered.column(ds.subject_column).to_pylist() if s})
        if table.num_rows == 0 and base is not None:
            raise Unchanged(
                f"tidak ada baris baru sejak {base} / no new rows since delivery {base}", base
            )
    return table, subjects, hashes, base


def prepare_part(wh: Warehouse, job: PartJob, filtered: pa.Table) -> dict[str, Any]:
    """Build, sign and queue the delivery of one part; returns its outbox row."""
    table, subjects, hashes, base = _shaped(job, filtered)
    notes = list(job.result.notes)
    if table.num_rows == 0 and not notes:
        notes.append("tidak ada baris baru / no rows in this delivery")
    last = latest(wh, job.agreement_id, job.dataset, job.part)
    index = disclosures(job.ids, subjects)  # before any file: needs the key
    final = outbox_dir() / job.delivery_id
    tmp = outbox_dir() / f".tmp-{job.delivery_id}"
    tmp.mkdir(parents=True)
    try:
        files = _write_files(job, table, filtered, tmp, notes)
        content = content_sha256(files)
        check_changed(job.agreement, last, content, job.now, notes)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest = _manifest(job, table, files, notes, base, last, content)
    manifest_bytes, signature = sign_manifest(manifest, job.signing_key)
    (tmp / MANIFEST).write_bytes(manifest_bytes)
    (tmp / SIGNATURE).write_text(signature + "\n")
    tmp.rename(final)
    from simpul.storage import store

    store("outbox").publish(job.delivery_id, SIGNATURE)  # shared storage: signature last
    row = {
        **job.ids,
        "channel": job.agreement.channel.type,
        "status": "pending",
        "rows": table.num_rows,
        "manifest_sha256": sha256_bytes(manifest_bytes),
        "signature": signature,
        "path": str(final),
        "attempts": 0,
        "next_attempt_at": job.now,
        "created_at": job.now,
        "content_sha256": content,
        "part": job.part,
    }
    superseded = _queue(wh, job, row, last, notes, index)
    if superseded is not None:
        outbox_remove(superseded)
    if job.agreement.mode == "delta":
        save_state(job.agreement_id, job.state_key, job.delivery_id, hashes)
    log.info(
        "exchange: queued %s for %s (%s%s, %d rows)%s",
        job.delivery_id,
        job.agreement.agency,
        job.dataset,
        f" {job.part}" if job.part else "",
        table.num_rows,
        f", superseding {superseded['delivery_id']}" if superseded else "",
    )
    return row


def _write_files(
    job: PartJob, table: pa.Table, filtered: pa.Table, tmp: Path, notes: list[str]
) -> list[dict[str, Any]]:
    """The data file and the attachments written into ``tmp``, each with its hash."""
    data_path = write(table, tmp / job.dataset, job.agreement.format)
    files = [
        {
            "name": data_path.name,
            "role": "data",
            "sha256": sha256_file(data_path),
            "bytes": data_path.stat().st_size,
            "rows": table.num_rows,
            "schema": schema_json(table.schema),
        }
    ]
    return files + attachments(job.result.attachments, filtered, job.grant, tmp, notes)


def _manifest(
    job: PartJob,
    table: pa.Table,
    files: list[dict[str, Any]],
    notes: list[str],
    base: Any,
    last: dict[str, Any] | None,
    content: str,
) -> dict[str, Any]:
    """The manifest the agency verifies: what, why, under which agreement, which files."""
    agreement, ds, grant, part, now = job.agreement, job.ds, job.grant, job.part, job.now
    metadata = dict(job.result.metadata)
    if "kode_desa" in table.column_names:
        metadata["kode_wilayah"] = sorted({k for k in table.column("kode_desa").to_pylist() if k})
    return {
        "manifest_version": 1,
        "delivery_id": job.delivery_id,
        "hub_id": job.agreements.hub_id,
        "agreement": job.agreement_id,
        "agency": agreement.agency,
        "agency_name": agreement.agency_name,
        "addressee": agreement.agency if part is None else f"{agreement.agency}/{part}",
        "partition": {grant.partition_by: part} if part is not None else None,
        "dataset": job.dataset,
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
        "inputs": job.provenance,
        "retention_days": agreement.retention_days,
        "delete_after": (now + timedelta(days=agreement.retention_days)).date().isoformat(),
        "measure": ds.measure,
        "small_cell_threshold": grant.small_cell_threshold if ds.measure else None,
        "rows": table.num_rows,
        "files": files,
        "notes": notes,
        "metadata": metadata,
    }


def _queue(
    wh: Warehouse,
    job: PartJob,
    row: dict[str, Any],
    last: dict[str, Any] | None,
    notes: list[str],
    index: pa.Table | None,
) -> dict[str, Any] | None:
    """Insert the outbox row, its evidence and disclosure index in one transaction; a pending
    older snapshot is superseded (returned) so the agency gets only the newest one."""
    superseded = None
    with wh.begin() as conn:
        if last is not None and last["status"] == "pending" and job.agreement.mode == "snapshot":
            # the channel is down and a newer snapshot exists: the agency gets only this one
            res = conn.execute(
                sa.text(
                    "UPDATE ops.exchange_outbox SET status = 'superseded', "
                    "next_attempt_at = NULL, last_error = :why "
                    "WHERE delivery_id = :id AND status = 'pending'"
                ),
                {"id": last["delivery_id"], "why": f"superseded by {job.delivery_id}"},
            )
            if res.rowcount == 1:
                superseded = last
                log_event(
                    conn,
                    "superseded",
                    {**job.ids, "delivery_id": last["delivery_id"]},
                    detail=f"superseded by / digantikan oleh {job.delivery_id}",
                )
        cols = list(row)
        conn.execute(
            sa.text(
                f"INSERT INTO ops.exchange_outbox ({', '.join(quote_column(c) for c in cols)}) "
                f"VALUES ({', '.join(':' + c for c in cols)})"
            ),
            row,
        )
        detail = "; ".join(notes)[:500] or None
        log_event(conn, "queued", evidence(row, job.agreement), detail=detail)
        if index is not None:
            wh.bulk_insert(conn, "ops.exchange_disclosures", index)
    return superseded
