"""``simpul db upgrade|current|history``: the warehouse schema, upgraded once per deployment.

Exit codes: 0 done / at head, 1 ``current`` found the warehouse behind head, 2 an error the
operator can act on (unknown revision, a newer warehouse than the code).
"""

from __future__ import annotations

import argparse


def _rev(text: str) -> str:
    """'head', or a revision id; a bare number is the old runner's version ('27' -> '0027')."""
    if text == "head":
        return text
    return f"{int(text):04d}" if text.isdigit() else text


def cmd_upgrade(args: argparse.Namespace) -> int:
    from simpul.reference import load_reference
    from simpul.warehouse import migrations, open_warehouse

    wh = open_warehouse(check=False)
    try:
        before = migrations.state(wh)
        applied = migrations.upgrade(wh, _rev(args.to))
        after = migrations.current(wh)
        loaded = load_reference(wh) if after == migrations.head() else {}
    finally:
        wh.dispose()
    if applied:
        print(
            f"gudang data dimutakhirkan / warehouse upgraded: {before or 'kosong/empty'} -> "
            f"{after} ({len(applied)} revisi / revisions: {', '.join(applied)})"
        )
    else:
        print(f"gudang data sudah pada revisi / warehouse already at revision {after}")
    for table, rows in loaded.items():
        print(f"  {table}: {rows} baris referensi dimuat / reference rows loaded")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    from simpul.warehouse import migrations, open_warehouse

    wh = open_warehouse(check=False)
    try:
        at = migrations.current(wh)
        legacy = None if at else migrations.legacy_revision(wh)
    finally:
        wh.dispose()
    head = migrations.head()
    if legacy:
        print(
            f"{legacy} (dibuat pelaksana migrasi lama; `simpul db upgrade` menandainya / made by "
            f"the migration runner before Alembic; `simpul db upgrade` stamps it), head {head}"
        )
        return 1
    if at is None:
        print(f"kosong / empty (head {head}): jalankan / run `simpul db upgrade`")
        return 1
    if at != head:
        print(
            f"{at} (head {head}): jalankan / run `simpul db upgrade` "
            "(cadangkan dulu / back up first)"
        )
        return 1
    print(f"{at} (head)")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from simpul.console import table as _table
    from simpul.warehouse import migrations

    rows = []
    for rev, doc in migrations.history():
        first = " ".join(doc.split())
        title = first.split(" ", 1)[1] if first.startswith(rev + " ") else first
        rows.append({"revision": rev, "description": title[:110]})
    print(_table(rows))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="warehouse schema: upgrade (at deployment), current, history")
    dsub = p.add_subparsers(dest="db_command", required=True)
    c = dsub.add_parser("upgrade", help="apply pending schema revisions (back up first)")
    c.add_argument("--to", default="head", help="revision to upgrade to (default: head)")
    c.set_defaults(func=cmd_upgrade)
    c = dsub.add_parser("current", help="the warehouse's revision; exit 1 when behind head")
    c.set_defaults(func=cmd_current)
    c = dsub.add_parser("history", help="every schema revision, oldest first")
    c.set_defaults(func=cmd_history)
