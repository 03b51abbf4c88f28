"""The Store itself against moto's S3 server: encryption at rest carries over to the bucket
(client-side Parquet encryption, server-side encryption when asked), and publishing puts the
commit file last."""

from __future__ import annotations

import pytest

from connectors.base.contract import rows_to_batch
from simpul.config import paths
from simpul.landing import find_manifest, land
from tests.siak_rows import person


def _land() -> str:
    from simpul.handoffs import publish_delivery

    manifest = land(
        iter([rows_to_batch([person(i) for i in range(1, 4)])]),
        root=paths().landing,
        source="siak",
        stream="penduduk",
        cursor_to="2026-10-01T08:00:00Z",
    )
    publish_delivery(manifest.load_id)
    return manifest.load_id


@pytest.fixture
def landing_in_s3(simpul_home, s3_env: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("SIMPUL_LANDING_URL", f"{s3_env}/landing")
    from simpul.storage import filesystem

    fs, _ = filesystem(s3_env)
    return {"fs": fs, "prefix": f"{s3_env.removeprefix('s3://')}/landing", "home": simpul_home}


def test_landed_parquet_stays_encrypted_in_the_bucket(landing_in_s3, monkeypatch) -> None:
    import shutil

    monkeypatch.setenv("SIMPUL_ENCRYPTION_KEY", "k" * 40)
    monkeypatch.setenv("SIMPUL_STORAGE_SSE", "AES256")
    fs, prefix = landing_in_s3["fs"], landing_in_s3["prefix"]
    load_id = _land()
    key = f"{prefix}/siak/penduduk/{load_id}/data.parquet"
    assert fs.cat_file(key)[-4:] == b"PARE"  # Parquet modular encryption, as on local disk
    head = fs.call_s3("head_object", Bucket=prefix.split("/")[0], Key=key.split("/", 1)[1])
    assert head["ServerSideEncryption"] == "AES256"

    shutil.rmtree(landing_in_s3["home"] / "cache")
    from simpul import atrest, handoffs

    assert handoffs.fetch_delivery(load_id)
    manifest = find_manifest(paths().landing, load_id)
    assert atrest.read_table(manifest.file).num_rows == 3


def test_commit_file_is_uploaded_last(landing_in_s3, monkeypatch) -> None:
    """Another host polling the bucket never sees a manifest before the data it names."""
    from simpul import storage

    order: list[str] = []
    st = storage.store("landing")
    real = st.fs.put_file

    def spy(lpath, rpath, *a, **kw):
        order.append(rpath.rsplit("/", 1)[-1])
        return real(lpath, rpath, *a, **kw)

    monkeypatch.setattr(st.fs, "put_file", spy)
    monkeypatch.setattr(storage, "store", lambda area: st)
    _land()
    assert order[-1] == "_manifest.json" and "data.parquet" in order


def test_unreachable_store_is_a_clear_operator_error(simpul_home, monkeypatch) -> None:
    """No stack trace, no credentials: the area and what failed, in both languages."""
    monkeypatch.setenv("SIMPUL_LANDING_URL", "s3://simpul-nowhere/landing")
    monkeypatch.setenv("SIMPUL_STORAGE_ENDPOINT_URL", "http://127.0.0.1:19299")
    monkeypatch.setenv("SIMPUL_STORAGE_KEY_ID", "id")
    monkeypatch.setenv("SIMPUL_STORAGE_SECRET", "very-secret-value")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    from simpul.storage import StorageError

    with pytest.raises(StorageError) as info:
        _land()
    text = str(info.value)
    assert "s3://simpul-nowhere/landing/siak/penduduk/" in text and "upload failed" in text
    assert "gagal mengunggah" in text and "very-secret-value" not in text


def test_check_reports_each_area(simpul_home, s3_env: str, monkeypatch, capsys) -> None:
    from simpul import storage

    monkeypatch.setenv("SIMPUL_LANDING_URL", f"{s3_env}/landing")
    monkeypatch.setenv("SIMPUL_OUTBOX_URL", "s3://no-such-bucket-simpul/outbox")
    assert storage.main() == 1
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert lines["landing"].endswith("ok") and lines["staging"].endswith("ok")
    assert "FAILED" in lines["outbox"] and "testing-secret" not in lines["outbox"]
    fs, root = storage.filesystem(s3_env)
    assert not [p for p in fs.find(root) if ".simpul-probe" in p]  # probes cleaned up
