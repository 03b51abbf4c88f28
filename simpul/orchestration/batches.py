"""Marts (and padan) once per batch of loads, never missing the last load of a batch.

The marts and padan DAGs are triggered by every load's core-asset event. Running once per event
makes a morning of eight loads rebuild the marts eight times (and re-link the kabupaten eight
times) while the loads wait for the one warehouse slot. Two rules make it once per batch:

* **settle** (no pool slot held): before building, wait until no load has finished for
  ``SIMPUL_MARTS_QUIET_SECONDS`` (default 60), bounded by ``SIMPUL_MARTS_MAX_WAIT_SECONDS``
  (default 600) so a steady trickle of loads never starves the marts;
* **coverage**: a run first reads which loads are committed (``ops.loads``), then builds, then
  records those load ids in ``ops.consumed_loads`` under its consumer (``marts``, ``padan``).
  A later run whose triggering loads are all recorded there skips with the reason; any load not
  recorded (committed after that read) makes its own run build. A load's ``ops.loads`` row
  commits with its core rows, so a load visible at the read is in what the build reads next:
  nothing is marked included that the run did not see.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from simpul.domain.clock import aware

QUIET_ENV = "SIMPUL_MARTS_QUIET_SECONDS"
MAX_WAIT_ENV = "SIMPUL_MARTS_MAX_WAIT_SECONDS"


def _seconds(raw: str, default: float) -> float:
    raw = raw.strip()
    try:
        return max(0.0, float(raw)) if raw else default
    except ValueError:
        return default


def quiet_seconds() -> float:
    return _seconds(os.environ.get("SIMPUL_MARTS_QUIET_SECONDS", ""), 60.0)


def max_wait_seconds() -> float:
    return _seconds(os.environ.get("SIMPUL_MARTS_MAX_WAIT_SECONDS", ""), 600.0)


@dataclass(frozen=True)
class Settle:
    """Whether the batch has settled, and the bilingual reason for the task log."""

    done: bool
    reason_id: str
    reason_en: str

    @property
    def message(self) -> str:
        return f"{self.reason_id} / {self.reason_en}"


def last_load_finished(wh: Any) -> datetime | None:
    """When the most recent load (of any status) was recorded."""
    with wh.begin() as conn:
        value = conn.execute(sa.text("select max(loaded_at) from ops.loads")).scalar()
    return aware(value)


def settle(wh: Any, *, waited: float, now: datetime | None = None) -> Settle:
    """Has the batch of loads settled? ``waited``: seconds this marts run has waited so far."""
    now = now or datetime.now(UTC)
    quiet, limit = quiet_seconds(), max_wait_seconds()
    last = last_load_finished(wh)
    idle = (now - last).total_seconds() if last else float("inf")
    if idle >= quiet:
        return Settle(
            True,
            f"tidak ada muatan selesai dalam {quiet:.0f} detik terakhir: marts dibangun",
            f"no load finished in the last {quiet:.0f} s: building the marts",
        )
    if waited >= limit:
        return Settle(
            True,
            f"muatan masih berdatangan, batas tunggu {limit:.0f} detik tercapai: marts dibangun",
            f"loads keep arriving; the {limit:.0f} s wait limit is reached: building the marts",
        )
    return Settle(
        False,
        f"muatan terakhir selesai {idle:.0f} detik lalu: menunggu batch selesai",
        f"the last load finished {idle:.0f} s ago: waiting for the batch to settle",
    )


def committed_loads(wh: Any) -> list[str]:
    """Load ids whose rows are in core (status ``loaded``), read before a build starts."""
    with wh.begin() as conn:
        rows = conn.execute(sa.text("select load_id from ops.loads where status = 'loaded'"))
        return [r[0] for r in rows]


def uncovered(wh: Any, consumer: str, load_ids: list[str]) -> list[str]:
    """Of ``load_ids``, those no successful run of ``consumer`` has included yet."""
    if not load_ids:
        return []
    with wh.begin() as conn:
        done = {
            r[0]
            for r in conn.execute(
                sa.text(
                    "select load_id from ops.consumed_loads where consumer = :c and load_id in :ids"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"c": consumer, "ids": sorted(set(load_ids))},
            )
        }
    return [i for i in load_ids if i not in done]


def record_build(wh: Any, consumer: str, included: list[str], started_at: datetime) -> str:
    """Record that a successful run of ``consumer`` included ``included``; returns its id."""
    build_id = uuid.uuid4().hex
    with wh.begin() as conn:
        known = {
            r[0]
            for r in conn.execute(
                sa.text("select load_id from ops.consumed_loads where consumer = :c"),
                {"c": consumer},
            )
        }
        new = sorted(set(included) - known)
        if new:
            conn.execute(
                sa.text(
                    "insert into ops.consumed_loads (consumer, load_id, build_id, "
                    "build_started_at) values (:c, :l, :b, :t)"
                ),
                [{"c": consumer, "l": i, "b": build_id, "t": started_at} for i in new],
            )
    return build_id
