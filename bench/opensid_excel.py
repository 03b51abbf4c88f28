"""OpenSID pipeline before/after python-calamine (issue 14): ``python -m bench.opensid_excel``.

Generates the demo-sized Kecamatan Martapura (64,000 residents, 16 village workbooks, 2 %
defects), then measures, each on a fresh SIMPUL_HOME (DuckDB):

- **read**: every workbook read to Arrow batches by the openpyxl streaming reader
  (``read_xlsx``, what the connector used before) and by calamine (``read_excel``, now);
- **pipeline**: ``simpul.pipeline.run("opensid_penduduk")`` end to end (extract through the
  file ledger, map, validate, load) with the connector's reader swapped for openpyxl, and as
  shipped (calamine).

Prints one table; the numbers are recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path


def _timed(fn):
    started = time.monotonic()
    out = fn()
    return out, round(time.monotonic() - started, 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.opensid_excel", description=__doc__)
    ap.add_argument("--population", type=int, default=64_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="simpul-bench-opensid-"))
    from simpul.simulators.opensid import write_opensid_drops
    from simpul.synth import WorldConfig, generate_world

    world = work / "world"
    generate_world(WorldConfig(seed=args.seed, population=args.population)).write(world)
    drop = work / "drop"
    files = write_opensid_drops(world, drop, defect_rate=0.02, seed=args.seed)
    old = time.time() - 3600
    for f in files:
        os.utime(f, (old, old))

    from connectors.base.files import read_excel, read_xlsx
    from connectors.opensid import connector as opensid

    def read_all(reader) -> int:
        n = 0
        for f in sorted(drop.iterdir()):
            for batch in reader(f.read_bytes(), f.name):
                n += batch.num_rows
        return n

    rows_o, t_o = _timed(lambda: read_all(lambda d, n: read_xlsx(d, n, sheet=opensid.SHEET)))
    rows_c, t_c = _timed(
        lambda: read_all(lambda d, n: read_excel(d, n, sheet=opensid.SHEET, expect=("nik",)))
    )
    assert rows_o == rows_c, (rows_o, rows_c)

    def openpyxl_reader(data, label, *, sheet=None, expect=()):
        raw = data if isinstance(data, bytes) else data.read()
        return read_xlsx(raw, label, sheet=sheet)

    from simpul import pipeline

    results = []
    for label, reader in (("openpyxl (before)", openpyxl_reader), ("calamine (now)", read_excel)):
        home = work / f"home-{label.split()[0]}"
        home.mkdir()
        os.environ["SIMPUL_HOME"] = str(home)
        os.environ["SIMPUL_OPENSID_DROP"] = str(drop)
        os.environ.pop("SIMPUL_WAREHOUSE_URL", None)
        opensid.read_excel = reader
        try:
            res, secs = _timed(lambda: pipeline.run("opensid_penduduk"))
        finally:
            opensid.read_excel = read_excel
        results.append((label, res["rows_received"], secs))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{len(files)} workbooks, {rows_c:,} rows (population {args.population:,})")
    print("| stage | reader | rows | wall s |")
    print("|---|---|---:|---:|")
    print(f"| read workbooks | openpyxl (before) | {rows_o:,} | {t_o} |")
    print(f"| read workbooks | calamine (now) | {rows_c:,} | {t_c} |")
    for label, rows, secs in results:
        print(f"| pipeline run opensid_penduduk | {label} | {rows:,} | {secs} |")
    print(f"peak RSS of the whole script: {peak} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
