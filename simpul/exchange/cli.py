"""``simpul exchange ...``: plan, run, outbox, verify, audit, time-to-fix.

``simpul.cli`` adds the group with :func:`add_parser`. Output holds ids, counts and hashes;
the audit command takes a NIK only from stdin (never the command line, which shell history
keeps) or the pseudonym itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simpul.console import fail, print_table


def _open() -> Any:
    from simpul.exchange.store import ensure_exchange_schema
    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    ensure_exchange_schema(wh)
    return wh


def cmd_plan(args: argparse.Namespace) -> int:
    from simpul.exchange.agreements import load_agreements, plan

    agreements = load_agreements(args.agreements)
    print(f"hub: {agreements.hub_id} (default deny: anything not listed is never sent)\n")
    print_table(
        plan(agreements),
        [
            "agreement",
            "agency",
            "dataset",
            "columns",
            "rows",
            "channel",
            "format",
            "mode",
            "schedule",
            "retention_days",
        ],
    )
    return 0


EXIT_NOT_SENT = 3  # something could not be sent: it waits in the outbox


def cmd_run(args: argparse.Namespace) -> int:
    """Exit 0: everything due was sent (or deliberately not: not ready, unchanged);
    2: configuration error (the message names the variable); 3: not sent, kept in the
    outbox for a retry; 1: a dataset could not be prepared."""
    from simpul.config import ConfigError
    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.errors import ExchangeError
    from simpul.exchange.service import run

    agreements = load_agreements(args.agreements)
    wh = _open()
    try:
        result = run(
            wh, agreements, agreement_id=args.agreement, reviewed_by=args.reviewed_by or None
        )
    except (ExchangeError, ConfigError) as exc:
        return fail(str(exc))
    finally:
        wh.dispose()
    if args.reviewed_by:
        from simpul.orchestration import audit

        audit.record(
            "exchange_reviewed",
            outcome=f"{len(result['queued'])} queued",
            pipeline=args.agreement,
            args={"reviewed_by": args.reviewed_by},
        )
    _print_queued(result)
    return _run_exit_code(result)


def _print_queued(result: dict[str, Any]) -> None:
    """The deliveries this run queued, with what became of each."""
    outcome = {a.delivery_id: a.outcome for a in [*result["attempts"], *result["receipts"]]}
    print_table(
        [
            {
                "delivery_id": q["delivery_id"],
                "agency": q["agency"],
                "dataset": q["dataset"],
                "part": q.get("part") or "",
                "rows": q["rows"],
                "channel": q["channel"],
                "status": outcome.get(q["delivery_id"], "pending"),
            }
            for q in result["queued"]
        ]
    )


def _run_exit_code(result: dict[str, Any]) -> int:
    """Print what was not prepared or not sent; the exit code :func:`cmd_run` documents."""
    from simpul.exchange.dags import summarise

    summary = summarise(result)
    if summary["log"]:
        print()
        print("\n".join(summary["log"]))
    if result["errors"]:
        print("\nTidak disiapkan / not prepared:")
        print_table(result["errors"], ["agreement", "dataset", "error"])
        return 2 if any(e.get("kind") == "config" for e in result["errors"]) else 1
    if summary["config_error"]:
        return fail(summary["config_error"])
    if summary["undelivered"]:
        print(
            "\nAda kiriman yang belum terkirim (tetap di kotak keluar) / something could not "
            "be sent (kept in the outbox): simpul exchange outbox",
            file=sys.stderr,
        )
        return EXIT_NOT_SENT
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.service import collect_receipts, dispatch
    from simpul.exchange.store import outbox

    wh = _open()
    try:
        if args.send:
            agreements = load_agreements(args.agreements)
            dispatch(wh, agreements)
            collect_receipts(wh, agreements)
        rows = outbox(wh, args.status)[: args.limit]
    finally:
        wh.dispose()
    print_table(
        rows,
        [
            "delivery_id",
            "agency",
            "dataset",
            "channel",
            "status",
            "rows",
            "attempts",
            "next_attempt_at",
            "sent_at",
            "receipt_at",
            "last_error",
        ],
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from simpul.exchange.errors import ExchangeError, VerificationError
    from simpul.exchange.signing import load_signing_key, public_key_b64, verify

    try:
        if args.public_key_file:
            public: Any = Path(args.public_key_file).read_text()
        elif args.public_key:
            public = args.public_key
        else:
            public = public_key_b64(load_signing_key().public_key())
        manifest = verify(args.delivery_dir, public)
    except VerificationError as exc:
        print(f"TIDAK SAH / INVALID: {exc}")
        return 1
    except ExchangeError as exc:
        return fail(str(exc))
    print(f"SAH / VALID: delivery {manifest['delivery_id']} from {manifest['hub_id']}")
    print_table(
        [
            {"file": f["name"], "rows": f.get("rows"), "sha256": f["sha256"]}
            for f in manifest["files"]
        ]
    )
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """An Ed25519 key pair (private key 0600, public key next to it as ``.pub``): for the hub
    or for an agency, whose public key the hub registers in the agreement."""
    from simpul.exchange.signing import generate_key_file

    try:
        path = generate_key_file(Path(args.out))
    except FileExistsError:
        return fail(f"{args.out} exists / sudah ada: not overwritten")
    print(f"kunci privat / private key: {path} (rahasia / keep secret)")
    print(f"kunci publik / public key:  {path.with_suffix('.pub')}")
    print(path.with_suffix(".pub").read_text().strip())
    return 0


def cmd_receive(args: argparse.Namespace) -> int:
    """The agency's side in one command: verify every new delivery in a drop folder with the
    hub's public key and write a receipt, signed with the agency's key, for each."""
    from simpul.exchange.errors import ExchangeError
    from simpul.exchange.receiver import process_drop_folder
    from simpul.exchange.signing import load_private_key_file

    try:
        hub = (
            Path(args.hub_public_key_file).read_text()
            if args.hub_public_key_file
            else args.hub_public_key
        )
        if not hub:
            return fail("--hub-public-key or --hub-public-key-file is required / wajib diisi")
        key = load_private_key_file(args.key_file) if args.key_file else None
        root = Path(args.drop_dir)
        if not root.is_dir():
            return fail(f"{root}: folder tidak ada / drop folder does not exist")
        receipts = process_drop_folder(
            root, hub, args.name or args.addressee or "agency", addressee=args.addressee, key=key
        )
    except (ExchangeError, OSError, ValueError) as exc:
        return fail(str(exc))
    print_table(
        [
            {
                "delivery_id": r["delivery_id"],
                "status": r["status"],
                "rows": r.get("rows", ""),
                "reason": r.get("reason", ""),
            }
            for r in receipts
        ],
        ["delivery_id", "status", "rows", "reason"],
    )
    if not key:
        print("Peringatan / warning: tanda terima tidak ditandatangani (--key-file) / unsigned")
    return 1 if any(r["status"] != "accepted" for r in receipts) else 0


def cmd_audit(args: argparse.Namespace) -> int:
    from simpul.exchange.store import deliveries_to, disclosures_by_pseudonym

    wh = _open()
    try:
        if args.nik_hash or args.nik_stdin:
            pseudonym = args.nik_hash
            if args.nik_stdin:
                from simpul.warehouse.pseudonym import pseudonym_key, pseudonymise

                nik = sys.stdin.readline().strip()
                pseudonym = pseudonymise(nik, pseudonym_key(), "nik")
            rows = disclosures_by_pseudonym(wh, pseudonym or "", args.agency)
            print(f"Diterima {args.agency} tentang orang ini / received about this person:")
            print_table(
                rows,
                [
                    "delivery_id",
                    "agreement",
                    "dataset",
                    "sent_at",
                    "receipt_at",
                    "legal_basis",
                    "manifest_sha256",
                ],
            )
        else:
            print_table(
                deliveries_to(wh, args.agency),
                [
                    "delivery_id",
                    "agreement",
                    "dataset",
                    "status",
                    "rows",
                    "sent_at",
                    "receipt_at",
                    "manifest_sha256",
                ],
            )
    finally:
        wh.dispose()
    return 0


def cmd_time_to_fix(args: argparse.Namespace) -> int:
    from simpul.config import load_config
    from simpul.exchange.feedback import time_to_fix, time_to_fix_report

    try:
        agencies = {k: s.agency for k, s in load_config().sources.items()}
    except Exception:  # noqa: BLE001 - the report works without agency names
        agencies = {}
    wh = _open()
    try:
        print(time_to_fix_report(time_to_fix(wh, agencies=agencies)))
    finally:
        wh.dispose()
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``exchange`` and its subcommands to the ``simpul`` parser."""
    ex = subparsers.add_parser("exchange", help="deliver datasets to agencies (agreements)")
    ex.add_argument(
        "--agreements",
        default=None,
        help="agreements file (default exchange/agreements.yaml or SIMPUL_EXCHANGE_AGREEMENTS)",
    )
    sub = ex.add_subparsers(dest="exchange_command", required=True)

    p = sub.add_parser("plan", help="who receives what, under which agreement")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("run", help="prepare deliveries and send them")
    p.add_argument("--agreement", default=None, help="only this agreement")
    p.add_argument(
        "--reviewed-by",
        default=None,
        help="send a reconciliation held for review (audited with this name)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("outbox", help="queued, sent and receipted deliveries")
    p.add_argument("--status", default=None)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--send", action="store_true", help="send what is due first")
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser("verify", help="verify a delivery folder (signature, hashes)")
    p.add_argument("delivery_dir")
    p.add_argument("--public-key", default=None, help="base64 Ed25519 public key")
    p.add_argument("--public-key-file", default=None)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("keygen", help="new Ed25519 key pair (hub or agency receipt key)")
    p.add_argument("out", help="private key file to create (public key: <out>.pub)")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser(
        "receive", help="agency side: verify new deliveries in a drop folder, write receipts"
    )
    p.add_argument("drop_dir")
    p.add_argument("--hub-public-key", default=None, help="the hub's public key (base64)")
    p.add_argument("--hub-public-key-file", default=None)
    p.add_argument("--addressee", default=None, help="who this folder is for, e.g. dinsos")
    p.add_argument("--key-file", default=None, help="the agency's private key (signs receipts)")
    p.add_argument("--name", default=None, help="receiver name written in the receipts")
    p.set_defaults(func=cmd_receive)

    p = sub.add_parser("audit", help="what an agency received (optionally about one person)")
    p.add_argument("--agency", required=True)
    p.add_argument("--nik-hash", default=None, help="the person's NIK pseudonym")
    p.add_argument("--nik-stdin", action="store_true", help="read the NIK from stdin")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("time-to-fix", help="how fast sources fix quarantined rows")
    p.set_defaults(func=cmd_time_to_fix)
