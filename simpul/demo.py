"""``simpul demo``: the whole flow on a laptop with the embedded defaults.

Generates (once) a seeded synthetic Kecamatan Martapura, starts the agency simulators on
localhost (free ports, so a running `simpul simulate up` does not collide), runs every
configured pipeline once, rebuilds the marts, and prints a summary and how to query it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from simpul.config import load_config, paths, warehouse_url
from simpul.console import table

DEMO_PSEUDONYM_KEY = "simpul-demo-pseudonym-key-not-for-production-use"
DEMO_DEFECT_RATE = 0.02


def _ensure_world(population: int | None, seed: int) -> None:
    from simpul.synth import WorldConfig, generate_world

    world_dir = paths().world
    if (world_dir / "world.json").exists() and population is None:
        return
    cfg = load_config()
    started = time.monotonic()
    world = generate_world(
        WorldConfig(seed=seed, kecamatan=tuple(cfg.kecamatan), population=population)
    )
    world.write(world_dir)
    print(
        f"Synthetic Martapura generated: {world.penduduk.num_rows:,} residents, "
        f"{world.keluarga.num_rows:,} families (seed {seed}, "
        f"{time.monotonic() - started:.1f}s) -> {world_dir}"
    )


def _write_drops(world: str, home: str, seed: int) -> tuple[dict[str, str], float]:
    """In the drop process: village workbooks, SIAK export, Dinas Sosial CSV and PATEN db."""
    from simpul.simulators.runner import prepare_drops

    started = time.monotonic()
    drops = prepare_drops(world, home, DEMO_DEFECT_RATE, seed, siak_export=True)
    return drops.env(), time.monotonic() - started


class _Drops:
    """The file drops, written once per world. Writing the Excel workbooks is most of a fresh
    demo's preparation (~1 min on a busy machine), and only the file pipelines need them: a
    second process writes them while the SIAK and OSS pipelines fetch over HTTP."""

    def __init__(self, seed: int) -> None:
        from simpul.simulators.runner import drop_dirs, siak_export_path

        home, world = paths().home, paths().world
        self.marker = home / "drops" / ".prepared"
        stamp = f"{seed}:{DEMO_DEFECT_RATE}:{(world / 'world.json').stat().st_mtime_ns}:siak"
        self.stamp = stamp
        self.env: dict[str, str] | None = None
        self._pool: Any = None
        if self.marker.exists() and self.marker.read_text() == stamp:
            dirs = drop_dirs(home)
            self.env = {
                "SIMPUL_OPENSID_DROP": str(dirs["opensid"]),
                "SIMPUL_DINSOS_DROP": str(dirs["dinsos"]),
                "SIMPUL_SIAK_EXPORT_DROP": str(siak_export_path(home).parent),
            }
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: this process already runs Arrow/DuckDB threads
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._future = self._pool.submit(_write_drops, str(world), str(home), seed)

    def ready(self) -> float:
        """Wait for the drops (if still being written) and point the hub at them; returns how
        long this process waited."""
        started = time.monotonic()
        if self.env is None:
            try:
                self.env, seconds = self._future.result()
            finally:
                self.close()
            self.marker.write_text(self.stamp)
            print(
                "Village (OpenSID), SIAK export and Dinas Sosial drops written "
                f"({seconds:.1f}s, alongside the SIAK and OSS pipelines)"
            )
        os.environ.update(self.env)
        return time.monotonic() - started

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _more_days(servers: dict[str, Any], days: int) -> list[dict[str, Any]]:
    """History for the dashboard: the SIAK simulator moves on one day at a time (people are
    born, move, die) and the SIAK pipelines fetch each day's changes — real incremental runs."""
    import requests

    from simpul.pipeline import run

    if "siak" not in servers or days <= 0:
        return []
    out = []
    names = [n for n, p in load_config().pipelines.items() if p.source == "siak"]
    for day in range(1, days + 1):
        requests.post(
            f"{servers['siak'].url}/admin/advance", params={"days": 1}, timeout=30
        ).raise_for_status()
        for name in names:
            r = run(name)
            out.append(
                {
                    "day": day,
                    "pipeline": name,
                    "status": r["status"],
                    "received": r["rows_received"],
                    "loaded": r["rows_loaded"],
                }
            )
    return out


def _run_padan(wh: Any) -> dict[str, Any]:
    """Padan NIK over the loaded agency people (EM-trained on this data, model saved)."""
    from simpul.padan.store import run_padan

    return run_padan(wh)


def _print_padan(padan: dict[str, Any], padan_only: list[dict[str, Any]]) -> None:
    print(
        f"\nPadan NIK: agency people linked to SIAK (model {padan.get('model_version')}, "
        f"{padan.get('seconds')}s; tertaut = linked, tinjau = in review, tidak_cocok = unmatched):"
    )
    print(table(padan.get("counts") or []))
    print("\nFindings only record linkage could make / temuan yang hanya bisa dari padan NIK:")
    print(table(padan_only) if padan_only else "  (none / tidak ada)")
    print("  uv run simpul padan review   # the review queue (NIK masked except differing digits)")


DEMO_TABLES = (
    "core.penduduk",
    "core.penduduk_history",
    "core.keluarga",
    "core.peristiwa",
    "core.izin",
    "core.penerima_bantuan",
    "core.permohonan_layanan",
    "marts.penduduk",
    "marts.penduduk_bulanan",
    "marts.rekonsiliasi",
    "ops.quarantine",
)


def run_demo(population: int | None = None, seed: int = 42, days: int = 0) -> int:
    """Generate, serve, load, link, build marts, exchange, and print what came out."""
    from simpul.simulators.runner import serve_all
    from simpul.warehouse.pseudonym import allow_demo_key

    allow_demo_key()  # synthetic people only: the public demo key is accepted in this process
    os.environ.setdefault("SIMPUL_AUTO_MIGRATE", "1")  # the demo upgrades its own warehouse
    if not os.environ.get("SIMPUL_PSEUDONYM_KEY"):
        os.environ["SIMPUL_PSEUDONYM_KEY"] = DEMO_PSEUDONYM_KEY
        print("Note: using the demo pseudonym key; set SIMPUL_PSEUDONYM_KEY in production.")
    print(f"Simpul demo: data folder {paths().home}, warehouse {warehouse_url()}\n")
    phases = _Phases()
    _ensure_world(population, seed)
    phases.mark("world / dunia sintetis")
    drops = _Drops(seed)
    servers = serve_all(
        paths().world, base_port=0, defect_rate=DEMO_DEFECT_RATE, seed=seed, home_dir=paths().home
    )
    try:
        for name, server in servers.items():
            print(f"  simulator {name:<8} {server.url}")
            os.environ.update(server.env())
        print()
        phases.mark("simulators up / simulator siap")
        results = _run_pipelines(drops, phases)
        history = _more_days(servers, days)
        if history:
            phases.mark(f"next {days} day(s) / hari berikutnya")
        outcome = _link_and_exchange(phases)
    finally:
        drops.close()
        for server in servers.values():
            server.stop()
    print(table(results))
    if history:
        print(f"\nNext {days} day(s) of SIAK changes / perubahan SIAK {days} hari berikutnya:")
        print(table(history))
    _print_summary(outcome)
    print("\nWhere the time went / waktu per tahap:")
    print(table(phases.rows()))
    return 0


class _Phases:
    """Wall-clock seconds per demo phase, for the closing table (where a slow demo spends)."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.seconds: dict[str, float] = {}

    def mark(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self.last
        self.last = now

    def rows(self) -> list[dict[str, Any]]:
        total = {"total / jumlah": time.monotonic() - self.started}
        return [{"phase": k, "seconds": round(v, 1)} for k, v in (self.seconds | total).items()]


HTTP_SOURCES = {"siak", "oss"}  # fetched from the simulators; every other source is a drop


def _run_pipelines(drops: _Drops, phases: _Phases) -> list[dict[str, Any]]:
    """Every configured pipeline once, in configuration order; what each received and where
    the rows went. The first pipeline reading a file drop waits for the drop process."""
    from simpul.pipeline import run

    results: list[dict[str, Any]] = []
    for name, pipeline in load_config().pipelines.items():
        if pipeline.source not in HTTP_SOURCES and drops.ready() > 0.05:
            phases.mark("waiting for drops / menunggu berkas")
        r = run(name)
        phases.mark(f"pipeline {name}")
        results.append(
            {
                "pipeline": name,
                "status": r["status"],
                "received": r["rows_received"],
                "loaded": r["rows_loaded"],
                "quarantined": r["rows_quarantined"],
                "duplicate": r["rows_duplicate"],
                "held": r.get("rows_held", 0),
                "warned": r["rows_warned"],
                "seconds": r["seconds"],
            }
        )
    return results


def _link_and_exchange(phases: _Phases) -> dict[str, Any]:
    """Padan NIK, the marts, the exchange deliveries (the CKAN simulator must still be up),
    and the counts and findings the summary prints."""
    from simpul.exchange.demo import run_exchange_demo
    from simpul.warehouse import open_warehouse
    from simpul.warehouse.marts import build_marts

    wh = open_warehouse()
    try:
        padan = _run_padan(wh)  # before the marts: they use its links
        phases.mark("padan NIK")
        build_marts(wh)
        phases.mark("marts")
        deliveries = run_exchange_demo(wh)
        phases.mark("exchanges / pertukaran")
        return {
            "padan": padan,
            "deliveries": deliveries,
            "counts": {t: wh.scalar(f"select count(*) from {t}") for t in DEMO_TABLES},
            "findings": wh.query(
                "select temuan, kolom, count(*) as jumlah from marts.rekonsiliasi "
                "group by 1, 2 order by 1, 2"
            ),
            "padan_only": wh.query(
                "select temuan, sumber, count(*) as jumlah from marts.rekonsiliasi "
                "where sumber like 'padan:%' group by 1, 2 order by 1, 2"
            ),
        }
    finally:
        wh.dispose()


def _print_summary(outcome: dict[str, Any]) -> None:
    """Where every record went, the tables, the findings, the exchanges, and what next."""
    print(
        "\nEvery record received is loaded, quarantined with its reasons, a duplicate (an exact "
        "copy, or identical to the current record), or held:\n  received = loaded + quarantined "
        "+ duplicate + held (checked on every load).\n"
    )
    print(table([{"table": t, "rows": n} for t, n in outcome["counts"].items()]))
    print("\nCross-agency findings / temuan lintas instansi (marts.rekonsiliasi):")
    print(table(outcome["findings"]))
    _print_padan(outcome["padan"], outcome["padan_only"])
    print("\nExchanges delivered (signed manifest, receipt echoes its hash):")
    print(table(outcome["deliveries"]))
    print("\nNext / selanjutnya:")
    print(
        '  uv run simpul sql "select nama_desa, count(*) from marts.penduduk group by 1 order by 1"'
    )
    print(
        '  uv run simpul sql "select temuan, count(*) from marts.rekonsiliasi group by 1"'
        "   # analyst database"
    )
    print(
        '  uv run simpul sql --operator NAMA "select rules, reasons_id from ops.quarantine limit 5"'
        "   # audited"
    )
    print("  uv run simpul status        # loads, counts, quarantine, findings")
    print("  uv run simpul dashboard     # static HTML dashboard in var/reports/")
    print(f"  data-quality reports (Bahasa Indonesia + English): {paths().reports}/<load_id>/")
    print("  uv run simpul data-docs <load_id>   # GX Data Docs of a delivery, in the same folder")
