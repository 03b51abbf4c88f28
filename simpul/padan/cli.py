"""``simpul padan run`` and ``simpul padan review``: link agency people to SIAK, work the queue."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def cmd_run(args: argparse.Namespace) -> int:
    from simpul.console import table as _table
    from simpul.padan.store import run_padan
    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    try:
        result = run_padan(
            wh,
            sources=tuple(args.sumber) if args.sumber else None,
            model_path=Path(args.model) if args.model else None,
        )
    finally:
        wh.dispose()
    if result["status"] != "ok":
        print(f"padan: nothing to link ({result['status']}) / tidak ada yang ditautkan")
        return 1
    print(f"Padan NIK, model {result['model_version']} ({result['seconds']}s):")
    print(_table(result["counts"]))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from simpul.console import table as _table
    from simpul.padan.store import ReviewError, decide_review, review_queue
    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    try:
        if args.accept or args.reject:
            try:
                done = decide_review(
                    wh, args.accept or args.reject, accept=bool(args.accept), operator=args.operator
                )
            except ReviewError as exc:
                print(f"simpul: error: {exc}", file=sys.stderr)
                return 2
            print(
                f"{done['padan_id']}: {done['keputusan']} oleh/by {done['operator']} "
                f"pada/at {done['at']}"
            )
            return 0
        rows: list[dict[str, Any]] = review_queue(wh, args.limit, args.sumber)
    finally:
        wh.dispose()
    if not rows:
        print("Antrean tinjauan kosong / review queue empty")
        return 0
    print("NIK masked except the differing digits / NIK disamarkan kecuali angka yang berbeda")
    print(_table(rows))
    print("\nsimpul padan review --accept <padan_id> | --reject <padan_id> [--operator NAME]")
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``padan`` and its subcommands to the ``simpul`` parser."""
    pd_ = subparsers.add_parser("padan", help="padan NIK: link agency people to SIAK")
    sub = pd_.add_subparsers(dest="padan_command", required=True)
    p = sub.add_parser("run", help="train (EM) and link every agency's people to SIAK")
    p.add_argument(
        "--sumber", action="append", help="only this source (dinsos, opensid, oss, paten)"
    )
    p.add_argument("--model", default=None, help="a saved model.json instead of training")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("review", help="list the review queue or accept/reject a link")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--sumber", default=None)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--accept", metavar="PADAN_ID", default=None)
    g.add_argument("--reject", metavar="PADAN_ID", default=None)
    p.add_argument("--operator", default=None, help="reviewer name (else SIMPUL_OPERATOR)")
    p.set_defaults(func=cmd_review)
