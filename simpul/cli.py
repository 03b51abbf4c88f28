"""Simpul command line: run pipelines, show status, query the warehouse, run the demo.

Errors an operator can act on are printed as one clear message (English / Indonesian) and exit
code 2 — never a stack trace. ``SIMPUL_DEBUG=1`` shows the trace for developers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from simpul.config import ConfigError


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, sep, *body])


def cmd_run(args: argparse.Namespace) -> int:
    from simpul.pipeline import run

    result = run(args.pipeline)
    print(
        _table(
            [
                {
                    "pipeline": args.pipeline,
                    "status": result["status"],
                    "received": result["rows_received"],
                    "loaded": result["rows_loaded"],
                    "quarantined": result["rows_quarantined"],
                    "duplicate": result["rows_duplicate"],
                    "warned": result["rows_warned"],
                    "seconds": result.get("seconds"),
                }
            ]
        )
    )
    if result.get("message"):
        print(result["message"])
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from simpul.pipeline import replay

    result = replay(args.pipeline, args.load_id)
    print(
        _table(
            [
                {
                    k: result[k]
                    for k in (
                        "load_id",
                        "status",
                        "rows_received",
                        "rows_loaded",
                        "rows_quarantined",
                        "rows_duplicate",
                    )
                }
            ]
        )
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from simpul.status import status_report

    print(status_report(limit=args.limit))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    try:
        rows = wh.query(args.query)
    finally:
        wh.dispose()
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        print(_table(rows))
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from simpul.config import PROJECT_ROOT
    from simpul.model import model_markdown

    path = PROJECT_ROOT / "docs" / "canonical_model.md"
    path.write_text(model_markdown() + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from simpul.demo import run_demo

    return run_demo(population=args.population, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simpul", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run one pipeline once (extract, map, validate, load)")
    p.add_argument("pipeline", help="pipeline name from simpul.yaml, e.g. siak_penduduk")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("replay", help="re-load a landed delivery from raw (no agency call)")
    p.add_argument("pipeline")
    p.add_argument("load_id")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("status", help="last runs, row counts, quarantine counts")
    p.add_argument("--limit", type=int, default=10)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("sql", help="run a SQL query against the warehouse")
    p.add_argument("query")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("docs", help="regenerate docs/canonical_model.md from the model")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("demo", help="simulators up, every pipeline once, summary")
    p.add_argument("--population", type=int, default=None)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=cmd_demo)

    from simpul.exchange.cli import add_parser as add_exchange
    from simpul.orchestration.cli import add_parser as add_operations
    from simpul.padan.cli import add_parser as add_padan
    from simpul.simulators.cli import add_parser as add_simulate

    add_operations(sub)
    add_exchange(sub)
    add_simulate(sub)
    add_padan(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("SIMPUL_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args = build_parser().parse_args(argv)
    from simpul.errors import OPERATOR_ERRORS

    try:
        return args.func(args) or 0
    except OPERATOR_ERRORS as exc:
        if os.environ.get("SIMPUL_DEBUG"):
            raise
        print(f"simpul: error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"simpul: config error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a database or file-system failure: one line, no SQL or data
        import sqlalchemy.exc

        if os.environ.get("SIMPUL_DEBUG"):
            raise
        if isinstance(exc, sqlalchemy.exc.DBAPIError):
            first = (str(exc.orig).strip().splitlines() or [""])[0]
            print(f"simpul: error: database: {type(exc.orig).__name__}: {first}", file=sys.stderr)
            return 2
        if isinstance(exc, OSError) and exc.strerror:
            where = f": {exc.filename}" if exc.filename else ""
            print(f"simpul: error: {exc.strerror}{where}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
