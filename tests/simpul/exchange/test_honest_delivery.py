"""Deliveries an agency can rely on: only when ready, once per change, queued once while a
channel is down, never hanging, never silently lost, and a task state that tells the truth."""

from __future__ import annotations

import argparse
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from simpul.exchange import channels, send, service
from simpul.exchange.agreements import AgreementsFile
from simpul.exchange.errors import ChannelUnavailable, NotReady
from simpul.exchange.outbox import DEAD
from simpul.exchange.receiver import RestReceiver
from simpul.exchange.signing import public_key_b64
from simpul.exchange.store import disclosures_for_nik, outbox

from .conftest import NIK_DEAD, NIK_ONLY_DESA, T0, agreements_for


def _public(signing_key: Any) -> str:
    return public_key_b64(signing_key.public_key())


def _write(agreements: AgreementsFile, path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path.write_text(yaml.safe_dump(agreements.model_dump(mode="json")))
    monkeypatch.setenv("SIMPUL_EXCHANGE_AGREEMENTS", str(path))
    return path


def _cli(argv: list[str]) -> int:
    from simpul.exchange.cli import add_parser

    parser = argparse.ArgumentParser(prog="simpul")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _live(wh: Any) -> list[dict[str, Any]]:
    return [r for r in outbox(wh) if r["status"] not in DEAD]


# --------------------------------------------------------------------------- task state


def test_missing_token_fails_the_task_at_once_naming_the_variable(
    wh: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from simpul.exchange.dags import run_agreement

    monkeypatch.delenv("DUKCAPIL_TOKEN", raising=False)
    agreements = agreements_for(
        {"dukcapil": {"type": "rest", "url": "http://127.0.0.1:9/x", "token_env": "DUKCAPIL_TOKEN"}}
    )
    _write(agreements, tmp_path / "a.yaml", monkeypatch)
    wh.dispose()
    started = time.monotonic()
    with pytest.raises(AirflowFailException) as err:
        run_agreement("dukcapil")
    assert time.monotonic() - started < 10
    assert "DUKCAPIL_TOKEN" in str(err.value)
    assert "isi variabel lingkungan" in str(err.value) and "set environment variable" in str(
        err.value
    )
    assert outbox(wh) == []  # nothing built for a delivery that cannot go out


def test_missing_signing_key_or_unknown_agreement_fails_at_once(
    wh: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from simpul.exchange.dags import run_agreement

    _write(agreements_for({}), tmp_path / "a.yaml", monkeypatch)
    wh.dispose()
    with pytest.raises(AirflowFailException, match="no_such"):
        run_agreement("no_such")
    monkeypatch.delenv("SIMPUL_EXCHANGE_SIGNING_KEY")
    with pytest.raises(AirflowFailException, match="SIMPUL_EXCHANGE_SIGNING_KEY"):
        run_agreement("dukcapil")


def test_channel_down_fails_for_a_retry_and_the_delivery_waits_in_the_outbox(
    wh: Any, tmp_path: Path, signing_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from simpul.exchange.dags import run_agreement

    with RestReceiver(_public(signing_key), fail_first=100) as receiver:
        _write(
            agreements_for({"dinsos": {"type": "rest", "url": receiver.url}}),
            tmp_path / "a.yaml",
            monkeypatch,
        )
        wh.dispose()
        with pytest.raises(ChannelUnavailable) as err:  # retried by Airflow, with backoff
            run_agreement("dinsos")
        assert not isinstance(err.value, AirflowFailException)
        assert "kotak keluar" in str(err.value) and "outbox" in str(err.value)
        (row,) = outbox(wh)
        assert row["status"] == "pending" and "503" in row["last_error"]
        wh.dispose()
        assert _cli(["exchange", "run", "--agreement", "dinsos"]) == 3  # not sent: non-zero
        assert len(_live(wh)) == 1  # and not queued a second time


def test_a_sent_delivery_is_green_and_the_log_says_so(
    wh: Any,
    tmp_path: Path,
    signing_key: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from simpul.exchange.dags import run_agreement

    with RestReceiver(_public(signing_key)) as receiver:
        _write(
            agreements_for({"dinsos": {"type": "rest", "url": receiver.url}}),
            tmp_path / "a.yaml",
            monkeypatch,
        )
        wh.dispose()
        with caplog.at_level(logging.INFO, logger="simpul.exchange.dags"):
            out = run_agreement("dinsos")
    assert out["outcomes"] == ["receipted"]
    assert "receipted: " + out["queued"][0] in caplog.text


def test_cli_exit_code_on_configuration_error(
    wh: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("NO_TOKEN", raising=False)
    _write(
        agreements_for({"dinsos": {"type": "rest", "url": "http://x/", "token_env": "NO_TOKEN"}}),
        tmp_path / "a.yaml",
        monkeypatch,
    )
    wh.dispose()
    assert _cli(["exchange", "run", "--agreement", "dinsos"]) == 2
    assert "NO_TOKEN" in capsys.readouterr().err


# --------------------------------------------------------------------------- readiness


def test_a_half_loaded_warehouse_delivers_nothing_and_says_why(
    wh: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from simpul.exchange.dags import run_agreement

    with wh.begin() as conn:  # only OpenSID is in: SIAK has not loaded this cycle
        conn.exec_driver_sql("DELETE FROM ops.loads WHERE pipeline = 'siak_penduduk'")
    result = service.run(wh, agreements_for({}), now=T0)
    assert result["queued"] == [] and outbox(wh) == []
    reasons = {n["dataset"]: n for n in result["not_ready"]}
    assert set(reasons) == {"penduduk_selisih_siak", "meninggal_penerima_bantuan"}
    assert "siak_penduduk" in reasons["penduduk_selisih_siak"]["reason_en"]
    assert "belum ada muatan" in reasons["penduduk_selisih_siak"]["reason_id"]
    _write(agreements_for({}), tmp_path / "a.yaml", monkeypatch)
    wh.dispose()
    with pytest.raises(AirflowSkipException, match="siak_penduduk"):
        run_agreement("dukcapil")


def test_a_stale_held_or_failed_input_blocks_the_delivery(wh: Any) -> None:
    from .conftest import loads_for

    agreements = agreements_for({})
    with wh.begin() as conn:  # the latest dinsos load was held by the quality gate
        conn.execute(
            __import__("sqlalchemy").text(
                "INSERT INTO ops.loads (load_id, pipeline, source, status, loaded_at) "
                "VALUES (:load_id, :pipeline, :source, :status, :loaded_at)"
            ),
            [
                {k: r[k] for k in ("load_id", "pipeline", "source", "status", "loaded_at")}
                for r in loads_for(["dinsos_penerima_bantuan"], "held", T0.replace(year=2027))
            ],
        )
    with pytest.raises(NotReady, match=r"dinsos_penerima_bantuan \(held\)"):
        service.prepare(wh, agreements, "dinsos", "meninggal_penerima_bantuan", now=T0)
    # a load older than the cycle does not count
    later = T0.replace(year=2028)
    with pytest.raises(NotReady, match="no successful load in the last 26 h"):
        service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=later)


def test_reconciliation_with_an_empty_side_is_held_for_review_with_an_alert(
    wh: Any, webhook: Any
) -> None:
    with wh.begin() as conn:
        conn.exec_driver_sql("DELETE FROM core.penduduk_versions WHERE _source = 'siak'")
    result = service.run(wh, agreements_for({}), agreement_id="dukcapil", now=T0)
    (held,) = result["not_ready"]
    assert held["review"] and "siak" in held["reason_en"] and "kosong" in held["reason_id"]
    assert result["queued"] == [] and outbox(wh) == []
    assert webhook.event.wait(5)
    text = webhook.received[0]["text"]
    assert "ditinjau" in text and "held for review" in text
    assert NIK_ONLY_DESA not in text


def test_a_flood_of_findings_is_held_unless_a_reviewer_releases_it(wh: Any) -> None:
    agreements = agreements_for({})
    agreements.agreements["dukcapil"].datasets["penduduk_selisih_siak"].max_delta_share = 0.05
    with pytest.raises(NotReady, match="held for review") as err:
        service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
    assert err.value.review
    row = service.prepare(
        wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0, reviewed_by="Camat"
    )
    assert row["rows"] == 2


# --------------------------------------------------------------------------- once per change


def test_unchanged_content_is_delivered_once_and_a_full_copy_when_due(
    wh: Any, simpul_home: Path
) -> None:
    agreements = agreements_for({}, dinsos={"full_copy_days": 7})
    first = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    second = service.run(wh, agreements, agreement_id="dinsos", now=T0 + timedelta(hours=1))
    assert len(first["queued"]) == 1 and second["queued"] == []
    assert second["unchanged"][0]["delivery_id"] == first["queued"][0]["delivery_id"]
    drop = simpul_home / "drop" / "dinsos"
    assert len([p for p in drop.iterdir() if not p.name.startswith("_")]) == 1
    third = service.run(wh, agreements, agreement_id="dinsos", now=T0 + timedelta(days=8))
    assert len(third["queued"]) == 1  # the agreement's periodic full copy
    assert "periodic full copy" in " ".join(
        __import__("json").loads((Path(third["queued"][0]["path"]) / "manifest.json").read_text())[
            "notes"
        ]
    )


def test_a_channel_outage_across_three_runs_yields_exactly_one_delivery(
    wh: Any, signing_key: Any
) -> None:
    """Issue 21: three runs while the agency is down, then it comes back."""
    with RestReceiver(_public(signing_key), fail_first=3) as receiver:
        agreements = agreements_for({"dinsos": {"type": "rest", "url": receiver.url}})
        now = T0
        for _ in range(3):
            result = service.run(wh, agreements, agreement_id="dinsos", now=now)
            assert [a.outcome for a in result["attempts"]] in (["retry"], [])
            assert len(_live(wh)) == 1
            now += timedelta(hours=1)
        result = service.run(wh, agreements, agreement_id="dinsos", now=now)
        assert [a.outcome for a in result["attempts"]] == ["receipted"]
        service.run(wh, agreements, agreement_id="dinsos", now=now + timedelta(hours=1))
    assert len(receiver.accepted) == 1 and receiver.duplicates == 0
    assert [r["status"] for r in outbox(wh)] == ["receipted"]
    assert len(disclosures_for_nik(wh, NIK_DEAD, "dinsos")) == 1  # counted once


def test_a_newer_snapshot_supersedes_the_pending_one(wh: Any, signing_key: Any) -> None:
    with RestReceiver(_public(signing_key), fail_first=1) as receiver:
        agreements = agreements_for({"dinsos": {"type": "rest", "url": receiver.url}})
        first = service.run(wh, agreements, agreement_id="dinsos", now=T0)
        with wh.begin() as conn:  # the assistance list changed while the agency was down
            conn.exec_driver_sql("UPDATE core.penerima_bantuan SET periode = '2026-Q4'")
        second = service.run(wh, agreements, agreement_id="dinsos", now=T0 + timedelta(hours=1))
    old, new = first["queued"][0]["delivery_id"], second["queued"][0]["delivery_id"]
    assert list(receiver.accepted) == [new]
    status = {r["delivery_id"]: r["status"] for r in outbox(wh)}
    assert status == {old: "superseded", new: "receipted"}
    assert not Path(first["queued"][0]["path"]).exists()
    got = disclosures_for_nik(wh, NIK_DEAD, "dinsos")
    assert [g["delivery_id"] for g in got] == [new]  # only what was received counts


# --------------------------------------------------------------------------- never hang


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A TCP server that accepts connections and never answers (a link gone silent)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        t.join(2)
        for c in conns:
            c.close()
        srv.close()


@pytest.mark.parametrize("kind", ["ckan", "rest"])
def test_a_silent_channel_times_out_instead_of_hanging(
    wh: Any, black_hole: str, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv("SILENT_TOKEN", "t")
    ch: dict[str, Any] = {
        "type": kind,
        "url": black_hole if kind == "ckan" else black_hole + "/deliveries",
        "token_env": "SILENT_TOKEN",
        "timeout_seconds": 1,
        "connect_timeout_seconds": 1,
    }
    if kind == "ckan":
        ch.update(owner_org="o", package_name="p1")
        agreements = agreements_for({"satudata": ch})
        aid, ds = "satudata", "penduduk_agregat"
    else:
        agreements = agreements_for({"dinsos": ch})
        aid, ds = "dinsos", "meninggal_penerima_bantuan"
    row = service.prepare(wh, agreements, aid, ds, now=T0)
    started = time.monotonic()
    with pytest.raises(ChannelUnavailable):
        channels.send(agreements.agreements[aid], send.outgoing(row))
    assert time.monotonic() - started < 8


def test_the_warehouse_is_not_locked_while_a_channel_is_sending(
    wh: Any, signing_key: Any, warehouse_url: str
) -> None:
    if wh.dialect != "duckdb":
        pytest.skip("DuckDB's single-writer file lock")
    path = warehouse_url.removeprefix("duckdb:///")
    seen: dict[str, Any] = {}

    class Slow(RestReceiver):
        def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
            # while the hub waits for this answer, another process writes the warehouse
            seen["other_writer"] = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import duckdb; c = duckdb.connect({path!r}); "
                    "c.execute('create table if not exists ops.lock_probe (x int)')",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            return super().handle(headers, body)

    with Slow(_public(signing_key)) as receiver:
        agreements = agreements_for({"dinsos": {"type": "rest", "url": receiver.url}})
        result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    assert [a.outcome for a in result["attempts"]] == ["receipted"]
    probe = seen["other_writer"]
    assert probe.returncode == 0, probe.stderr[-300:]


# --------------------------------------------------------------------------- no silent loss


def test_a_missing_drop_root_is_never_created_and_the_delivery_waits(
    wh: Any, simpul_home: Path
) -> None:
    root = simpul_home / "mnt" / "dinsos-share"  # the share is not mounted
    agreements = agreements_for({"dinsos": {"type": "folder", "url": str(root)}})
    result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    assert [a.outcome for a in result["attempts"]] == ["retry"]
    assert not root.exists() and not root.parent.exists()
    (row,) = outbox(wh)
    assert row["status"] == "pending"
    assert "folder tujuan tidak ada" in row["last_error"]
    assert "does not exist" in row["last_error"]
    assert "NotADirectoryError" not in row["last_error"]
    root.mkdir(parents=True)  # mounted again: the same delivery goes out
    later = service.run(wh, agreements, agreement_id="dinsos", now=T0 + timedelta(hours=2))
    assert [a.outcome for a in later["attempts"]] == ["sent"] and later["queued"] == []


def test_a_drop_folder_that_is_not_the_expected_mount_is_refused(
    wh: Any, simpul_home: Path
) -> None:
    root = simpul_home / "mnt" / "dinsos"
    root.mkdir(parents=True)  # an empty local folder where the share should be mounted
    ch = {"type": "folder", "url": str(root), "mount_marker": ".simpul-share"}
    agreements = agreements_for({"dinsos": ch})
    result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    assert [a.outcome for a in result["attempts"]] == ["retry"]
    assert list(root.iterdir()) == []
    assert "marker .simpul-share missing" in outbox(wh)[0]["last_error"]
    (root / ".simpul-share").write_text("")  # the real share, mounted
    later = service.run(wh, agreements, agreement_id="dinsos", now=T0 + timedelta(hours=2))
    assert [a.outcome for a in later["attempts"]] == ["sent"]


def test_an_overdue_receipt_alerts_once_and_shows_in_status(
    wh: Any, webhook: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agreements = agreements_for({}, dinsos={"receipt_deadline_hours": 24})
    _write(agreements, tmp_path / "a.yaml", monkeypatch)
    service.run(wh, agreements, agreement_id="dinsos", now=T0)
    assert service.overdue_receipts(wh, agreements, now=T0 + timedelta(hours=23)) == []
    (late,) = service.overdue_receipts(wh, agreements, now=T0 + timedelta(hours=25))
    again = service.overdue_receipts(wh, agreements, now=T0 + timedelta(hours=26))
    assert [r["delivery_id"] for r in again] == [late["delivery_id"]]
    assert webhook.event.wait(5)
    assert len(webhook.received) == 1
    assert "belum datang" in webhook.received[0]["text"]
    events = wh.query("select status from ops.exchange_log where status = 'receipt_overdue'")
    assert len(events) == 1
    (shown,) = service.status_rows(wh, now=T0 + timedelta(hours=25))
    assert shown["state"].startswith("receipt overdue") and shown["agency"] == "dinsos"
    from simpul.dashboard import collect, render

    page = render(collect(wh, now=T0 + timedelta(hours=25)))
    assert "Deliveries waiting" in page and "receipt overdue" in page
    wh.dispose()
    from simpul.status import status_report

    assert "receipt overdue" in status_report()


# --------------------------------------------------------------------------- minimum necessary


def test_each_village_gets_only_its_own_rows_in_its_own_folder(
    wh: Any, simpul_home: Path, signing_key: Any
) -> None:
    import json

    import sqlalchemy as sa

    from simpul.exchange.receiver import process_drop_folder

    from .conftest import _insert

    villages = ["16.08.01.2001", "16.08.01.2002"]
    with wh.begin() as conn:
        _insert(
            conn,
            "ops.quarantine",
            [
                {
                    "load_id": "L9",
                    "source": "opensid",
                    "stream": "penduduk",
                    "entity": "penduduk",
                    "row_number": i + 1,
                    "record_key": f"16080120{i:02d}900009",
                    "rules": "tanggal",
                    "reasons_en": "bad date",
                    "reasons_id": "tanggal salah",
                    "record_json": json.dumps({"_kode_desa": villages[i % 2]}),
                    "status": "open",
                    "quarantined_at": T0,
                    "resolved_at": None,
                }
                for i in range(5)
            ],
        )
        conn.execute(sa.text("DELETE FROM ops.quarantine WHERE load_id = 'L2'"))
    report = simpul_home / "reports" / "L9"
    report.mkdir(parents=True)
    (report / "laporan_mutu_data.html").write_text("<html>semua desa</html>")
    (report / "laporan_mutu_data.csv").write_text(
        "baris,berkas,kunci_data,kolom,aturan,tingkat,alasan,reason\n"
        + "".join(f"{i + 1},f.xlsx,K{i},tgl,tanggal,error,x,x\n" for i in range(5))
        + "7,f.xlsx,K7,nama,nama_pendek,warning,w,w\n"
    )
    root = simpul_home / "drop" / "desa"
    root.mkdir(parents=True)
    agreements = agreements_for(
        {},
        dinsos={
            "agency": "pemdes",
            "channel": {"type": "folder", "url": str(root)},
            "format": "csv",
            "datasets": {
                "laporan_mutu_data": {
                    "columns": ["load_id", "baris", "kunci_data", "alasan"],
                    "params": {"source": "opensid"},
                    "partition_by": "kode_desa",
                }
            },
        },
    )
    result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    assert sorted(q["part"] for q in result["queued"]) == villages
    for q in result["queued"]:
        mine = {i + 1 for i in range(5) if villages[i % 2] == q["part"]}
        folder = root / q["part"] / q["delivery_id"]
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["addressee"] == f"pemdes/{q['part']}"
        data = (folder / "laporan_mutu_data.csv").read_text().splitlines()
        assert {int(line.split(",")[1]) for line in data[1:]} == mine
        att = (folder / "lampiran_L9_laporan_mutu_data.csv").read_text().splitlines()
        assert att[0] == "baris,kunci_data,alasan"  # granted columns only
        assert {int(line.split(",")[0]) for line in att[1:]} == mine  # own rows, errors only
        assert not (folder / "lampiran_L9_laporan_mutu_data.html").exists()
        (receipt,) = process_drop_folder(root / q["part"], _public(signing_key), q["part"])
        assert receipt["status"] == "accepted"
    service.collect_receipts(wh, agreements, now=T0)
    assert {r["status"] for r in outbox(wh)} == {"receipted"}
    # a second run with nothing changed delivers nothing to any village
    assert service.run(wh, agreements, agreement_id="dinsos", now=T0)["queued"] == []
