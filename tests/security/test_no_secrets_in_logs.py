"""Secrets come from the environment only and never reach a log line or an error message;
neither do NIKs or names. A real run with defective data (quarantine, warnings), a refused
login, an agency outage and a failing alert all log at DEBUG into caplog."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from connectors.base.http import RetryPolicy
from simpul import pipeline
from simpul.cli import main
from simpul.synth import WorldConfig, generate_world

SECRET = "s3cr3t-Client-Secret-9f8e7d6c5b4a"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("secret_world")
    generate_world(WorldConfig(seed=5, population=300)).write(d)
    return d


@pytest.fixture
def siak(world: Path, tmp_path: Path, simpul_home, monkeypatch) -> Iterator:
    from simpul.simulators.runner import serve_all

    monkeypatch.setenv("SIMPUL_SIM_SIAK_CLIENT_SECRET", SECRET)
    h = serve_all(world, base_port=0, only=["siak"], defect_rate=0.1, seed=5, home_dir=tmp_path)
    h = h["siak"]
    for k, v in h.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, a, r: 0.01)
    tokens: list[str] = []
    real = requests.Session.post

    def spy(self, url, *a, **k):  # remember every access token the hub receives
        resp = real(self, url, *a, **k)
        if url.endswith("/auth/token") and resp.status_code == 200:
            tokens.append(resp.json()["access_token"])
        return resp

    monkeypatch.setattr(requests.Session, "post", spy)
    h.tokens = tokens
    try:
        yield h
    finally:
        h.stop()


def _personal(world: Path) -> list[str]:
    t = pq.read_table(world / "penduduk.parquet").to_pylist()
    niks = [r["nik"] for r in t]
    names = [r["nama"] for r in t if r.get("nama") and len(r["nama"]) >= 8]
    return niks + names


def test_nothing_personal_or_secret_is_logged(siak, world, caplog, capsys, monkeypatch):
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    result = pipeline.run("siak_penduduk")
    assert result["rows_quarantined"] > 0 and result["rows_warned"] > 0

    monkeypatch.setenv("SIMPUL_RETRY_BUDGET_SECONDS", "1")  # an outage longer than the budget
    requests.post(f"{siak.url}/admin/faults", json={"error_burst": 100_000}, timeout=5)
    assert main(["run", "siak_keluarga"]) == 2  # the agency is down
    requests.post(f"{siak.url}/admin/faults", json={}, timeout=5)
    monkeypatch.setenv("SIMPUL_SIAK_CLIENT_SECRET", SECRET + "-wrong")
    assert main(["run", "siak_keluarga"]) == 2  # login refused

    from simpul.domain.alerts import Alert
    from simpul.orchestration.alerts import send_alert

    monkeypatch.setenv("SIMPUL_ALERT_WEBHOOK_URL", f"http://user:{SECRET}@127.0.0.1:9/hook")
    send_alert(Alert("failure", f"gagal: NIK {_personal(world)[0]}", f"failed token={SECRET}"))

    out = capsys.readouterr()
    texts += [caplog.text, out.out, out.err]
    texts += [str(r.args) for r in caplog.records]
    blob = "\n".join(texts)
    assert siak.tokens, "no login happened"
    leaks = [s for s in [SECRET, *siak.tokens, *_personal(world)] if s in blob]
    assert leaks == [], leaks[:5]
    assert "Bearer " not in blob
