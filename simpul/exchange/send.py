"""Send what the outbox holds: each due row is claimed first so two dispatchers do not both
send it; a failure schedules the next attempt with exponential backoff, so deliveries survive
an agency outage or a hub restart. Receipts of folder deliveries are collected, and the hub's
copies purged after their retention."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from simpul.config import ConfigError
from simpul.exchange import channels
from simpul.exchange.agreements import AgreementsFile
from simpul.exchange.errors import ChannelUnavailable, ExchangeError, VerificationError
from simpul.exchange.outbox import (
    cancel,
    claim,
    mark,
    outbox_copy,
    outbox_remove,
    record_failure,
    record_success,
    refuse_receipt,
    release_lock,
    short_error,
)
from simpul.exchange.outgoing import Outgoing
from simpul.exchange.signing import MANIFEST, sha256_file
from simpul.exchange.store import ensure_exchange_schema, log_event, now_utc
from simpul.warehouse.engine import Warehouse

log = logging.getLogger(__name__)


@dataclass
class Attempt:
    delivery_id: str
    agency: str
    dataset: str
    outcome: str  # receipted | sent | retry | cancelled | tampered | skipped
    detail: str = ""


def outgoing(row: dict[str, Any]) -> Outgoing:
    path = outbox_copy(row)
    manifest = json.loads((path / MANIFEST).read_bytes())
    return Outgoing(row["delivery_id"], path, manifest, row["manifest_sha256"], row.get("part"))


def self_check(row: dict[str, Any]) -> str | None:
    """Why the outbox copy differs from what was signed and recorded (None: intact).

    Anchored on the manifest hash in ``ops.exchange_outbox``, so it holds across a rotation of
    the signing key; a changed outbox folder is never sent."""
    path = outbox_copy(row)
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
            cancel(wh, row, "agreement or grant withdrawn / perjanjian dicabut")
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "cancelled"))
            continue
        problem = self_check(row)
        if problem:
            cancel(wh, row, problem, status="tampered")
            log.error("exchange: %s not sent: %s", row["delivery_id"], problem)
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "tampered"))
            continue
        if not claim(wh, row, now):
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "skipped"))
            continue
        release_lock(wh)  # the send may wait on the network: never with the warehouse locked
        try:
            result = channels.send(agreement, outgoing(row))
        except Exception as exc:  # noqa: BLE001 - any failure is retried later
            delay = record_failure(wh, row, agreement, exc, now)
            outcome = "config_error" if isinstance(exc, ConfigError) else "retry"
            log.warning(
                "exchange: %s to %s not sent (%s: %s); kept in the outbox, next attempt in %s",
                row["delivery_id"],
                row["agency"],
                type(exc).__name__,
                short_error(exc),
                delay,
            )
            out.append(
                Attempt(
                    row["delivery_id"], row["agency"], row["dataset"], outcome, short_error(exc)
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
        "path, attempts, part FROM ops.exchange_outbox "
        "WHERE status = 'sent' AND channel = 'folder'"
    ):
        agreement = agreements.agreements.get(row["agreement"])
        if agreement is None or agreement.channel.type != "folder":
            continue
        try:
            result = channels.folder_receipt(
                agreement.channel, outgoing(row), agreement.agency_public_key()
            )
        except ChannelUnavailable:
            continue  # the share is not mounted right now: look again next time
        except VerificationError as exc:
            # a receipt the agency did not sign (anyone can write the drop folder): not
            # evidence; the delivery stays "sent" and its receipt deadline keeps running
            refuse_receipt(wh, row, agreement, str(exc))
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "refused"))
            continue
        except ExchangeError as exc:
            mark(wh, row, agreement, "rejected", now, detail=str(exc)[:300])
            out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "rejected"))
            continue
        if result is None:
            continue
        mark(wh, row, agreement, "receipted", now, result=result)
        out.append(Attempt(row["delivery_id"], row["agency"], row["dataset"], "receipted"))
    return out


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
        outbox_remove(row)
        with wh.begin() as conn:
            conn.execute(
                sa.text("UPDATE ops.exchange_outbox SET purged_at = :t WHERE delivery_id = :id"),
                {"t": now, "id": row["delivery_id"]},
            )
            log_event(conn, "purged", row)
        n += 1
    return n
