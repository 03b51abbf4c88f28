"""``prepare_drops`` and ``serve_all`` wiring for the file drops, OpenDK and CKAN."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import requests

from simpul.simulators.opendk import push_opendk
from simpul.simulators.runner import prepare_drops, serve_all


def test_prepare_drops_and_serve(fresh_world: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    drops = prepare_drops(fresh_world, home, 0.02, 7)
    assert drops.env() == {
        "SIMPUL_OPENSID_DROP": str(home / "drops" / "opensid"),
        "SIMPUL_DINSOS_DROP": str(home / "drops" / "dinsos"),
        "SIMPUL_PATEN_DB_URL": f"sqlite:///{home / 'drops' / 'paten' / 'paten.sqlite'}",
    }
    assert len(drops.opensid_files) == 16 and drops.dinsos_file.parent == drops.dinsos_dir
    for name in ("opensid_penduduk", "dinsos_penerima_bantuan"):
        assert (fresh_world / "ground_truth" / f"{name}.parquet").exists()
    handles = serve_all(fresh_world, base_port=0, only=["opendk", "ckan"], home_dir=home)
    try:
        env = {k: v for h in handles.values() for k, v in h.env().items()}
        assert set(env) == {
            "SIMPUL_OPENDK_URL",
            "SIMPUL_OPENDK_TOKEN",
            "SIMPUL_OPENSID_DROP",
            "SIMPUL_CKAN_URL",
            "SIMPUL_CKAN_TOKEN",
        }
        r = requests.get(f"{env['SIMPUL_CKAN_URL']}/api/3/action/status_show", timeout=5)
        assert r.json()["success"]
        first = drops.opensid_files[0]
        receipt = push_opendk(
            env["SIMPUL_OPENDK_URL"],
            env["SIMPUL_OPENDK_TOKEN"],
            first.stem.removeprefix("penduduk_"),
            first.read_bytes(),
        )
        assert (Path(env["SIMPUL_OPENSID_DROP"]) / receipt["data"]["file"]).exists()
    finally:
        for h in handles.values():
            h.stop()


def test_simulate_up_writes_the_siak_export_drop(
    fresh_world: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """`make simulate` (simulate up) writes SIAK's export workbook too: without it a running
    hub's siak_export_penduduk pipeline finds no file and loads 0 rows."""
    import time

    from python_calamine import CalamineWorkbook

    from simpul.cli import build_parser
    from simpul.simulators import runner

    monkeypatch.setattr(runner, "serve_all", lambda *a, **k: {})

    def stop(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", stop)
    home = tmp_path / "home"
    args = build_parser().parse_args(
        ["simulate", "up", "--world", str(fresh_world), "--home", str(home)]
        + ["--defect-rate", "0.02", "--seed", "7"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    export = runner.siak_export_path(home)
    assert f"export SIMPUL_SIAK_EXPORT_DROP={export.parent}" in out
    sheet = CalamineWorkbook.from_path(str(export)).get_sheet_by_index(0).to_python()
    truth = pq.read_table(fresh_world / "ground_truth" / "siak_export.parquet")
    extra = truth.filter(pc.equal(truth.column("kind"), "duplicate_nik")).num_rows
    people = pq.read_table(fresh_world / "penduduk.parquet").num_rows
    assert len(sheet) - 1 == people + extra  # header, then every resident (+ injected copies)
