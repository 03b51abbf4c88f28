"""Drop folders nobody trusts (connectors/base/drop.py), with real files on disk: the file
ledger, complete files only, symlinks, lock files and ZIP limits."""

from __future__ import annotations

import io
import os
import threading
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

from connectors.base.contract import ReadResult
from connectors.base.drop import DropLimits, FileDrop, FileRejected
from connectors.base.zip_drop import zip_members
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


def read(connector, result: ReadResult | None = None) -> tuple[list[dict], ReadResult]:
    result = result or ReadResult()
    rows = [r for b in connector.read("penerima_bantuan", since=None, result=result)
            for r in b.to_pylist()]  # fmt: skip
    return rows, result


def by_name(result: ReadResult) -> dict[str, dict]:
    return {f["name"]: f for f in result.files}


def test_lock_partial_temporary_and_hidden_files_are_ignored(tmp_path: Path) -> None:
    for name in ("~$bantuan.csv", "bantuan.csv.part", "x.tmp", ".hidden.csv", "ok.csv"):
        (tmp_path / name).write_text(csv_text(1))
    rows, result = read(DinsosDropConnector(str(tmp_path), patterns=("*",)))
    assert len(rows) == 1 and list(by_name(result)) == ["ok.csv"]


def test_symlinks_are_refused_never_followed_and_never_echoed(tmp_path: Path) -> None:
    drop, outside = tmp_path / "drop", tmp_path / "outside"
    drop.mkdir()
    outside.mkdir()
    (outside / "other.csv").write_text(csv_text(5))
    secret = outside / ".env"
    secret.write_text("SIMPUL_SIAK_CLIENT_SECRET=hunter2-very-secret\n")
    (drop / "linked.csv").symlink_to(outside / "other.csv")
    (drop / "env.csv").symlink_to(secret)
    (drop / "good.csv").write_text(csv_text(2))
    rows, result = read(DinsosDropConnector(str(drop)))
    assert len(rows) == 2  # nothing from outside the drop
    files = by_name(result)
    assert files["linked.csv"]["status"] == files["env.csv"]["status"] == "rejected"
    assert "symbolic link" in files["env.csv"]["reason_en"] and files["env.csv"]["reason_id"]
    assert "hunter2" not in repr(result.files)


def test_a_file_still_being_written_waits_for_the_next_run(tmp_path: Path) -> None:
    growing = tmp_path / "growing.csv"
    growing.write_text(csv_text(3))

    def append() -> None:
        time.sleep(0.3)
        with growing.open("a") as fh:
            fh.write("\n1608011301950099;1608010101100001;WARGA;PKH;2026-Q3;1608012006;1")

    t = threading.Thread(target=append)
    t.start()
    rows, result = read(DinsosDropConnector(str(tmp_path), settle_seconds=1.0))
    t.join()
    assert rows == [] and by_name(result)["growing.csv"]["status"] == "waiting"
    # settled now (and old enough): the whole file is taken
    os.utime(growing, (time.time() - 10, time.time() - 10))
    rows, result = read(DinsosDropConnector(str(tmp_path), settle_seconds=1.0))
    assert len(rows) == 4


def test_a_done_marker_means_complete_without_waiting(tmp_path: Path) -> None:
    (tmp_path / "bantuan.csv").write_text(csv_text(2))
    (tmp_path / "bantuan.csv.done").write_text("")
    started = time.monotonic()
    rows, _ = read(DinsosDropConnector(str(tmp_path), settle_seconds=30))
    assert len(rows) == 2 and time.monotonic() - started < 10


def test_the_ledger_skips_known_content_and_takes_old_mtimes(tmp_path: Path) -> None:
    f = tmp_path / "bantuan.csv"
    f.write_text(csv_text(3))
    connector = DinsosDropConnector(str(tmp_path))
    _, first = read(connector)
    sha = first.files[0]["sha256"]
    connector.known = {sha: "dinsos.penerima_bantuan.1"}
    rows, again = read(connector)
    assert rows == [] and again.files[0]["status"] == "skipped"
    assert again.files[0]["reason_en"].endswith("already loaded as dinsos.penerima_bantuan.1")
    # same name, changed content, mtime in 2001: a correction, read
    f.write_text(csv_text(4))
    os.utime(f, (1_000_000_000, 1_000_000_000))
    rows, third = read(connector)
    assert len(rows) == 4 and third.files[0]["status"] == "new"


def test_file_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_text(csv_text(50))
    rows, result = read(DinsosDropConnector(str(tmp_path), limits=DropLimits(max_file_bytes=100)))
    assert rows == [] and "max_file_bytes" in result.files[0]["reason_en"]


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("members", "limits", "word"),
    [
        ({"../../etc/evil.xlsx": b"x"}, DropLimits(), "'..'"),
        ({"/abs/evil.xlsx": b"x"}, DropLimits(), "absolute"),
        ({f"m{i}.xlsx": b"x" for i in range(5)}, DropLimits(max_members=4), "max_members"),
        ({"big.xlsx": bytes(8 * 1024**2)}, DropLimits(), "max_ratio"),
        ({"a.xlsx": b"x" * 5000}, DropLimits(max_uncompressed_bytes=4000), "uncompressed"),
    ],
)
def test_zip_paths_and_limits_are_refused_before_decompressing(members, limits, word) -> None:
    data = _zip(members)
    with pytest.raises(FileRejected, match=word):
        list(zip_members("drop.zip", data, (".xlsx",), limits))


def test_filedrop_spills_each_file_so_a_broken_one_lands_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "b.csv").write_text("y")
    drop = FileDrop(str(tmp_path), ("*.csv",))
    outcomes: list[dict] = []

    def reader(f, fh):
        yield pa.record_batch({"v": pa.array(["1"])})
        if f.name == "a.csv":
            raise FileRejected("a.csv: broken half-way", "a.csv: rusak di tengah")

    batches = list(drop.read_each(outcomes, reader))
    assert sum(b.num_rows for b in batches) == 1
    assert {o["name"]: o["status"] for o in outcomes} == {"a.csv": "rejected", "b.csv": "new"}
