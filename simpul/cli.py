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

from simpul.config import ConfigError
from simpul.console import table


def cmd_run(args: argparse.Namespace) -> int:
    from simpul.pipeline import run

    result = run(args.pipeline)
    print(
        table(
            [
                {
                    "pipeline": args.pipeline,
                    "status": result.get("outcome") or result["status"],
                    "received": result["rows_received"],
                    "loaded": result["rows_loaded"],
                    "quarantined": result["rows_quarantined"],
                    "duplicate": result["rows_duplicate"],
                    "held": result.get("rows_held", 0),
                    "warned": result["rows_warned"],
                    "seconds": result.get("seconds"),
                }
            ]
        )
    )
    if result.get("message"):
        print(result["message"])
    from simpul.pipeline import EXIT_HELD, EXIT_PARTIAL

    return {"held": EXIT_HELD, "partial": EXIT_PARTIAL}.get(result.get("outcome", ""), 0)


def cmd_replay(args: argparse.Namespace) -> int:
    from simpul.ledger import load_summary
    from simpul.pipeline import replay

    result = replay(args.pipeline, args.load_id)
    print(table([load_summary(result)]))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from simpul.status import status_check, status_report

    if args.check:
        code, text = status_check()
        print(text)
        return code
    print(status_report(limit=args.limit))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """Analysts: the published analyst database (DuckDB) or SIMPUL_ANALYST_URL (PostgreSQL),
    read-only, one read statement. ``--operator NAME``: the warehouse with core, audited."""
    from pathlib import Path

    from simpul.warehouse.analyst import (
        SqlRefused,
        check_out_path,
        run_analyst,
        run_operator,
        write_result,
    )

    try:
        if args.out:
            check_out_path(Path(args.out))
        if args.operator:
            result = run_operator(args.query, args.operator)
        else:
            result = run_analyst(args.query)
    except SqlRefused as exc:
        print(f"simpul: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:
        import duckdb
        import sqlalchemy.exc

        if os.environ.get("SIMPUL_DEBUG"):
            raise
        if isinstance(exc, sqlalchemy.exc.DBAPIError):  # one line; never the statement echoed
            first = (str(exc.orig).strip().splitlines() or [""])[0][:300]
            print(f"simpul: error: database: {type(exc.orig).__name__}: {first}", file=sys.stderr)
            return 2
        if not isinstance(exc, duckdb.Error):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        if isinstance(exc, duckdb.PermissionException | duckdb.InvalidInputException):
            print(f"simpul: ditolak / refused: {type(exc).__name__}: {first}", file=sys.stderr)
            return 3
        hint = ""
        if not args.operator and any(f'"{x}"' in first for x in ("core", "raw", "ops")):
            hint = (
                " (analis: hanya marts dan ref; operator: --operator NAMA / analysts: marts and "
                "ref only; operators: --operator NAME)"
            )
        print(f"simpul: error: database: {type(exc).__name__}: {first}{hint}", file=sys.stderr)
        return 2
    if args.out:
        path = write_result(result, Path(args.out))
        print(f"{len(result.rows)} baris / rows -> {path}")
        return 0
    rows = [dict(zip(result.columns, r, strict=True)) for r in result.rows]
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        print(table(rows, result.columns) if result.columns else "(no rows)")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from simpul.warehouse.pseudonym import generate_key_file

    path, created = generate_key_file()
    if created:
        print(f"kunci pseudonim baru / new pseudonym key: {path} (0600; simpan cadangan / back up)")
    else:
        print(f"kunci pseudonim sudah ada / pseudonym key already exists: {path}")
    if getattr(args, "encryption", False):
        from simpul.atrest import generate_key_file as generate_encryption_key

        path, created = generate_encryption_key()
        if created:
            print(
                f"kunci enkripsi baru / new encryption key: {path} (0600; tanpa kunci ini data "
                "tidak terbaca, simpan cadangan / without it the data is unreadable: back up)"
            )
        else:
            print(f"kunci enkripsi sudah ada / encryption key already exists: {path}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from simpul.config import home
    from simpul.doctor import doctor
    from simpul.securefs import harden

    if args.fix:
        print(f"{harden(home())} izin diperketat / permissions tightened under {home()}")
    problems = doctor(home())
    for id_, en in problems:
        print(f"- {id_}\n  {en}")
    from simpul.atrest import warnings as at_rest_warnings

    for id_, en in at_rest_warnings():  # warnings only: the exit code counts problems
        print(f"- peringatan: {id_}\n  warning: {en}")
    if not problems:
        print("tidak ada masalah / no problems found")
    return 1 if problems else 0


def cmd_docs(args: argparse.Namespace) -> int:
    from simpul.config import PROJECT_ROOT
    from simpul.model import model_markdown

    path = PROJECT_ROOT / "docs" / "canonical_model.md"
    path.write_text(model_markdown() + "\n", encoding="utf-8")
    print(f"wrote {path}")
    from simpul.mapping_tools import write_docs

    for written in write_docs(PROJECT_ROOT / "docs"):
        print(f"wrote {written}")
    return 0


def cmd_data_docs(args: argparse.Namespace) -> int:
    """``simpul data-docs LOAD_ID``: GX Data Docs of one delivery, rendered from its stored
    validation result into the delivery's reports folder (imports GX: a few seconds)."""
    from simpul.config import paths
    from simpul.validate import STORED_RESULT, build_data_docs

    reports = paths().reports / args.load_id
    if not (reports / STORED_RESULT).exists():
        print(
            f"tidak ada hasil validasi untuk {args.load_id} / "
            f"no validation result for {args.load_id}: {reports / STORED_RESULT}"
        )
        return 1
    print(f"Data Docs: {build_data_docs(reports)}")
    return 0


def cmd_mapping_check(args: argparse.Namespace) -> int:
    """``simpul mapping check``: exit 0 when no sampled row would be quarantined, else 1."""
    from pathlib import Path

    from simpul.mapping_tools import check

    sample = Path(args.sample_file)
    if not sample.is_file():
        raise ConfigError(f"{sample}: no such file / berkas tidak ada")
    report = check(args.mapping, sample, limit=args.rows)
    print(f"{report['rows']} rows of {sample.name} through mapping {args.mapping}")
    if report["missing_columns"]:
        print(f"missing columns / kolom tidak ada: {report['missing_columns']}")
    if report["unused_columns"]:
        print(f"columns not used / kolom tidak dipakai: {report['unused_columns']}")
    print(table(report["columns"]))
    if report["rules"]:
        print(table(report["rules"]))
    print(
        f"would quarantine / akan dikarantina: {report['would_quarantine']} of "
        f"{report['rows']} rows (mapping only; the expectation suite runs in the pipeline)"
    )
    return 1 if report["would_quarantine"] or report["missing_columns"] else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from simpul.demo import run_demo

    return run_demo(population=args.population, seed=args.seed, days=args.days)


def build_parser() -> argparse.ArgumentParser:
    """``simpul``'s parser: its own commands, then each package's."""
    parser = argparse.ArgumentParser(prog="simpul", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(sub)
    _add_setup_commands(sub)

    from simpul.exchange.cli import add_parser as add_exchange
    from simpul.orchestration.cli import add_parser as add_operations
    from simpul.padan.cli import add_parser as add_padan
    from simpul.simulators.cli import add_parser as add_simulate
    from simpul.warehouse.db_cli import add_parser as add_db

    add_operations(sub)
    add_exchange(sub)
    add_simulate(sub)
    add_padan(sub)
    add_db(sub)
    return parser


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    """Running pipelines and reading what they loaded: run, replay, status, sql."""
    p = sub.add_parser("run", help="run one pipeline once (extract, map, validate, load)")
    p.add_argument("pipeline", help="pipeline name from simpul.yaml, e.g. siak_penduduk")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("replay", help="re-load a landed delivery from raw (no agency call)")
    p.add_argument("pipeline")
    p.add_argument("load_id")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("status", help="health per pipeline/exchange, last loads, quarantine")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument(
        "--check",
        action="store_true",
        help="one line per problem (Indonesian / English); exit 1 if anything needs attention",
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "sql", help="one read-only query on the analyst database (marts, ref); --operator: core"
    )
    p.add_argument("query")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--out", help="write the result to FILE (.csv, .parquet or .json)")
    p.add_argument(
        "--operator", metavar="NAME", help="operator query on the warehouse (core), audited"
    )
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser(
        "data-docs", help="build GX Data Docs of one delivery in its reports folder (no NIKs)"
    )
    p.add_argument("load_id")
    p.set_defaults(func=cmd_data_docs)


def _add_setup_commands(sub: argparse._SubParsersAction) -> None:
    """Setting up and trying out: keys, doctor, docs, mapping check, demo."""
    p = sub.add_parser("keys", help="create this install's pseudonym key (owner-only file)")
    p.add_argument("action", choices=["init"])
    p.add_argument(
        "--encryption", action="store_true", help="also create the encryption-at-rest key"
    )
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("doctor", help="list permission, key and configuration problems")
    p.add_argument("--fix", action="store_true", help="make SIMPUL_HOME owner-only")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "docs", help="regenerate docs/canonical_model.md, docs/mappings.md and the JSON Schema"
    )
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("mapping", help="mapping tools")
    msub = p.add_subparsers(dest="mapping_command", required=True)
    c = msub.add_parser("check", help="what a mapping makes of a sample file")
    c.add_argument("mapping", help="mapping name under mappings/, e.g. siak_export_penduduk")
    c.add_argument("sample_file")
    c.add_argument("--rows", type=int, default=1000, help="rows of the sample to try")
    c.set_defaults(func=cmd_mapping_check)

    p = sub.add_parser("demo", help="simulators up, every pipeline once, summary")
    p.add_argument("--population", type=int, default=None)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--days",
        type=int,
        default=0,
        help="then let SIAK move on N days, one incremental run per day (dashboard history)",
    )
    p.set_defaults(func=cmd_demo)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("SIMPUL_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args = build_parser().parse_args(argv)
    from simpul.securefs import owner_only_umask

    owner_only_umask()  # whatever the caller's umask: what the hub writes is owner-only
    import simpul.orchestration.alerts  # noqa: F401 - plugs the alert sender into domain.alerts
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
