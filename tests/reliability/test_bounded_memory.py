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


XLSX_SCRIPT = """
import json
import connectors.base.files as files
import connectors.base.xlsx_stream as xlsx_stream

files.BATCH_ROWS = 1000  # small batches, so what grows with the file stands out
files.STREAM_XLSX_BYTES = {threshold}
xlsx_stream.SST_IN_MEMORY_BYTES = 0  # shared strings spilled, as for a large workbook
import pyarrow, python_calamine, lxml.etree, openpyxl.styles.numbers, defusedxml  # imported


def status(key):
    text = open("/proc/self/status").read()
    return int(text.split(key + ":")[1].split()[0]) // 1024


try:  # reset the high-water mark, so import-time peaks do not hide the reading
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
before = status("VmRSS")
rows = 0
with open({path!r}, "rb") as fh:
    for b in files.read_excel(fh, "siak_export.xlsx", expect=("NIK", "Nama Penduduk")):
        rows += b.num_rows
print(json.dumps([rows, status("VmHWM") - before]))
"""


def _xlsx_peak(path: Path, streaming: bool) -> tuple[int, int]:
    import json

    script = XLSX_SCRIPT.format(threshold=0 if streaming else 1 << 62, path=str(path))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600
    ).stdout
    rows, peak = json.loads(out.strip().splitlines()[-1])
    return rows, peak


def test_a_large_xlsx_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """A large .xlsx is streamed (calamine holds the whole sheet): reading a workbook 4x larger
    costs (almost) no more memory, while calamine's peak grows with the sheet. Files on disk,
    a real SIAK-like export (37 columns, shared strings, title row), each read in its own
    subprocess (peak RSS from getrusage)."""
    from bench.xlsx_memory import write_siak_xlsx

    small = write_siak_xlsx(tmp_path / "small.xlsx", 4_000)
    big = write_siak_xlsx(tmp_path / "big.xlsx", 16_000)  # 0.7 MB and 3 MB
    assert big.stat().st_size > 3.5 * small.stat().st_size
    rows_s, stream_small = _xlsx_peak(small, streaming=True)
    rows_b, stream_big = _xlsx_peak(big, streaming=True)
    _, cal_small = _xlsx_peak(small, streaming=False)
    _, cal_big = _xlsx_peak(big, streaming=False)
    print(
        f"\nRSS growth while reading, MB: streaming {stream_small} -> {stream_big}, "
        f"calamine {cal_small} -> {cal_big} ({small.stat().st_size >> 10} KB -> "
        f"{big.stat().st_size >> 10} KB)"
    )
    assert (rows_s, rows_b) == (4_000, 16_000)
    assert stream_big - stream_small < 5, (stream_small, stream_big)  # flat (measured: +1)
    # the contrast: the whole-sheet reader grows with the file (so the test can tell)
    assert cal_big - cal_small > 15, (cal_small, cal_big)  # measured: +32 MB


def test_a_damaged_large_xlsx_is_a_clear_error_on_the_streaming_path(tmp_path, monkeypatch):
    """Broken XML halfway through the sheet, a truncated ZIP, or a missing sheet: one
    FileFormatError naming the file (and the row where the sheet broke), no traceback."""
    import io
    import zipfile

    import pytest

    import connectors.base.files as files
    from bench.xlsx_memory import write_siak_xlsx
    from connectors.base.files import FileFormatError

    monkeypatch.setattr(files, "STREAM_XLSX_BYTES", 0)
    good = write_siak_xlsx(tmp_path / "good.xlsx", 300).read_bytes()
    src = zipfile.ZipFile(io.BytesIO(good))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<row r="200">', b'<row r="200"><c r="A200"><v>1</c>')
            dst.writestr(item, data)
    cases = {
        "broken.xlsx": (out.getvalue(), "broken.xlsx, row "),
        "truncated.xlsx": (good[: len(good) // 2], "not a readable Excel workbook"),
    }
    for name, (data, expected) in cases.items():
        with pytest.raises(FileFormatError) as exc:
            for _ in files.read_excel(data, name, expect=("NIK",)):
                pass
        assert name in str(exc.value) and expected in str(exc.value), exc.value
    with pytest.raises(FileFormatError, match="no sheet 'Lain'"):
        list(files.read_excel(good, "good.xlsx", sheet="Lain", expect=("NIK",)))
