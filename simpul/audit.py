"""Operator audit trail: who released, replayed or backfilled what, when (append-only JSONL)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simpul.config import paths


def audit_file() -> Path:
    return paths().home / "audit" / "operator.jsonl"


def audit(action: str, actor: str, **details: Any) -> None:
    """Append one line; opened in append mode and fsynced so entries are never rewritten."""
    path = audit_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"at": datetime.now(UTC).isoformat(), "action": action, "actor": actor, **details}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
