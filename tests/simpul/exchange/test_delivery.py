"""Deliveries end to end on DuckDB and PostgreSQL: entitled, signed, receipted, exactly once,
and answerable per person under the NIK pseudonym."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from simpul.exchange import datasets, send, service
from simpul.exchange.errors import Unchanged
from simpul.exchange.outbox import LEASE
from simpul.exchange.receiver import RestReceiver, process_drop_folder
from simpul.exchange.signing import MANIFEST, public_key_b64, verify
from simpul.exchange.store import disclosures_by_pseudonym, disclosures_for_nik, outbox
from simpul.warehouse.pseudonym import pseudonymise

from .conftest import (
    NIK_ALIVE,
    NIK_DEAD,
    NIK_DIFF,
    NIK_ONLY_DESA,
    NIK_OUTSIDE,
    NIK_SAME,
    PSEUDONYM_KEY,
    SELISIH_COLUMNS,
    T0,
    agreements_for,
)


def _public(signing_key: Any) -> str:
    return public_key_b64(signing_key.public_key())


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(newline="", encoding="utf-8")))


def _statuses(wh: Any, delivery_id: str) -> list[str]:
    return [
        r["status"]
        for r in wh.query(
            "select status from ops.exchange_log where delivery_id = :d order by logged_at",
            {"d": delivery_id},
        )
    ]


def test_folder_delivery_is_entitled_signed_and_receipted(
    wh: Any, simpul_home: Path, signing_key: Any
) -> None:
    agreements = agreements_for({})
    result = service.run(wh, agreements, agreement_id="dukcapil", now=T0)
    (queued,) = result["queued"]
    assert queued["rows"] == 2  # the village-only NIK and the conflicting one; not outside
    drop = simpul_home / "drop" / "dukcapil"
    delivered = drop / queued["delivery_id"]
    manifest = verify(delivered, _public(signing_key))
    assert manifest["agreement"] == "dukcapil"
    assert manifest["legal_basis"] == "UU 24/2013; PKS"
    assert manifest["hub_id"] == "simpul-test"
    (data,) = manifest["files"]
    rows = _csv_rows(delivered / data["name"])
    assert list(rows[0]) == SELISIH_COLUMNS  # default deny: granted columns only
    by_nik = {r["nik"]: r for r in rows}
    assert set(by_nik) == {NIK_ONLY_DESA, NIK_DIFF}
    assert by_nik[NIK_ONLY_DESA]["jenis_selisih"] == "tidak_ada_di_siak"
    assert by_nik[NIK_ONLY_DESA]["nama_lengkap"].startswith("'=")  # CSV injection neutralised
    assert by_nik[NIK_DIFF]["kolom_berbeda"] == "nama_lengkap"
    assert outbox(wh)[0]["status"] == "sent"  # waiting for the agency's receipt

    (receipt,) = process_drop_folder(drop, _public(signing_key), "disdukcapil")
    assert receipt["status"] == "accepted"
    service.collect_receipts(wh, agreements, now=T0 + timedelta(minutes=5))
    row = outbox(wh)[0]
    assert row["status"] == "receipted" and row["receipt_sha256"]
    assert _statuses(wh, queued["delivery_id"]) == ["queued", "sent", "receipted"]
    log = wh.query("select * from ops.exchange_log where status = 'receipted'")[0]
    assert log["manifest_sha256"] == queued["manifest_sha256"]
    assert log["purpose"] == "pemutakhiran data kependudukan"


def test_default_deny_when_the_dataset_returns_more_columns(
    wh: Any, simpul_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = datasets.DATASETS["penduduk_selisih_siak"]
    leaky = ds.build

    def build(w: Any, params: dict) -> datasets.DatasetResult:
        res = leaky(w, params)
        n = res.table.num_rows
        res.table = res.table.append_column("nama_ibu", pa.array(["IBU"] * n, pa.string()))
        return res

    monkeypatch.setitem(
        datasets.DATASETS, ds.name, datasets.Dataset(**{**ds.__dict__, "build": build})
    )
    agreements = agreements_for(
        {}, dukcapil={"datasets": {"penduduk_selisih_siak": {"columns": ["nik", "kode_desa"]}}}
    )
    row = service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
    path = Path(row["path"])
    manifest = json.loads((path / MANIFEST).read_bytes())
    assert [c["name"] for c in manifest["files"][0]["schema"]] == ["nik", "kode_desa"]
    text = (path / manifest["files"][0]["name"]).read_text()
    assert "nama_ibu" not in text and "IBU" not in text and "WARGA" not in text
    with pytest.raises(Exception, match="not granted"):
        service.prepare(wh, agreements, "dukcapil", "meninggal_penerima_bantuan", now=T0)


def test_rest_outage_then_delivered_exactly_once(
    wh: Any, signing_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DINSOS_TOKEN", "tkn")
    with RestReceiver(_public(signing_key), token="tkn", fail_first=3) as receiver:
        agreements = agreements_for(
            {"dinsos": {"type": "rest", "url": receiver.url, "token_env": "DINSOS_TOKEN"}}
        )
        now = T0
        row = service.prepare(wh, agreements, "dinsos", "meninggal_penerima_bantuan", now=now)
        outcomes = []
        for _ in range(6):  # the hub retries hourly here; backoff decides what is due
            outcomes += [a.outcome for a in service.dispatch(wh, agreements, now=now)]
            now += timedelta(hours=1)
    assert outcomes == ["retry", "retry", "retry", "receipted"]
    assert receiver.requests == 4 and len(receiver.accepted) == 1 and receiver.duplicates == 0
    (o,) = outbox(wh)
    assert o["status"] == "receipted" and o["attempts"] == 4
    assert _statuses(wh, row["delivery_id"]).count("sent") == 1
    assert _statuses(wh, row["delivery_id"]).count("attempt_failed") == 3
    assert service.backoff(1) < service.backoff(2) < service.backoff(3)
    # only the deceased resident is on the Dinsos list, with the granted columns only
    rows = pq.read_table(Path(row["path"]) / "meninggal_penerima_bantuan.parquet").to_pylist()
    assert rows == [{"nik": NIK_DEAD, "program": "PKH", "periode": "2026-Q3"}]


def test_crash_after_send_is_deduplicated_by_the_receiver(
    wh: Any, signing_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = send.record_success
    calls = {"n": 0}

    def crash_once(*args: Any, **kwargs: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemExit("hub crashed after sending")
        return real(*args, **kwargs)

    monkeypatch.setattr(send, "record_success", crash_once)
    with RestReceiver(_public(signing_key)) as receiver:
        agreements = agreements_for({"dukcapil": {"type": "rest", "url": receiver.url}})
        row = service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
        with pytest.raises(SystemExit):
            service.dispatch(wh, agreements, now=T0)
        assert outbox(wh)[0]["status"] == "pending"  # not recorded as sent
        assert service.dispatch(wh, agreements, now=T0 + timedelta(minutes=1)) == []  # leased
        later = T0 + LEASE + timedelta(seconds=1)
        (attempt,) = service.dispatch(wh, agreements, now=later)
    assert attempt.outcome == "receipted"
    assert len(receiver.accepted) == 1 and receiver.duplicates == 1
    (o,) = outbox(wh)
    assert o["receipt_sha256"] and o["attempts"] == 2
    assert _statuses(wh, row["delivery_id"]) == ["queued", "sent", "receipted"]


def test_folder_resend_skips_an_existing_delivery(wh: Any, simpul_home: Path) -> None:
    from simpul.exchange import channels

    agreements = agreements_for({})
    row = service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
    out = send.outgoing(row)
    ch = agreements.agreements["dukcapil"].channel
    first = channels.send_folder(ch, out)
    second = channels.send_folder(ch, out)
    assert "waiting" in first.detail and "already" in second.detail
    drop = simpul_home / "drop" / "dukcapil"
    assert [p.name for p in drop.iterdir()] == [row["delivery_id"]]


def test_empty_assistance_list_is_still_delivered_with_a_note(
    wh: Any, simpul_home: Path, signing_key: Any
) -> None:
    with wh.begin() as conn:
        conn.exec_driver_sql("DELETE FROM core.penerima_bantuan")
    agreements = agreements_for({})
    result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    (queued,) = result["queued"]
    manifest = verify(Path(queued["path"]), _public(signing_key))
    assert manifest["rows"] == 0 and manifest["files"][0]["rows"] == 0
    assert any("kosong" in n for n in manifest["notes"])
    assert (simpul_home / "drop" / "dinsos" / queued["delivery_id"] / MANIFEST).exists()


def test_audit_what_an_agency_received_about_a_person(wh: Any, simpul_home: Path) -> None:
    agreements = agreements_for({})
    service.run(wh, agreements, now=T0)
    got = disclosures_for_nik(wh, NIK_ONLY_DESA, "disdukcapil")
    assert len(got) == 1
    assert got[0]["agreement"] == "dukcapil" and got[0]["sent_at"] is not None
    assert got[0]["legal_basis"] == "UU 24/2013; PKS"
    assert disclosures_for_nik(wh, NIK_SAME, "disdukcapil") == []  # not in any delivery
    assert disclosures_for_nik(wh, NIK_OUTSIDE, "disdukcapil") == []  # filtered out
    assert disclosures_for_nik(wh, NIK_ONLY_DESA, "dinsos") == []  # other agency
    assert len(disclosures_for_nik(wh, NIK_DEAD, "dinsos")) == 1
    assert disclosures_for_nik(wh, NIK_ALIVE, "dinsos") == []
    pseudonym = pseudonymise(NIK_ONLY_DESA, PSEUDONYM_KEY.encode(), "nik")
    assert disclosures_by_pseudonym(wh, pseudonym or "")[0]["agency"] == "disdukcapil"
    # no raw NIK in the exchange tables
    for table in ("ops.exchange_log", "ops.exchange_outbox", "ops.exchange_disclosures"):
        dump = json.dumps(wh.query(f"select * from {table}"), default=str)
        assert NIK_ONLY_DESA not in dump and NIK_DEAD not in dump


def test_delta_mode_sends_only_new_or_changed_rows(wh: Any, simpul_home: Path) -> None:
    agreements = agreements_for({}, dukcapil={"mode": "delta"})
    first = service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
    with pytest.raises(Unchanged, match="no new rows"):  # nothing new: nothing sent
        service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
    with wh.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE core.penduduk_versions SET nama_lengkap = 'SITI A' "
            "WHERE nama_lengkap = 'SITI AMINAH'"
        )
    second = service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
    assert (first["rows"], second["rows"]) == (2, 1)
    manifest = json.loads((Path(second["path"]) / MANIFEST).read_bytes())
    assert manifest["delta_base_delivery_id"] == first["delivery_id"]


def test_exchange_log_is_append_only_on_postgres(wh: Any, simpul_home: Path) -> None:
    if wh.dialect != "postgresql":
        pytest.skip("the trigger is PostgreSQL only")
    service.prepare(wh, agreements_for({}), "dinsos", "meninggal_penerima_bantuan", now=T0)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), wh.begin() as conn:
        conn.exec_driver_sql("UPDATE ops.exchange_log SET status = 'x'")


def test_withdrawn_agreement_cancels_queued_delivery(wh: Any, simpul_home: Path) -> None:
    agreements = agreements_for({})
    service.prepare(wh, agreements, "dinsos", "meninggal_penerima_bantuan", now=T0)
    del agreements.agreements["dinsos"]
    (attempt,) = service.dispatch(wh, agreements, now=T0)
    assert attempt.outcome == "cancelled"
    assert list((simpul_home / "drop" / "dinsos").iterdir()) == []


def test_time_to_fix_per_source(wh: Any) -> None:
    from simpul.exchange.feedback import time_to_fix

    rows = {
        r["source"]: r
        for r in time_to_fix(wh, now=T0 + timedelta(days=2), agencies={"siak": "Disdukcapil"})
    }
    assert rows["siak"]["agency"] == "Disdukcapil"
    assert (rows["siak"]["resolved"], rows["siak"]["open"]) == (2, 1)
    assert rows["siak"]["median_hours_to_fix"] == 24.5  # 24 h and 25 h
    assert rows["siak"]["oldest_open_hours"] == 48.0
    assert rows["opensid"]["resolved"] == 0 and rows["opensid"]["median_hours_to_fix"] is None


def test_feedback_report_goes_to_its_own_source(wh: Any, simpul_home: Path) -> None:
    agreements = agreements_for(
        {},
        dukcapil={
            "datasets": {
                "laporan_mutu_data": {
                    "columns": ["load_id", "baris", "kunci_data", "alasan"],
                    "params": {"source": "siak"},
                }
            }
        },
    )
    report_dir = simpul_home / "reports" / "L1"
    report_dir.mkdir(parents=True)
    (report_dir / "laporan_mutu_data.html").write_text("<html>ringkasan</html>")
    (report_dir / "laporan_mutu_data.csv").write_text(
        "baris,berkas,kunci_data,kolom,aturan,tingkat,alasan,reason\n"
        "1,f.xlsx,0016080101,nik,nik_format,error,x,x\n"  # resolved since: not in the data
        "2,f.xlsx,=cmd,nik,nik_format,error,x,x\n"
        "2,f.xlsx,=cmd,nama,nama_pendek,warning,w,w\n"  # a warning: severity not granted
        "5,f.xlsx,0016080105,nama,nama_pendek,warning,w,w\n"  # loaded with a warning
    )
    row = service.prepare(wh, agreements, "dukcapil", "laporan_mutu_data", now=T0)
    manifest = json.loads((Path(row["path"]) / MANIFEST).read_bytes())
    rows = _csv_rows(Path(row["path"]) / manifest["files"][0]["name"])
    assert [r["load_id"] for r in rows] == ["L1"]  # open siak rows only, not opensid's
    roles = {f["name"]: f["role"] for f in manifest["files"][1:]}
    # the row-level CSV only; the load-wide summary covers more than the grant
    assert roles == {"lampiran_L1_laporan_mutu_data.csv": "attachment"}
    assert any("summary not attached" in n for n in manifest["notes"])
    attached = _csv_rows(Path(row["path"]) / "lampiran_L1_laporan_mutu_data.csv")
    # granted columns only, granted severity only, rows of this delivery only
    assert attached == [{"baris": "2", "kunci_data": "'=cmd", "alasan": "x"}]


def test_a_changed_outbox_copy_is_never_sent(wh: Any, simpul_home: Path) -> None:
    agreements = agreements_for({})
    row = service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
    data = Path(row["path"]) / "penduduk_selisih_siak.csv"
    data.write_text(data.read_text().replace("SITI", "SITA"))
    (attempt,) = service.dispatch(wh, agreements, now=T0)
    assert attempt.outcome == "tampered"
    assert outbox(wh)[0]["status"] == "tampered"
    assert list((simpul_home / "drop" / "dukcapil").iterdir()) == []
