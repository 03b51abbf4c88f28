"""CSV drops are read in bounded memory: the peak RSS while reading a CSV through the real
connector does not grow with the file (a 300 MB CSV used to take 2.3 GB before the first
batch). Two files, 4x apart in size, each read in its own subprocess (VmHWM)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROW = (
    "1608011301900001;1608010101100001;NAMA WARGA YANG CUKUP PANJANG;PKH;2026-Q3;"
    "1608012006;750000\n"
)


def _peak(drop: Path, size_mb: int) -> tuple[int, int]:
    drop.mkdir()
    with (drop / "besar.csv").open("w") as fh:
        fh.write("NIK;NO_KK;NAMA;PROGRAM;PERIODE;KODE_DESA;NOMINAL\n")
        block = ROW * 10_000
        for _ in range(size_mb * 1024**2 // len(block)):
            fh.write(block)
    script = textwrap.dedent(
        f"""
        import re
        from connectors.base.contract import ReadResult
        from connectors.dinsos import DinsosDropConnector

        rows = 0
        for b in DinsosDropConnector({str(drop)!r}).read(
            "penerima_bantuan", since=None, result=ReadResult()
        ):
            rows += b.num_rows
        text = open("/proc/self/status").read()
        print(rows, int(re.search(r"VmHWM:\\s+(\\d+)", text).group(1)) // 1024)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_a_large_csv_is_read_in_bounded_memory(tmp_path: Path) -> None:
    small_rows, small = _peak(tmp_path / "small", 15)
    big_rows, big = _peak(tmp_path / "big", 60)
    assert big_rows > 3 * small_rows > 400_000
    print(f"\npeak RSS: 15 MB CSV {small} MB, 60 MB CSV {big} MB")
    assert big - small < 30, (small, big)  # the old reader grew by > 4x the 45 MB difference
