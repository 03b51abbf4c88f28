"""The numbers the dashboard shows, read from ``ops.*``: operational aggregates only (counts,
rule names, timestamps, ids), never record keys, contents or reasons."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from simpul.config import ConfigError, SimpulConfig, load_config
from simpul.domain.clock import as_utc

MAX_LOADS = 500


def collect(wh: Any, cfg: SimpulConfig | None = None, now: datetime | None = None) -> dict:
    """Every number the dashboard shows (aggregates only; safe to print or serialise)."""
    from simpul.exchange.service import status_rows
    from simpul.orchestration.alerts import external_channels, read_alert_log

    now = now or datetime.now(UTC)
    loads = _loads(wh)
    by_rule = _open_by_rule(wh)
    if cfg is None:
        try:
            cfg = load_config()
        except ConfigError:
            cfg = None
    exchange = [
        {k: r[k] for k in ("delivery_id", "agency", "dataset", "state", "receipt_due")}
        for r in status_rows(wh, now)
    ]
    return {
        "rule_labels": rule_labels(cfg, set(by_rule)),
        "health": _health(wh, cfg, now),
        "alert_log": read_alert_log(30),
        "alert_channels": external_channels(),
        "generated_at": now,
        "exchange": exchange,
        "loads": loads,
        "open_quarantine": wh.query(
            "select source, stream, entity, count(*) as records from ops.quarantine "
            "where status = 'open' group by source, stream, entity order by source, stream, entity"
        ),
        "open_by_rule": dict(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        "freshness": _freshness(wh, cfg, loads, now),
    }


def _loads(wh: Any) -> list[dict]:
    """The latest ``MAX_LOADS`` loads, oldest first, each with its error-row count and rate."""
    loads: list[dict] = wh.query(
        "select * from (select load_id, pipeline, source, stream, entity, status, loaded_at, "
        "rows_received, rows_loaded, rows_quarantined, rows_duplicate from ops.loads "
        "order by loaded_at desc limit :n) t order by loaded_at",
        {"n": MAX_LOADS},
    )
    error_rows = {
        r["load_id"]: int(r["error_rows"] or 0)
        for r in wh.query(
            "select load_id, count(distinct row_number) as error_rows from ops.dq_findings "
            "where severity = 'error' group by load_id"
        )
    }
    for r in loads:
        r["loaded_at"] = as_utc(r["loaded_at"])
        checked = int(r["rows_received"] or 0) - int(r["rows_duplicate"] or 0)
        r["error_rows"] = error_rows.get(r["load_id"], 0)
        r["error_rate"] = r["error_rows"] / checked if checked > 0 else 0.0
    return loads


def _open_by_rule(wh: Any) -> dict[str, int]:
    """Open quarantine records per rule (a record failing two rules counts for both)."""
    by_rule: dict[str, int] = defaultdict(int)
    for r in wh.query(
        "select rules, count(*) as n from ops.quarantine where status = 'open' group by rules"
    ):
        for rule in (r["rules"] or "").split(","):
            if rule:
                by_rule[rule] += int(r["n"])
    return by_rule


def _health(wh: Any, cfg: SimpulConfig | None, now: datetime) -> Any:
    """The orchestration health summary, or None without a valid configuration."""
    if cfg is None:
        return None
    from simpul.orchestration.health import collect as collect_health

    return collect_health(wh, cfg, now)


def _freshness(wh: Any, cfg: SimpulConfig | None, loads: list[dict], now: datetime) -> list[dict]:
    from simpul.orchestration.freshness import freshness_report, load_ops_settings

    if cfg is not None:
        return freshness_report(wh, cfg, load_ops_settings(), now)
    # no valid config: freshness of whatever pipelines have loaded, default cadence
    return _freshness_from_loads(loads, now)


def rule_labels(cfg: SimpulConfig | None, rules: set[str]) -> dict[str, str]:
    """Indonesian label of each rule: the fixed ``reason_id`` text of its check in
    ``expectations/`` (code, never data). Empty when the suites cannot be loaded."""
    if not rules or cfg is None:
        return {}
    out: dict[str, str] = {}
    try:
        from simpul.validate import load_checks

        for suite in sorted({p.suite for p in cfg.pipelines.values()}):
            try:
                checks = load_checks(suite, kabupaten=cfg.kabupaten)
            except TypeError:
                checks = load_checks(suite)
            for c in checks:
                if c.rule in rules and c.rule not in out:
                    text = c.reason_id.split(";")[0].split(" (")[0].strip().rstrip(".")
                    out[c.rule] = text if len(text) <= 60 else text[:59] + "…"
    except Exception:  # noqa: BLE001 - labels are a help; the rule id is always shown
        return out
    return out


def _freshness_from_loads(loads: list[dict], now: datetime) -> list[dict]:
    from simpul.orchestration.freshness import DEFAULT_FRESHNESS_HOURS

    last: dict[str, dict] = {}
    for r in loads:
        if r["status"] == "loaded":
            last[r["pipeline"]] = r
    out = []
    for name, r in sorted(last.items()):
        age = (now - r["loaded_at"]).total_seconds() / 3600
        out.append(
            {
                "pipeline": name,
                "source": r["source"],
                "entity": r["entity"],
                "schedule": "?",
                "last_loaded": r["loaded_at"],
                "age_hours": round(age, 2),
                "freshness_hours": DEFAULT_FRESHNESS_HOURS,
                "state": "stale" if age > DEFAULT_FRESHNESS_HOURS else "ok",
            }
        )
    return out
