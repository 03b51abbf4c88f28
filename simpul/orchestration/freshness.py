"""Freshness per pipeline: the age of its last successful load against an expected cadence.

The limit comes from ``simpul/orchestration/ops.yaml`` (``SIMPUL_OPS_CONFIG`` overrides the
path): ``pipelines.<name>.freshness_hours`` when set; otherwise it follows the pipeline's own
schedule — the longest gap between two scheduled runs plus slack (:func:`cadence_hours`: a
daily pipeline gets 26 h, the weekly Dinas Sosial pipeline 176 h, the hourly PATEN one 3 h);
``default_freshness_hours`` only for a schedule that cannot be read. Only loads with status
``loaded`` count as successful; a held delivery does not make the data fresh.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from simpul.config import ConfigError, SimpulConfig
from simpul.domain.clock import as_utc

OPS_CONFIG = Path(__file__).with_name("ops.yaml")
DEFAULT_FRESHNESS_HOURS = 26.0


@dataclass(frozen=True)
class OpsSettings:
    default_freshness_hours: float = DEFAULT_FRESHNESS_HOURS
    alert_repeat_hours: float = 6.0
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)

    def freshness_hours(self, pipeline: str, schedule: str | None = None) -> float:
        value = (self.pipelines.get(pipeline) or {}).get("freshness_hours")
        if value is not None:
            return float(value)
        cadence = cadence_hours(schedule)
        return cadence if cadence is not None else self.default_freshness_hours


def cadence_hours(schedule: str | None, samples: int = 60) -> float | None:
    """The limit that follows a cron schedule: the longest gap between two consecutive runs
    (over the next ``samples`` runs) plus slack for retries — 2 h, or 5 % of the gap when
    that is more. None for a manual or unreadable schedule."""
    if not schedule:
        return None
    try:
        from croniter import croniter  # ships with Airflow (pinned in uv.lock)

        it = croniter(schedule, datetime(2026, 1, 1, tzinfo=UTC))
        fires = [it.get_next(datetime) for _ in range(samples)]
    except Exception:  # noqa: BLE001 - not a cron expression: the default applies
        return None
    gap = max((b - a).total_seconds() for a, b in zip(fires, fires[1:], strict=False)) / 3600
    return round(gap + max(2.0, gap * 0.05), 1)


def load_ops_settings(path: Path | str | None = None) -> OpsSettings:
    path = Path(path or os.environ.get("SIMPUL_OPS_CONFIG") or OPS_CONFIG)
    if not path.exists():
        return OpsSettings()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        pipelines = raw.get("pipelines") or {}
        settings = OpsSettings(
            default_freshness_hours=float(
                raw.get("default_freshness_hours", DEFAULT_FRESHNESS_HOURS)
            ),
            alert_repeat_hours=float(raw.get("alert_repeat_hours", 6)),
            pipelines={str(k): dict(v or {}) for k, v in pipelines.items()},
        )
    except (yaml.YAMLError, AttributeError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: invalid ops settings ({exc}) / pengaturan operasional tidak valid"
        ) from None
    for name, values in settings.pipelines.items():
        hours = values.get("freshness_hours")
        if hours is not None and (not isinstance(hours, int | float) or hours <= 0):
            raise ConfigError(
                f"{path}: pipelines.{name}.freshness_hours must be a positive number "
                f"/ harus bilangan positif"
            )
    return settings


def freshness_report(
    wh: Any,
    cfg: SimpulConfig,
    settings: OpsSettings | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One row per configured pipeline: last success, age, cadence and a state.

    ``state`` is ``ok``, ``stale`` (older than the cadence) or ``never`` (no successful load
    yet). Manual pipelines (``schedule: null``) are reported but never ``stale``.
    """
    settings = settings or load_ops_settings()
    now = now or datetime.now(UTC)
    last = {
        r["pipeline"]: r
        for r in wh.query(
            "select pipeline, max(loaded_at) as last_loaded, count(*) as loads "
            "from ops.loads where status = 'loaded' group by pipeline"
        )
    }
    last_any = {
        r["pipeline"]: r
        for r in wh.query(
            "select pipeline, max(loaded_at) as last_attempt from ops.loads group by pipeline"
        )
    }
    rows = []
    for name, p in sorted(cfg.pipelines.items()):
        hours = settings.freshness_hours(name, p.schedule)
        when = as_utc((last.get(name) or {}).get("last_loaded"))
        attempt = as_utc((last_any.get(name) or {}).get("last_attempt"))
        age = (now - when).total_seconds() / 3600 if when else None
        if when is None:
            state = "never"
        elif p.schedule is not None and age is not None and age > hours:
            state = "stale"
        else:
            state = "ok"
        rows.append(
            {
                "pipeline": name,
                "source": p.source,
                "entity": p.entity,
                "schedule": p.schedule,
                "last_loaded": when,
                "last_attempt": attempt,
                "age_hours": round(age, 2) if age is not None else None,
                "freshness_hours": hours,
                "state": state,
            }
        )
    return rows
