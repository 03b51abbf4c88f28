"""Operator commands: ``dashboard``, ``freshness``, ``release``, ``backfill``, ``alerts test``
and ``audit``. ``simpul.cli`` adds them with :func:`add_parser`.

``release`` and ``backfill`` change what is in the warehouse, so each invocation — refused,
failed or done — is written to the audit trail (:mod:`simpul.orchestration.audit`). Operator
errors print one bilingual line and exit 2, like the rest of the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from simpul.console import bilingual, fail, print_table
from simpul.domain.clock import WIB


class OperatorError(Exception):
    """A refused operator command (message in English and Indonesian)."""


# --------------------------------------------------------------------------- dashboard


def cmd_dashboard(args: argparse.Namespace) -> int:
    from simpul.dashboard import build_dashboard, default_path
    from simpul.orchestration.health import read_warehouse

    out = Path(args.out) if args.out else default_path()
    with read_warehouse() as (wh, src):  # a load holding DuckDB: a copy taken now
        path = build_dashboard(wh, out)
    if src.note_en:
        print(f"({bilingual(src.note_id, src.note_en)})")
    print(f"dasbor / dashboard: {path}")
    return 0


def cmd_freshness(args: argparse.Namespace) -> int:
    from simpul.config import load_config
    from simpul.orchestration.freshness import freshness_report
    from simpul.warehouse import warehouse

    cfg = load_config()
    with warehouse() as wh:
        rows = freshness_report(wh, cfg)
    print_table(
        rows,
        ["pipeline", "source", "schedule", "last_loaded", "age_hours", "freshness_hours", "state"],
    )
    return 1 if any(r["state"] == "stale" for r in rows) and args.check else 0


# --------------------------------------------------------------------------- release


def _held_load(load_id: str) -> dict[str, Any]:
    from simpul.warehouse import warehouse

    with warehouse() as wh:
        rows = wh.query(
            "select load_id, pipeline, status, rows_received from ops.loads where load_id = :id",
            {"id": load_id},
        )
    if not rows:
        raise OperatorError(
            f"no load {load_id} in ops.loads / muatan {load_id} tidak ada di ops.loads"
        )
    row = rows[0]
    if row["status"] != "held":
        raise OperatorError(
            f"load {load_id} has status {row['status']!r}, only a held load can be released "
            f"/ muatan {load_id} berstatus {row['status']!r}; hanya muatan yang ditahan "
            "(held) dapat dilepaskan"
        )
    return row


def audited(
    command: str,
    args: dict[str, Any],
    work: Callable[[dict[str, Any]], dict[str, Any]],
    detail: Callable[[dict[str, Any]], str],
    ids: dict[str, Any],
) -> dict[str, Any]:
    """Run ``work(ids)`` and record it in the audit trail whether it succeeds or raises.
    ``ids`` holds the pipeline and load id (``work`` may fill them in); without a load id the
    result's is recorded."""
    from simpul.orchestration import audit

    try:
        result = work(ids)
    except Exception as exc:
        audit.record(
            command,
            outcome="error",
            pipeline=ids.get("pipeline"),
            load_id=ids.get("load_id"),
            args=args,
            detail=f"{type(exc).__name__}: {exc}",
        )
        raise
    audit.record(
        command,
        outcome=str(result.get("status", "done")),
        pipeline=ids.get("pipeline"),
        load_id=ids.get("load_id") or result.get("load_id"),
        args=args,
        detail=detail(result),
    )
    return result


def release_load(load_id: str, reviewer: str, note: str | None = None) -> dict[str, Any]:
    """Release a held delivery after review, audited. Returns the load result."""

    def work(ids: dict[str, Any]) -> dict[str, Any]:
        ids["pipeline"] = _held_load(load_id)["pipeline"]
        release = _pipeline_function("release")
        return release(ids["pipeline"], load_id, reviewer)

    return audited(
        "release",
        {"reviewer": reviewer, "note": note},
        work,
        lambda r: (
            f"rows_loaded={r.get('rows_loaded')} rows_quarantined={r.get('rows_quarantined')}"
        ),
        {"load_id": load_id},
    )


def _pipeline_function(name: str) -> Callable[..., Any]:
    import simpul.pipeline

    fn = getattr(simpul.pipeline, name, None)
    if fn is None:
        raise OperatorError(
            f"this Simpul version has no simpul.pipeline.{name}() yet / versi Simpul ini "
            f"belum memiliki simpul.pipeline.{name}()"
        )
    return fn


def cmd_release(args: argparse.Namespace) -> int:
    from simpul.errors import OPERATOR_ERRORS

    reviewer = args.reviewer or _default_reviewer()
    try:
        result = release_load(args.load_id, reviewer, args.note)
    except (OperatorError, *OPERATOR_ERRORS) as exc:  # type: ignore[misc]  # mypy: star-tuple
        return fail(str(exc))
    from simpul.ledger import load_summary

    print_table([load_summary(result)])
    print(f"dilepaskan oleh / released by: {reviewer} (audit: simpul audit)")
    return 0


def _default_reviewer() -> str:
    from simpul.orchestration.audit import operator

    return operator()


# --------------------------------------------------------------------------- backfill


def parse_when(text: str) -> datetime:
    """ISO date or date-time; without an offset it is Western Indonesia Time (WIB, UTC+7)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM / format tanggal salah"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=WIB)


def backfill_pipeline(pipeline: str, since: datetime, until: datetime | None) -> dict[str, Any]:
    """Re-pull ``[since, until)`` from the agency without moving the cursor, audited."""
    from simpul.config import load_config

    def work(ids: dict[str, Any]) -> dict[str, Any]:
        load_config().pipeline(pipeline)
        if until is not None and until <= since:
            raise OperatorError("--until must be after --since / --until harus setelah --since")
        backfill = _pipeline_function("backfill")
        return backfill(pipeline, since=since, until=until)

    return audited(
        "backfill",
        {"since": since, "until": until},
        work,
        lambda r: f"rows_received={r.get('rows_received')}",
        {"pipeline": pipeline},
    )


def cmd_backfill(args: argparse.Namespace) -> int:
    from simpul.errors import OPERATOR_ERRORS

    try:
        result = backfill_pipeline(args.pipeline, args.since, args.until)
    except (OperatorError, *OPERATOR_ERRORS) as exc:  # type: ignore[misc]  # mypy: star-tuple
        return fail(str(exc))
    from simpul.ledger import load_summary

    print_table([load_summary(result)])
    return 0


# --------------------------------------------------------------------------- alerts, audit


def cmd_alerts_test(args: argparse.Namespace) -> int:
    from simpul.domain.alerts import Alert
    from simpul.orchestration.alerts import send_alert

    outcome = send_alert(
        Alert(
            kind="test",
            message_id="Ini uji peringatan Simpul. Bila pesan ini sampai, saluran berfungsi.",
            message_en="This is a Simpul alert test. If it arrived, the channel works.",
        )
    )
    if set(outcome) <= {"log"}:
        from simpul.orchestration.alerts import alert_log_file

        return fail(
            "no external alert channel configured: set SIMPUL_ALERT_WEBHOOK_URL, or the Airflow "
            "connection simpul_alert_smtp with SIMPUL_ALERT_EMAIL_TO, or SIMPUL_ALERT_SMTP_HOST "
            f"and SIMPUL_ALERT_SMTP_TO; the test alert is only in {alert_log_file()} / belum ada "
            "saluran peringatan eksternal; uji peringatan hanya ada di log peringatan"
        )
    print_table([{"channel": k, "result": v} for k, v in outcome.items()])
    return 0 if all(v in ("sent", "written") for v in outcome.values()) else 1


def cmd_audit(args: argparse.Namespace) -> int:
    from simpul.orchestration.audit import audit_file, read

    rows = read(args.limit)
    print_table(
        [
            {**r, "args": ", ".join(f"{k}={v}" for k, v in (r.get("args") or {}).items() if v)}
            for r in rows
        ],
        ["at", "operator", "command", "pipeline", "load_id", "args", "outcome"],
    )
    print(f"({audit_file()})")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the operator sub-commands on ``simpul``'s sub-parsers."""
    p = subparsers.add_parser("dashboard", help="write the static HTML monitoring dashboard")
    p.add_argument("--out", help="output file (default: $SIMPUL_HOME/reports/dashboard.html)")
    p.set_defaults(func=cmd_dashboard)

    p = subparsers.add_parser("freshness", help="age of each pipeline's last successful load")
    p.add_argument("--check", action="store_true", help="exit 1 if any pipeline is stale")
    p.set_defaults(func=cmd_freshness)

    p = subparsers.add_parser(
        "release", help="release a delivery held by the quality gate, after review (audited)"
    )
    p.add_argument("load_id")
    p.add_argument("--reviewer", help="who reviewed it (default: SIMPUL_OPERATOR or OS user)")
    p.add_argument("--note", help="why it is released (kept in the audit trail)")
    p.set_defaults(func=cmd_release)

    p = subparsers.add_parser(
        "backfill", help="re-pull a time window from the agency without moving the cursor"
    )
    p.add_argument("pipeline")
    p.add_argument(
        "--since",
        required=True,
        type=parse_when,
        help="start (inclusive), ISO date/time; no offset = WIB",
    )
    p.add_argument(
        "--until",
        type=parse_when,
        default=None,
        help="end (exclusive), ISO date/time; default: now",
    )
    p.set_defaults(func=cmd_backfill)

    p = subparsers.add_parser("alerts", help="alert channels")
    alerts = p.add_subparsers(dest="alerts_command", required=True)
    t = alerts.add_parser("test", help="send a test alert to every configured channel")
    t.set_defaults(func=cmd_alerts_test)

    p = subparsers.add_parser("audit", help="the operator audit trail (latest first last)")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_audit)
