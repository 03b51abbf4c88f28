"""The exchange outbox in S3-compatible object storage (moto's real HTTP server): a delivery
built on one host is sent by a dispatcher on another, and a copy changed in the bucket is
never sent."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from simpul.exchange import service
from simpul.exchange.signing import MANIFEST, SIGNATURE, public_key_b64, verify
from simpul.exchange.store import outbox
from tests.storage.conftest import s3_env, s3_server  # noqa: F401 - fixtures

from .conftest import T0, agreements_for


@pytest.fixture
def shared_outbox(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> dict:  # noqa: F811
    monkeypatch.setenv("SIMPUL_OUTBOX_URL", f"{s3_env}/outbox")
    from simpul.storage import filesystem

    fs, _ = filesystem(s3_env)
    return {"fs": fs, "prefix": f"{s3_env.removeprefix('s3://')}/outbox"}


def test_delivery_built_on_one_host_is_sent_from_another(
    wh: Any, simpul_home: Path, signing_key: Any, shared_outbox: dict
) -> None:
    fs, prefix = shared_outbox["fs"], shared_outbox["prefix"]
    agreements = agreements_for({})
    row = service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
    delivery = row["delivery_id"]
    stored = {p.rsplit("/", 1)[-1] for p in fs.find(f"{prefix}/{delivery}")}
    assert {MANIFEST, SIGNATURE} <= stored and len(stored) == 3
    assert not (simpul_home / "outbox").exists()

    shutil.rmtree(simpul_home / "cache")  # the dispatcher runs on another worker host
    (attempt,) = service.dispatch(wh, agreements, now=T0 + timedelta(minutes=1))
    assert attempt.outcome == "sent", attempt
    delivered = simpul_home / "drop" / "dukcapil" / delivery
    manifest = verify(delivered, public_key_b64(signing_key.public_key()))
    assert manifest["rows"] == row["rows"] == 2


def test_copy_changed_in_the_bucket_is_never_sent(
    wh: Any, simpul_home: Path, signing_key: Any, shared_outbox: dict
) -> None:
    fs, prefix = shared_outbox["fs"], shared_outbox["prefix"]
    agreements = agreements_for({})
    row = service.prepare(wh, agreements, "dukcapil", "penduduk_selisih_siak", now=T0)
    data = next(
        p
        for p in fs.find(f"{prefix}/{row['delivery_id']}")
        if not p.endswith((MANIFEST, SIGNATURE))
    )
    fs.pipe_file(data, b"nik,nama_lengkap\n1608010101010001,FORGED\n")
    shutil.rmtree(simpul_home / "cache")
    (attempt,) = service.dispatch(wh, agreements, now=T0 + timedelta(minutes=1))
    assert attempt.outcome == "tampered"
    assert outbox(wh)[0]["status"] != "sent"
    assert not (simpul_home / "drop" / "dukcapil" / row["delivery_id"]).exists()
