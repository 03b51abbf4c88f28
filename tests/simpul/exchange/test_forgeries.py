"""Evidence both sides can trust: each forgery from issue 15 is refused.

Receipts are signed by the agency's own key and verified by the hub against the key in the
agreement; the reference receiver checks folder name, delivery id, addressee, replays and
unlisted content; REST idempotency is by the signed delivery id; credentials never travel
to another origin and never sit inside a URL."""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from simpul.exchange import channels, send, service
from simpul.exchange.errors import ChannelUnavailable, ExchangeConfigError
from simpul.exchange.receiver import RestReceiver, process_drop_folder
from simpul.exchange.signing import public_key_b64
from simpul.exchange.store import outbox

from .conftest import T0, agreements_for


def _public(key: Any) -> str:
    return public_key_b64(key.public_key())


@pytest.fixture
def agency_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _deliver_to_folder(wh: Any, agency_key: Any, **dinsos: Any) -> tuple[Any, dict, Path]:
    agreements = agreements_for({}, dinsos={"receipt_key": _public(agency_key), **dinsos})
    result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    (q,) = result["queued"]
    return agreements, q, Path(agreements.agreements["dinsos"].channel.resolved_url())


def test_a_receipt_written_by_anyone_with_folder_access_is_refused(
    wh: Any, signing_key: Any, agency_key: Any
) -> None:
    agreements, q, root = _deliver_to_folder(wh, agency_key)
    forged = {
        "delivery_id": q["delivery_id"],
        "manifest_sha256": q["manifest_sha256"],
        "receiver": "dinsos",
        "status": "accepted",
    }
    (root / "_receipts").mkdir()
    (root / "_receipts" / f"{q['delivery_id']}.json").write_text(json.dumps(forged))
    (refused,) = service.collect_receipts(wh, agreements, now=T0)
    assert refused.outcome == "refused"
    assert outbox(wh)[0]["status"] == "sent"  # not receipted: the deadline keeps running
    # signed, but with someone else's key: refused too
    process = process_drop_folder  # the agency's genuine receiver, with its own key
    (root / "_receipts" / f"{q['delivery_id']}.json").unlink()
    process(root, _public(signing_key), "x", addressee="dinsos", key=Ed25519PrivateKey.generate())
    assert service.collect_receipts(wh, agreements, now=T0)[0].outcome == "refused"
    (root / "_receipts" / f"{q['delivery_id']}.json").unlink()
    (root / "_receipts" / "_seen.txt").unlink()
    process(root, _public(signing_key), "dinsos", addressee="dinsos", key=agency_key)
    assert service.collect_receipts(wh, agreements, now=T0)[0].outcome == "receipted"
    assert outbox(wh)[0]["status"] == "receipted"
    log = [r["status"] for r in wh.query("select status from ops.exchange_log order by logged_at")]
    assert log.count("receipt_refused") == 1 and log[-1] == "receipted"


def test_an_old_delivery_copied_under_a_new_folder_name_is_refused(
    wh: Any, signing_key: Any, agency_key: Any
) -> None:
    _, q, root = _deliver_to_folder(wh, agency_key)
    shutil.copytree(root / q["delivery_id"], root / "11111111-2222-3333-4444-555555555555")
    (root / q["delivery_id"]).rename(root / ".archived")  # the original already handled
    (receipt,) = process_drop_folder(root, _public(signing_key), "dinsos", addressee="dinsos")
    assert receipt["status"] == "rejected" and "folder name" in receipt["reason"]


def test_a_dinsos_delivery_dropped_in_a_village_folder_is_refused(
    wh: Any, signing_key: Any, agency_key: Any, simpul_home: Path
) -> None:
    _, q, root = _deliver_to_folder(wh, agency_key)
    village = simpul_home / "drop" / "desa" / "16.08.01.2006"
    village.mkdir(parents=True)
    shutil.copytree(root / q["delivery_id"], village / q["delivery_id"])
    (receipt,) = process_drop_folder(
        village, _public(signing_key), "desa", addressee="pemdes/16.08.01.2006"
    )
    assert receipt["status"] == "rejected" and "addressed to 'dinsos'" in receipt["reason"]


def test_a_replayed_delivery_id_is_refused(wh: Any, signing_key: Any, agency_key: Any) -> None:
    _, q, root = _deliver_to_folder(wh, agency_key)
    copy = root.parent / "copy"
    shutil.copytree(root / q["delivery_id"], copy)
    (first,) = process_drop_folder(root, _public(signing_key), "dinsos", addressee="dinsos")
    assert first["status"] == "accepted"
    # the agency archives the delivery and its receipt; an old copy is dropped again
    shutil.rmtree(root / q["delivery_id"])
    (root / "_receipts" / f"{q['delivery_id']}.json").unlink()
    shutil.copytree(copy, root / q["delivery_id"])
    (again,) = process_drop_folder(root, _public(signing_key), "dinsos", addressee="dinsos")
    assert again["status"] == "rejected" and "replay" in again["reason"]


def test_a_delivery_with_an_unlisted_subdirectory_is_refused(
    wh: Any, signing_key: Any, agency_key: Any
) -> None:
    _, q, root = _deliver_to_folder(wh, agency_key)
    (root / q["delivery_id"] / "extra").mkdir()
    (root / q["delivery_id"] / "extra" / "payload.csv").write_text("nik\n1608010101900001\n")
    (receipt,) = process_drop_folder(root, _public(signing_key), "dinsos", addressee="dinsos")
    assert receipt["status"] == "rejected" and "unlisted" in receipt["reason"]


def test_a_rest_envelope_resent_under_a_new_idempotency_key_is_refused(
    wh: Any, signing_key: Any, agency_key: Any
) -> None:
    with RestReceiver(_public(signing_key), addressee="dinsos", key=agency_key) as receiver:
        agreements = agreements_for(
            {"dinsos": {"type": "rest", "url": receiver.url}},
            dinsos={"receipt_key": _public(agency_key)},
        )
        result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
        assert [a.outcome for a in result["attempts"]] == ["receipted"]
        out = send.outgoing(result["queued"][0])
        envelope = channels.rest_envelope(out)
        for new_key in ("b8e0c0aa-0000-4000-8000-000000000001", "another-key"):
            envelope["delivery_id"] = new_key
            resp = requests.post(
                receiver.url,
                data=json.dumps(envelope),
                headers={"Idempotency-Key": new_key},
                timeout=10,
            )
            assert resp.status_code == 422, resp.text
        # the same delivery again is answered with the first receipt, stored once
        envelope["delivery_id"] = out.delivery_id
        resp = requests.post(
            receiver.url,
            data=json.dumps(envelope),
            headers={"Idempotency-Key": out.delivery_id},
            timeout=10,
        )
        assert resp.status_code == 200 and receiver.duplicates == 1
    assert list(receiver.accepted) == [out.delivery_id]


def test_a_rest_delivery_for_another_agency_is_refused(wh: Any, signing_key: Any) -> None:
    with RestReceiver(_public(signing_key), addressee="pemdes") as receiver:
        agreements = agreements_for({"dinsos": {"type": "rest", "url": receiver.url}})
        result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    assert [a.outcome for a in result["attempts"]] == ["retry"]
    assert receiver.accepted == {}


def test_credentials_never_sit_in_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="credentials"):
        agreements_for({"dinsos": {"type": "rest", "url": "https://hub:s3cret@dinsos.example/x"}})
    monkeypatch.setenv("DINSOS_URL", "https://hub:s3cret@dinsos.example/x")
    agreements = agreements_for({"dinsos": {"type": "rest", "url_env": "DINSOS_URL"}})
    with pytest.raises(ExchangeConfigError, match="DINSOS_URL") as err:
        agreements.agreements["dinsos"].channel.resolved_url()
    assert "s3cret" not in str(err.value)


class _Recorder:
    """A server on another origin that records the Authorization headers it receives."""

    def __init__(self) -> None:
        self.auth: list[str | None] = []
        rec = self

        class H(BaseHTTPRequestHandler):
            def _any(self) -> None:
                rec.auth.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _any  # noqa: N815

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/steal"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_channel_token_is_never_sent_to_another_origin(
    wh: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = _Recorder()

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", other.url)
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DINSOS_TOKEN", "tok-secret-123456")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/deliveries"
        agreements = agreements_for(
            {"dinsos": {"type": "rest", "url": url, "token_env": "DINSOS_TOKEN"}}
        )
        row = service.prepare(wh, agreements, "dinsos", "meninggal_penerima_bantuan", now=T0)
        with pytest.raises(ChannelUnavailable, match="307"):
            channels.send(agreements.agreements["dinsos"], send.outgoing(row))
    finally:
        server.shutdown()
        server.server_close()
        other.stop()
    assert other.auth == []


def test_the_agency_verifies_and_receipts_with_one_command(
    wh: Any,
    signing_key: Any,
    simpul_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from simpul.exchange.cli import add_parser

    def cli(argv: list[str]) -> int:
        parser = argparse.ArgumentParser(prog="simpul")
        add_parser(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        return args.func(args)

    key_file = tmp_path / "dinsos.key"
    assert cli(["exchange", "keygen", str(key_file)]) == 0
    agency_public = key_file.with_suffix(".pub").read_text().strip()
    agreements = agreements_for({}, dinsos={"receipt_key": agency_public})
    result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    root = simpul_home / "drop" / "dinsos"
    hub_pub = tmp_path / "hub.pub"
    hub_pub.write_text(_public(signing_key))
    argv = ["exchange", "receive", str(root), "--hub-public-key-file", str(hub_pub)]
    assert cli([*argv, "--addressee", "dinsos", "--key-file", str(key_file)]) == 0
    assert result["queued"][0]["delivery_id"] in capsys.readouterr().out
    (got,) = service.collect_receipts(wh, agreements, now=T0)
    assert got.outcome == "receipted"
    assert len(base64.b64decode(agency_public)) == 32  # only the public key reached the hub
