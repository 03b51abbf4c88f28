"""The operator audit trail: who released, backfilled or re-ran what, when, with what outcome.

Every operator command appends one JSON line to ``$SIMPUL_HOME/audit/operator.jsonl`` (append
only, one ``write`` per entry) and, once the warehouse has an ``ops.audit`` table, one row there
too. Entries hold ids, dates and counts, never record contents.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# ops.audit: schema revision 0008 (frozen DDL)


def audit_file() -> Path:
    from simpul.config import home

    return home() / "audit" / "operator.jsonl"


def operator() -> str:
    """``SIMPUL_OPERATOR`` (e.g. the officer's staff id) or the OS user name."""
    name = os.environ.get("SIMPUL_OPERATOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def record(
    command: str,
    *,
    outcome: str,
    pipeline: str | None = None,
    load_id: str | None = None,
    args: dict[str, Any] | None = None,
    detail: str | None = None,
    wh: Any | None = None,
    to_db: bool = True,
    operator_name: str | None = None,
) -> dict[str, Any]:
    """Append one audit entry: to the file always, and to ``ops.audit`` when the warehouse
    (``wh``, else the configured one) has that table."""
    from simpul.redact import redact

    now = datetime.now(UTC)
    entry = {
        "audit_id": f"{now:%Y%m%dT%H%M%S%f}-{os.getpid()}",
        "at": now.isoformat(),
        "operator": operator_name or operator(),
        "host": socket.gethostname(),
        "command": command,
        "pipeline": pipeline,
        "load_id": load_id,
        "args": {
            k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in (args or {}).items()
        },
        "outcome": outcome,
        "detail": redact(detail, 500) if detail else None,
    }
    path = audit_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    try:
        if wh is not None:
            _write_db(wh, entry)
        elif to_db:
            from simpul.warehouse import warehouse

            with warehouse() as own:
                _write_db(own, entry)
    except Exception as exc:  # noqa: BLE001 - the file entry is the record of truth
        log.warning("audit row not written to ops.audit: %s", type(exc).__name__)
    return entry


def _write_db(wh: Any, entry: dict[str, Any]) -> None:
    import sqlalchemy as sa

    with wh.begin() as conn:
        if not wh.table_exists(conn, "ops", "audit"):
            return
        conn.execute(
            sa.text(
                "INSERT INTO ops.audit (audit_id, audited_at, operator, host, command, pipeline, "
                "load_id, args_json, outcome, detail) VALUES (:audit_id, :audited_at, :operator, "
                ":host, :command, :pipeline, :load_id, :args_json, :outcome, :detail)"
            ),
            {
                **{k: v for k, v in entry.items() if k not in ("args", "at")},
                "audited_at": datetime.fromisoformat(entry["at"]),
                "args_json": json.dumps(entry["args"], default=str),
            },
        )


def read(limit: int = 20) -> list[dict[str, Any]]:
    path = audit_file()
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-limit:]
    return [json.loads(line) for line in lines if line.strip()]
