"""``uv run python -m bench.padan``: padan NIK accuracy, review queue, time and memory.

Generates a synthetic population (``--population``; ``--kabupaten`` = all 20 kecamatan of
OKU Timur), draws ``--records`` agency person records with linkage ground truth
(:mod:`simpul.synth.linkage`: NIK typos/transpositions/Excel-zeroed, missing NIK, name
variants, swapped day/month, Excel serial dates, moved village, people SIAK does not know),
then links them in a fresh child process (so its peak RSS is the linkage's own) and compares
auto-links and the review queue with the truth, beside an exact-NIK-join baseline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd


def _link_child(workdir: str, threads: int, out: Any) -> None:
    from simpul.padan.features import prepare
    from simpul.padan.model import link

    started = time.monotonic()
    recs = pd.read_parquet(Path(workdir) / "records.parquet")
    siak = pd.read_parquet(Path(workdir) / "siak.parquet")
    a, s = prepare(recs), prepare(siak)
    prepared = time.monotonic() - started
    stages: dict[str, float] = {}
    result, trained = link(a, s, threads=threads, timings=stages)
    result[["unique_id", "siak_id", "match_probability", "keputusan"]].to_parquet(
        Path(workdir) / "result.parquet"
    )
    out.put(
        {
            "wall_s": round(time.monotonic() - started, 1),
            "prepare_s": round(prepared, 1),
            "train_s": trained.report["seconds"] if trained else None,
            "stages_s": stages,
            "train_records": trained.report["records_agency"] if trained else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )


def score(result: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    m = result.merge(truth, left_on="unique_id", right_on="record_id")
    n = len(m)
    linkable = m["true_nik"].notna()
    auto = m["keputusan"] == "tertaut_otomatis"
    review = m["keputusan"] == "tinjau"
    right = m["siak_id"] == m["true_nik"]
    tp = int((auto & right).sum())
    precision = tp / max(1, int(auto.sum()))
    recall_auto = tp / max(1, int(linkable.sum()))
    found = int(((auto | review) & right & linkable).sum())
    return {
        "records": n,
        "auto_links": int(auto.sum()),
        "auto_precision": round(precision, 4),
        "auto_recall": round(recall_auto, 4),
        "auto_f1": round(2 * precision * recall_auto / max(1e-9, precision + recall_auto), 4),
        "recall_auto_plus_review": round(found / max(1, int(linkable.sum())), 4),
        "review_queue": int(review.sum()),
        "review_share": round(int(review.sum()) / max(1, n), 4),
        "wrong_auto_by_corruption": m[auto & ~right]["corruptions"].value_counts().to_dict(),
        "missed_by_corruption": m[linkable & ~((auto | review) & right)]["corruptions"]
        .value_counts()
        .to_dict(),
    }


def baseline(records: pd.DataFrame, truth: pd.DataFrame, siak_niks: set[str]) -> dict[str, Any]:
    """Exact NIK join: a record is linked when its (cleaned) NIK is a SIAK NIK."""
    from simpul.padan.features import digits

    started = time.monotonic()
    nik = records["nik"].map(digits)
    linked = nik.where(nik.isin(siak_niks))
    wall = time.monotonic() - started
    m = pd.DataFrame({"record_id": records["record_id"], "siak_id": linked}).merge(
        truth, on="record_id"
    )
    auto = m["siak_id"].notna()
    right = m["siak_id"] == m["true_nik"]
    linkable = m["true_nik"].notna()
    p = int((auto & right).sum()) / max(1, int(auto.sum()))
    r = int((auto & right).sum()) / max(1, int(linkable.sum()))
    return {
        "records": len(m),
        "auto_links": int(auto.sum()),
        "auto_precision": round(p, 4),
        "auto_recall": round(r, 4),
        "auto_f1": round(2 * p * r / max(1e-9, p + r), 4),
        "recall_auto_plus_review": round(r, 4),
        "review_queue": 0,
        "review_share": 0.0,
        "wall_s": round(wall, 2),
    }


def _records(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Agency records, their truth and SIAK; with ``--every-record`` one record per village
    resident (OpenSID registers list everyone, the dead too) and one per distinct Dinas Sosial
    recipient, each with the same corruption and not-in-SIAK rates."""
    cache = Path(args.cache) if args.cache else None
    names = ("records", "truth", "siak")
    if cache and all((cache / f"{n}.parquet").exists() for n in names):
        frames = [pd.read_parquet(cache / f"{n}.parquet") for n in names]
        recs = frames[0]
        per = recs["record_id"].str.split("-").str[0].value_counts().to_dict()
        return frames[0], frames[1], frames[2], per
    from simpul.synth import WorldConfig, generate_world
    from simpul.synth.linkage import make_linkage_records, siak_records

    cfg = WorldConfig(
        seed=args.seed,
        kecamatan=None if args.kabupaten else ("16.08.01",),
        population=None if args.kabupaten else args.population,
    )
    world = generate_world(cfg)
    if args.every_record:
        status = world.penduduk.column("status_dasar").to_pandas()
        dead_share = float((status == "2").mean())
        recipients = world.penerima_bantuan.column("nik").to_pandas().nunique()
        parts = [
            make_linkage_records(
                world.penduduk,
                n=n,
                corruption_rate=args.corruption_rate,
                seed=args.seed,
                agency=agency,
                deceased_share=share,
            )
            for agency, n, share in (
                ("opensid", world.penduduk.num_rows, dead_share),
                ("dinsos", recipients, 0.0),
            )
        ]
        recs = pd.concat([p[0] for p in parts], ignore_index=True)
        truth = pd.concat([p[1] for p in parts], ignore_index=True)
    else:
        recs, truth = make_linkage_records(
            world.penduduk, n=args.records, corruption_rate=args.corruption_rate, seed=args.seed
        )
    siak = siak_records(world.penduduk)
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
        for n, df in zip(names, (recs, truth, siak), strict=True):
            df.to_parquet(cache / f"{n}.parquet")
    per = recs["record_id"].str.split("-").str[0].value_counts().to_dict()
    return recs, truth, siak, per


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.padan")
    ap.add_argument("--population", type=int, default=20_000)
    ap.add_argument("--kabupaten", action="store_true", help="all 20 kecamatan (650,000)")
    ap.add_argument("--records", type=int, default=5_000)
    ap.add_argument(
        "--every-record",
        action="store_true",
        help="every village (OpenSID) resident and every Dinas Sosial recipient, not --records",
    )
    ap.add_argument("--cache", default=None, help="reuse the generated records in this folder")
    ap.add_argument("--corruption-rate", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    recs, truth, siak, per_agency = _records(args)
    gen_s = time.monotonic() - t0
    with tempfile.TemporaryDirectory(prefix="padan-bench-") as tmp:
        recs.to_parquet(Path(tmp) / "records.parquet")
        siak.to_parquet(Path(tmp) / "siak.parquet")
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        child = ctx.Process(target=_link_child, args=(tmp, args.threads, q))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"linkage child failed (exit {child.exitcode})")
        timing = q.get()
        result = pd.read_parquet(Path(tmp) / "result.parquet")
    out = {
        "residents": len(siak),
        "records": len(recs),
        "records_per_agency": per_agency,
        "corruption_rate": args.corruption_rate,
        "generate_s": round(gen_s, 1),
        "padan": {**score(result, truth), **timing},
        "exact_nik_join": baseline(recs, truth, set(siak["nik"])),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
