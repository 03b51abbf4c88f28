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


def _prepare_drops(seed: int) -> dict[str, str]:
    """Village workbooks and the Dinas Sosial CSV, written once per world (they take ~10 s)."""
    from simpul.simulators.runner import drop_dirs, prepare_drops

    marker = paths().home / "drops" / ".prepared"
    stamp = f"{seed}:{DEMO_DEFECT_RATE}:{(paths().world / 'world.json').stat().st_mtime_ns}:siak"
    if marker.exists() and marker.read_text() == stamp:
        dirs = drop_dirs(paths().home)
        return {
            "SIMPUL_OPENSID_DROP": str(dirs["opensid"]),
            "SIMPUL_DINSOS_DROP": str(dirs["dinsos"]),
        }
    started = time.monotonic()
    drops = prepare_drops(paths().world, paths().home, DEMO_DEFECT_RATE, seed)
    from simpul.simulators.siak_export import write_siak_export

    # Disdukcapil's export workbook, as handed to the kecamatan (simpul.yaml: drops/siak_export)
    write_siak_export(
        paths().world,
        paths().home / "drops" / "siak_export" / "siak_export_martapura.xlsx",
        defect_rate=DEMO_DEFECT_RATE,
        seed=seed,
    )
    marker.write_text(stamp)
    print(
        "Village (OpenSID), SIAK export and Dinas Sosial drops written "
        f"({time.monotonic() - started:.1f}s)"
    )
    return drops.env()


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
    _ensure_world(population, seed)
    os.environ.update(_prepare_drops(seed))
    servers = serve_all(
        paths().world, base_port=0, defect_rate=DEMO_DEFECT_RATE, seed=seed, home_dir=paths().home
    )
    try:
        for name, server in servers.items():
            print(f"  simulator {name:<8} {server.url}")
            os.environ.update(server.env())
        print()
        results = _run_pipelines()
        history = _more_days(servers, days)
        outcome = _link_and_exchange()
    finally:
        for server in servers.values():
            server.stop()
    print(table(results))
    if history:
        print(f"\nNext {days} day(s) of SIAK changes / perubahan SIAK {days} hari berikutnya:")
        print(table(history))
    _print_summary(outcome)
    return 0


def _run_pipelines() -> list[dict[str, Any]]:
    """Every configured pipeline once; what each received and where the rows went."""
    from simpul.pipeline import run

    results: list[dict[str, Any]] = []
    for name in load_config().pipelines:
        r = run(name)
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


def _link_and_exchange() -> dict[str, Any]:
    """Padan NIK, the marts, the exchange deliveries (the CKAN simulator must still be up),
    and the counts and findings the summary prints."""
    from simpul.exchange.demo import run_exchange_demo
    from simpul.warehouse import open_warehouse
    from simpul.warehouse.marts import build_marts

    wh = open_warehouse()
    try:
        padan = _run_padan(wh)  # before the marts: they use its links
        build_marts(wh)
        deliveries = run_exchange_demo(wh)
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
