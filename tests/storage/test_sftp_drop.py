"""File drops read over SFTP from a real OpenSSH server (a private sshd on a test port).

The drop rules of connectors/base/drop.py hold remotely: lock and partial files are ignored,
symbolic links are refused without being followed, ZIP paths and limits are checked before
anything is decompressed, and content already loaded is skipped on the next run.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from connectors.base.contract import ReadResult
from connectors.dinsos import DinsosDropConnector

HEADER = "NIK;NO_KK;NAMA;PROGRAM;PERIODE;KODE_DESA;NOMINAL"


def csv_text(n: int, start: int = 1) -> str:
    return "\n".join(
        [HEADER]
        + [
            f"1608011301{90 + i % 10:02d}{i:04d};1608010101100001;WARGA;PKH;2026-Q3;1608012006;1"
            for i in range(start, start + n)
        ]
    )


@pytest.fixture
def sftp_drop(sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """An empty drop folder on the SFTP server: (its path there, its sftp:// URL). The key and
    host key come from the environment as an operator sets them; the URL has no secret."""
    monkeypatch.setenv("SIMPUL_SFTP_KEY_FILE", str(sshd["client_key"]))
    monkeypatch.setenv("SIMPUL_SFTP_KNOWN_HOSTS", str(sshd["known_hosts"]))
    drop = tmp_path / "sftp-root" / "dinsos"
    drop.mkdir(parents=True)
    return drop, f"sftp://{sshd['user']}@127.0.0.1:{sshd['port']}{drop}"


def read(connector) -> tuple[list[dict], dict[str, dict]]:
    result = ReadResult()
    rows = [r for b in connector.read("penerima_bantuan", since=None, result=result)
            for r in b.to_pylist()]  # fmt: skip
    return rows, {f["name"]: f for f in result.files}


def test_drop_rules_hold_over_sftp(sftp_drop, tmp_path: Path) -> None:
    drop, url = sftp_drop
    (drop / "bantuan.csv").write_text(csv_text(3))
    for name in ("~$bantuan.csv", "upload.csv.part", ".hidden.csv"):
        (drop / name).write_text(csv_text(1, 50))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".env").write_text("SIMPUL_SIAK_CLIENT_SECRET=hunter2-very-secret\n")
    (drop / "env.csv").symlink_to(outside / ".env")
    connector = DinsosDropConnector(url)
    rows, files = read(connector)
    assert len(rows) == 3
    assert sorted(files) == ["bantuan.csv", "env.csv"]
    assert files["bantuan.csv"]["status"] == "new" and files["bantuan.csv"]["rows"] == 3
    assert files["bantuan.csv"]["path"].startswith("sftp://")
    assert files["env.csv"]["status"] == "rejected"
    assert "symbolic link" in files["env.csv"]["reason_en"] and files["env.csv"]["reason_id"]
    assert "hunter2" not in repr(files)

    # the ledger: content already loaded is skipped, whatever its name or time
    connector.known = {f["sha256"]: "dinsos.penerima_bantuan.x.1" for f in files.values()
                       if f["status"] == "new"}  # fmt: skip
    (drop / "bantuan-copy.csv").write_text(csv_text(3))
    rows, files = read(connector)
    assert rows == []
    assert files["bantuan-copy.csv"]["status"] == "skipped"


def test_zip_paths_are_checked_before_decompressing_over_sftp(sftp_drop) -> None:
    import pyarrow as pa

    from connectors.base.drop import DropLimits, FileDrop
    from connectors.base.zip_drop import zip_members

    drop, url = sftp_drop
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.csv", csv_text(2, 100))
    (drop / "evil.zip").write_bytes(evil.getvalue())
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("kecamatan/tambahan.csv", csv_text(2, 200))
    (drop / "tambahan.zip").write_bytes(good.getvalue())

    def members(f, fh):
        names = [name for name, _ in zip_members(f.name, fh, (".csv",), DropLimits())]
        yield pa.record_batch({"member": names})

    outcomes: list[dict] = []
    batches = list(FileDrop(url, ("*.zip",)).read_each(outcomes, members))
    assert [r["member"] for b in batches for r in b.to_pylist()] == ["kecamatan/tambahan.csv"]
    by_name = {o["name"]: o for o in outcomes}
    assert by_name["evil.zip"]["status"] == "rejected"
    assert "'..'" in by_name["evil.zip"]["reason_en"] and by_name["evil.zip"]["reason_id"]


def test_a_file_larger_than_the_limit_is_refused_unread(sftp_drop) -> None:
    from connectors.base.drop import DropLimits

    drop, url = sftp_drop
    (drop / "besar.csv").write_text(csv_text(40))
    connector = DinsosDropConnector(url, limits=DropLimits(max_file_bytes=200))
    rows, files = read(connector)
    assert rows == [] and files["besar.csv"]["status"] == "rejected"
    assert "max_file_bytes" in files["besar.csv"]["reason_en"]


def test_unknown_host_key_is_refused(sftp_drop, tmp_path: Path, monkeypatch) -> None:
    """A server whose host key is not the one on record is never trusted with a drop."""
    _, url = sftp_drop
    other = tmp_path / "known_hosts"
    other.write_text(
        "[127.0.0.1]:19202 ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIGbHqXgr3vM4R0aK1XWbQk0w0Wq6V5uH8k8t1tq8y0bS\n"
    )
    monkeypatch.setenv("SIMPUL_SFTP_KNOWN_HOSTS", str(other))
    with pytest.raises(Exception) as info:
        read(DinsosDropConnector(url))
    assert "host key" in str(info.value).lower() or "HostKey" in type(info.value).__name__


def test_dinsos_pipeline_from_sftp_into_object_storage(
    sftp_drop, s3_env: str, simpul_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scale-out end to end: the drop over SFTP, landing/staging/reports in S3; the rerun
    finds nothing new and changes nothing."""
    from simpul import pipeline
    from simpul.storage import filesystem
    from simpul.warehouse import open_warehouse

    drop, url = sftp_drop
    monkeypatch.setenv("SIMPUL_DINSOS_DROP", url)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
    for area in ("landing", "staging", "reports", "outbox"):
        monkeypatch.setenv(f"SIMPUL_{area.upper()}_URL", f"{s3_env}/{area}")
    (drop / "bantuan_2026q3.csv").write_text(csv_text(4))

    first = pipeline.run("dinsos_penerima_bantuan")
    assert first["status"] == "loaded" and first["rows_loaded"] == 4
    fs, _ = filesystem(s3_env)
    bucket = s3_env.removeprefix("s3://")
    sealed = fs.find(f"{bucket}/landing/dinsos/penerima_bantuan")
    assert any(p.endswith("_manifest.json") for p in sealed)
    assert any(p.endswith("data.parquet") for p in sealed)

    wh = open_warehouse()
    try:
        before = wh.query("select * from core.penerima_bantuan order by 1")
        again = pipeline.run("dinsos_penerima_bantuan")
        assert again["rows_loaded"] == 0
        assert wh.query("select * from core.penerima_bantuan order by 1") == before
        files = wh.query("select name, status from ops.files order by recorded_at")
        assert ("bantuan_2026q3.csv", "skipped") in {(f["name"], f["status"]) for f in files}
    finally:
        wh.dispose()


def test_landing_on_an_sftp_store(sshd, simpul_home: Path, tmp_path: Path, monkeypatch) -> None:
    """An SFTP server as the landing area: sealed there (manifest renamed into place last),
    read back on another host, checked against its SHA-256."""
    import shutil

    from connectors.base.contract import rows_to_batch
    from simpul import handoffs
    from simpul.config import paths
    from simpul.landing import find_manifest, land
    from tests.siak_rows import person

    monkeypatch.setenv("SIMPUL_SFTP_KEY_FILE", str(sshd["client_key"]))
    monkeypatch.setenv("SIMPUL_SFTP_KNOWN_HOSTS", str(sshd["known_hosts"]))
    remote = tmp_path / "sftp-landing"
    remote.mkdir()
    monkeypatch.setenv(
        "SIMPUL_LANDING_URL", f"sftp://{sshd['user']}@127.0.0.1:{sshd['port']}{remote}"
    )
    manifest = land(
        iter([rows_to_batch([person(i) for i in range(1, 4)])]),
        root=paths().landing,
        source="siak",
        stream="penduduk",
    )
    handoffs.publish_delivery(manifest.load_id)
    sealed = remote / "siak" / "penduduk" / manifest.load_id
    assert sorted(p.name for p in sealed.iterdir()) == ["_manifest.json", "data.parquet"]

    shutil.rmtree(simpul_home / "cache")
    assert handoffs.fetch_delivery(manifest.load_id)
    again = find_manifest(paths().landing, manifest.load_id)
    assert again.row_count == 3 and again.sha256 == manifest.sha256
