"""Schema-drift alerts: never on a first load, never for the hub's lineage columns (the
file-drop pipelines carry ``_source_file``/``_source_row``); see also test_health for the
column filter."""

from __future__ import annotations

import json

from simpul import pipeline
from simpul.config import load_config
from simpul.orchestration.dags import check_drift

HEADER = "NIK;NO_KK;NAMA;PROGRAM;PERIODE;KODE_DESA;NOMINAL"
ROW = "1608011301900001;1608010101100001;Nama;PKH;2026-Q3;1608012006;750000"


def _alerts(home) -> list[dict]:
    path = home / "alerts" / "alerts.log"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def _delivery(name: str) -> dict:
    p = load_config().pipeline(name)
    landed = pipeline.extract(name)
    result = pipeline.transform(name, landed["load_id"])
    check_drift(name, p, result, {"run_id": "manual__test"})
    pipeline.load(name, landed["load_id"])
    return result


def test_no_drift_alert_on_first_loads_of_a_file_drop_pipeline(simpul_home, monkeypatch):
    for k in ("SIMPUL_ALERT_WEBHOOK_URL", "SIMPUL_ALERT_SMTP_HOST", "SIMPUL_ALERT_EMAIL_TO"):
        monkeypatch.delenv(k, raising=False)
    name = "dinsos_penerima_bantuan"
    drop = simpul_home / "drops" / "dinsos"
    drop.mkdir(parents=True)
    (drop / "bantuan_1.csv").write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    first = _delivery(name)
    assert first["schema_drift"] is None
    assert _alerts(simpul_home) == []  # first load: lineage columns are not "new"

    (drop / "bantuan_2.csv").write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    second = _delivery(name)  # same columns again: still nothing to alert
    assert not second["schema_drift"]
    assert [a for a in _alerts(simpul_home) if a["kind"] == "schema_drift"] == []
