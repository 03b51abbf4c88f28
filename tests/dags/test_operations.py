"""Operations as an operator sees them: an agency outage shows up in ``simpul status --check``,
on the dashboard and in the alert log — bilingual, naming the agency and its URL, no secret —
with every failed try recorded by the task callbacks (no Airflow database needed to read it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from simpul.synth import WorldConfig, generate_world
from tests.served import siak_served

DAG_ID = "simpul_siak_penduduk"
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def siak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with siak_served(
        tmp_path_factory.mktemp("world"), seed=5, population=400, defect_rate=0.02
    ) as served:
        yield served


@pytest.fixture
def env(siak, simpul_home: Path, monkeypatch: pytest.MonkeyPatch, airflow_home) -> Path:
    for k, v in siak["handle"].env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
    for k in ("SIMPUL_ALERT_WEBHOOK_URL", "SIMPUL_ALERT_SMTP_HOST", "SIMPUL_ALERT_EMAIL_TO"):
        monkeypatch.delenv(k, raising=False)
    return simpul_home


def _dag(retries: int = 0):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).dags[DAG_ID]
    for t in dag.tasks:
        t.retries = retries
        t.retry_delay = timedelta(seconds=0)
        t.retry_exponential_backoff = False
    return dag


def _alert_log(home: Path) -> list[dict]:
    path = home / "alerts" / "alerts.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_agency_outage_is_named_in_status_dashboard_and_alert_log(env, siak, capsys):
    from simpul.cli import main
    from simpul.dashboard import build_dashboard
    from simpul.warehouse import open_warehouse

    run = _dag().test()
    assert run.state == "success", [(t.task_id, t.state) for t in run.get_task_instances()]
    # a first load never raises a schema-drift alert (lineage columns or not)
    assert [a for a in _alert_log(env) if a["kind"] == "schema_drift"] == []
    assert main(["status", "--check"]) == 0
    capsys.readouterr()

    url = siak["handle"].url
    secrets = [v for k, v in siak["handle"].env().items() if "SECRET" in k or "CLIENT_ID" in k]
    assert secrets
    siak["handle"].stop()  # the agency's system goes down

    run = _dag(retries=1).test()
    assert run.state == "failed"
    states = {t.task_id: t.state for t in run.get_task_instances()}
    assert states["extract"] == "failed", states

    # every try is in ops.task_runs (written by the callbacks, not read from Airflow)
    wh = open_warehouse()
    try:
        tries = wh.query(
            "select task_id, try_number, state, error_id, error_en from ops.task_runs "
            "where dag_id = :d and run_id = :r order by try_number",
            {"d": DAG_ID, "r": run.run_id},
        )
    finally:
        wh.dispose()
    assert [(t["task_id"], t["state"]) for t in tries] == [
        ("extract", "up_for_retry"),
        ("extract", "failed"),
    ], tries
    assert "SIAK (Disdukcapil OKU Timur) tidak dapat dihubungi di" in tries[-1]["error_id"]
    assert "SIAK (Disdukcapil OKU Timur) unreachable at" in tries[-1]["error_en"]

    # status --check: non-zero, one line naming the agency and URL, Indonesian first
    code = main(["status", "--check"])
    out = capsys.readouterr().out
    assert code == 1, out
    line = next(x for x in out.splitlines() if x.startswith("[siak_penduduk]"))
    assert "run terakhir gagal (2 percobaan gagal, tugas extract)" in line
    assert f"tidak dapat dihubungi di {url}" in line and f"unreachable at {url}" in line
    assert line.index("tidak dapat dihubungi") < line.index("unreachable at")
    assert "LandingError" not in out and "cannot write" not in out

    # the full status shows it too
    assert main(["status"]) == 0
    full = capsys.readouterr().out
    assert "Perlu perhatian / needs attention" in full and "failed" in full

    # the dashboard
    wh = open_warehouse()
    try:
        page = build_dashboard(wh, env / "dash.html").read_text(encoding="utf-8")
    finally:
        wh.dispose()
    assert "gagal / failed" in page
    assert "tidak dapat dihubungi" in page and "unreachable at" in page
    assert "Log peringatan / Alert log" in page and "WIB" in page

    # the alert log: the failure alert, bilingual, agency named
    failures = [a for a in _alert_log(env) if a["kind"] == "failure"]
    assert len(failures) == 1, failures
    alert = failures[0]
    assert alert["dag_id"] == DAG_ID and alert["task_id"] == "extract"
    assert "SIAK (Disdukcapil OKU Timur) tidak dapat dihubungi" in alert["message_id"]
    assert "SIAK (Disdukcapil OKU Timur) unreachable at" in alert["message_en"]

    everything = out + full + page + (env / "alerts" / "alerts.log").read_text()
    for secret in secrets:
        assert secret not in everything


def test_schedules_are_wib_and_only_warehouse_writers_take_the_pool(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    dag = bag.dags[DAG_ID]
    assert str(dag.timezone.name) == "Asia/Jakarta" and dag.catchup is False
    # the cron is read in the DAG's zone: "0 1 * * *" is 01:00 WIB, not 01:00 UTC
    assert str(getattr(dag.timetable, "_timezone", dag.timezone).name) == "Asia/Jakarta"
    tasks = {t.task_id: t for t in dag.tasks}
    assert tasks["load"].pool == "simpul_warehouse"
    assert tasks["extract"].pool != "simpul_warehouse"  # network
    assert tasks["transform"].pool != "simpul_warehouse"  # CPU
    assert bag.dags["simpul_ops_marts"].get_task("build_marts").pool == "simpul_warehouse"
    for t in dag.tasks:
        assert t.on_retry_callback and t.on_success_callback and len(t.on_failure_callback) == 2


@pytest.fixture
def held_env(tmp_path_factory, simpul_home: Path, monkeypatch, airflow_home) -> Iterator[Path]:
    """Its own simulator (the outage test stops the shared one)."""
    from simpul.simulators.runner import serve_all

    world = tmp_path_factory.mktemp("world_held")
    generate_world(WorldConfig(seed=6, population=300)).write(world)
    servers = serve_all(world, base_port=0, only=["siak"], defect_rate=0.05, seed=6)
    try:
        for k, v in servers["siak"].env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
        for k in ("SIMPUL_ALERT_WEBHOOK_URL", "SIMPUL_ALERT_SMTP_HOST", "SIMPUL_ALERT_EMAIL_TO"):
            monkeypatch.delenv(k, raising=False)
        yield simpul_home
    finally:
        for s in servers.values():
            s.stop()


def test_a_held_delivery_fails_its_load_task_without_retry_and_shows_in_status(
    held_env, tmp_path, monkeypatch, capsys
):
    """The quality gate holds the delivery: under Airflow the load task ends *failed* (not
    green), is not retried, says why and how to release in both languages, is recorded in
    ops.task_runs, and ``simpul status --check`` names it; one "held" alert, no "failure"."""
    import yaml

    from simpul.cli import main
    from simpul.config import DEFAULT_CONFIG
    from simpul.warehouse import open_warehouse

    raw = yaml.safe_load(Path(DEFAULT_CONFIG).read_text(encoding="utf-8"))
    raw["pipelines"]["siak_penduduk"]["max_error_rate"] = 0.0  # any quarantined row holds
    cfg = tmp_path / "simpul.yaml"
    cfg.write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.setenv("SIMPUL_CONFIG", str(cfg))

    run = _dag(retries=2).test()
    states = {t.task_id: t.state for t in run.get_task_instances()}
    assert run.state == "failed" and states["load"] == "failed", states

    wh = open_warehouse()
    try:
        load = wh.query("select * from ops.loads where pipeline = 'siak_penduduk'")[0]
        tries = wh.query(
            "select task_id, try_number, state, error_id, error_en from ops.task_runs "
            "where dag_id = :d and run_id = :r and task_id = 'load'",
            {"d": DAG_ID, "r": run.run_id},
        )
        core = wh.scalar("select count(*) from core.penduduk")
    finally:
        wh.dispose()
    assert load["status"] == "held" and core == 0
    assert [(t["try_number"], t["state"]) for t in tries] == [(1, "failed")], tries  # no retry
    load_id = load["load_id"]
    assert f"Delivery {load_id} of pipeline siak_penduduk is HELD" in tries[0]["error_en"]
    assert f"simpul release {load_id}" in tries[0]["error_en"]
    assert "error rate" in tries[0]["error_en"]
    assert f"Kiriman {load_id} pipeline siak_penduduk DITAHAN" in tries[0]["error_id"]
    assert "tingkat galat" in tries[0]["error_id"]

    code = main(["status", "--check"])
    out = capsys.readouterr().out
    assert code == 1, out
    lines = [x for x in out.splitlines() if x.startswith("[siak_penduduk]")]
    assert any("run terakhir gagal" in x and "tugas load" in x for x in lines), out
    assert any("ditahan gerbang kualitas" in x for x in lines), out

    kinds = [a["kind"] for a in _alert_log(held_env)]
    assert kinds.count("held") == 1 and "failure" not in kinds, kinds
