"""Data at rest: whatever the caller's umask, everything the hub writes under SIMPUL_HOME is
owner-only (directories 0700, files 0600 or read-only 0400); keys others can read are refused;
``simpul doctor`` lists permission, key and configuration problems and ``--fix`` repairs them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from simpul import pipeline
from simpul.cli import main
from simpul.warehouse import open_warehouse
from simpul.warehouse.marts import build_marts
from tests.connectors.test_dinsos import HEADER, row

KEY = "data-at-rest-test-pseudonym-key-0123456789"


@pytest.fixture
def usual_umask():
    old = os.umask(0o022)  # what most shells have: files 0644, directories 0755
    try:
        yield
    finally:
        os.umask(old)


def _loose(home: Path, skip: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(home):
        for name in [*dirs, *files]:
            p = Path(root) / name
            if skip in p.parents or p == skip or p.is_symlink():
                continue
            if stat.S_IMODE(p.stat().st_mode) & 0o077:
                out.append(f"{p.relative_to(home)} {stat.S_IMODE(p.stat().st_mode):o}")
    return out


def test_everything_the_hub_writes_is_owner_only(simpul_home, usual_umask, monkeypatch, capsys):
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", KEY)
    drop = simpul_home / "drops" / "dinsos"  # the agency's folder: not written by the hub
    drop.mkdir(parents=True)
    lines = [HEADER, *(row(i) for i in range(1, 12)), row(12, PROGRAM="ZZZ")]
    (drop / "bantuan.csv").write_text("\n".join(lines))
    result = pipeline.run("dinsos_penerima_bantuan")  # landing, staging, DQ report, warehouse
    assert result["rows_quarantined"] == 1
    wh = open_warehouse()
    try:
        build_marts(wh)  # marts and the analyst database
    finally:
        wh.dispose()
    assert main(["sql", "select 1 as n", "--out", str(simpul_home / "reports" / "x.csv")]) == 0
    from simpul.orchestration import audit

    audit.record("test", outcome="ok", to_db=False)
    written = [p for p in simpul_home.rglob("*") if p.is_file() and drop not in p.parents]
    kinds = {p.suffix for p in written}
    assert {".parquet", ".duckdb", ".csv", ".html", ".jsonl"} <= kinds, kinds
    assert _loose(simpul_home, drop.parent) == []
    assert stat.S_IMODE(simpul_home.stat().st_mode) == 0o700


def test_doctor_lists_problems_and_fix_repairs_permissions(
    simpul_home, usual_umask, monkeypatch, capsys
):
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", KEY)
    (simpul_home / "reports").mkdir()
    (simpul_home / "reports" / "old.csv").write_text("nik\n1608014101900001\n")
    os.chmod(simpul_home / "reports" / "old.csv", 0o644)
    keyfile = simpul_home / "signing.key"
    keyfile.write_text("x")
    keyfile.chmod(0o644)
    monkeypatch.setenv("SIMPUL_EXCHANGE_SIGNING_KEY_FILE", str(keyfile))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "readable by others" in out and "terbaca" in out and "signing.key" in out
    assert main(["doctor", "--fix"]) == 0, capsys.readouterr().out
    assert _loose(simpul_home, simpul_home / "nothing") == []


def test_doctor_reports_a_missing_or_public_pseudonym_key(simpul_home, monkeypatch, capsys):
    from simpul.warehouse.pseudonym import DEMO_KEY

    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", DEMO_KEY)
    assert main(["doctor"]) == 1
    assert "demo" in capsys.readouterr().out
    monkeypatch.delenv("SIMPUL_PSEUDONYM_KEY")
    assert main(["doctor"]) == 1
    assert "SIMPUL_PSEUDONYM_KEY" in capsys.readouterr().out
