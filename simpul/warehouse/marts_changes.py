"""What changed since the last marts build, so :func:`simpul.warehouse.marts.build_marts` rebuilds
only the rows a delivery touched (issue 18 item 4) and still gives what a full rebuild would.

Every change to a resident goes through ``core.penduduk_versions`` (new records, changed
records, source deletions), each version carrying its load id; versions are never removed. So:

* the residents touched = NIKs with a version from a load the marts have not included yet, or
  a version re-seen since the last build started (``_recorded_at``);
* the desa touched = every ``kode_desa`` any version of those residents ever had (their history
  rows are derived from those versions, before and after the change);
* the months touched = from the earliest time of those versions (history only changes at or
  after a version's time), or every month when a resident's birth date, sex or religion
  (read from ``core.penduduk`` for all months) changed.

What the marts include is kept in ``ops.consumed_loads`` under the consumer ``marts``: every load
committed when the build's transaction began, recorded in that transaction, with markers for
what the whole marts depend on: the pseudonym key, the village names, the first month, the last
build's day and end, and when it started. Any marker that differs means a full rebuild. The
orchestration's once-per-batch skip (:mod:`simpul.orchestration.batches`) reads the same rows,
plus the marker :data:`PUBLISHED`, written once the build's analyst copies are published (a
build whose publishing failed is not skipped on retry).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.domain.clock import WIB

CONSUMER = "marts"
MARK = "@"  # marker rows start with it; load ids never do
PUBLISHED = f"{MARK}published:yes"  # the last recorded build also published its copies
LOADS_TABLE = "_simpul_marts_loads"
NIKS_TABLE = "_simpul_marts_niks"
DESA_TABLE = "_simpul_marts_desa"
PERSONAL_COLUMNS = ("jenis_kelamin", "agama", "tanggal_lahir")  # read from core for all months


def month_end(d: date) -> date:
    """The last day of ``d``'s month."""
    nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


@dataclass
class Plan:
    """What one build recomputes. ``since``: first month end whose touched desa are rebuilt
    (None: none); months after ``new_after`` are new and built for every desa."""

    full_penduduk: bool
    full_bulanan: bool
    markers: dict[str, str]
    new_loads: list[str] = field(default_factory=list)
    niks: list[str] = field(default_factory=list)
    desa: list[str | None] = field(default_factory=list)
    since: date | None = None
    new_after: date | None = None
    committed: list[str] = field(default_factory=list)  # loads in core as the build began

    @property
    def full(self) -> bool:
        return self.full_penduduk and self.full_bulanan


def markers(conn: Connection, *, kid: str, start: date, end: date, today: date) -> dict[str, str]:
    """The values the whole marts depend on, as stored beside the included loads."""
    names = conn.execute(
        sa.text("select kode, nama from ref.wilayah where tingkat = 'desa' order by kode")
    ).all()
    digest = hashlib.sha256(repr([tuple(r) for r in names]).encode()).hexdigest()[:16]
    return {
        "key": kid,
        "wilayah": digest,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "today": today.isoformat(),
    }


def _stored(conn: Connection) -> tuple[set[str], dict[str, str]]:
    rows = conn.execute(
        sa.text("select load_id from ops.consumed_loads where consumer = :c"), {"c": CONSUMER}
    ).all()
    loads = {r[0] for r in rows if not r[0].startswith(MARK)}
    marks = dict(r[0][1:].split(":", 1) for r in rows if r[0].startswith(MARK))
    return loads, marks


def _version_loads(conn: Connection) -> set[str]:
    rows = conn.execute(sa.text("select distinct _load_id from core.penduduk_versions")).all()
    return {r[0] for r in rows if r[0] is not None}


def plan(conn: Connection, marks: dict[str, str], *, full: bool = False) -> Plan:
    """Full (``full``, or nothing comparable stored) or incremental, and what to recompute;
    leaves the touched NIKs and desa in temp tables for the build's SQL."""
    # read first: a load committed by now is in everything the build reads next (also under
    # PostgreSQL's read committed), so the build may record it as included
    rows = conn.execute(sa.text("select load_id from ops.loads where status = 'loaded'"))
    committed = [r[0] for r in rows]
    p = _plan(conn, marks, full)
    p.committed = committed
    return p


def _plan(conn: Connection, marks: dict[str, str], full: bool) -> Plan:
    drop_temp(conn)
    for table, column in ((LOADS_TABLE, "load_id"), (NIKS_TABLE, "nik"), (DESA_TABLE, "kode_desa")):
        conn.exec_driver_sql(f"CREATE TEMP TABLE {table} ({column} VARCHAR)")
    loads, stored = _stored(conn)
    all_loads = _version_loads(conn)
    same = {k: stored.get(k) == v for k, v in marks.items()}
    base = bool(stored) and same["key"] and same["wilayah"] and same["start"]
    if full or not base or "end" not in stored or "started" not in stored:
        return Plan(True, True, marks, sorted(all_loads))
    before, now = (
        month_end(date.fromisoformat(m[k])) for m, k in ((stored, "end"), (marks, "end"))
    )
    if before > now:  # the clock or ``end`` went back
        return Plan(True, True, marks, sorted(all_loads))
    p = Plan(not same["today"], False, marks, sorted(all_loads - loads))
    if before < now:
        p.new_after = before
    _touched(conn, p, datetime.fromisoformat(stored["started"]))
    return p


def _touched(conn: Connection, p: Plan, last_started: datetime) -> None:
    """Fill ``p.niks``, ``p.desa`` and ``p.since`` from the versions not yet in the marts."""
    if p.new_loads:
        conn.execute(
            sa.text(f"INSERT INTO {LOADS_TABLE} (load_id) VALUES (:l)"),
            [{"l": i} for i in p.new_loads],
        )
    fresh = (
        f"(v._load_id IN (SELECT load_id FROM {LOADS_TABLE}) OR v._recorded_at >= :last_started)"
    )
    args = {"last_started": last_started}
    conn.execute(
        sa.text(
            f"INSERT INTO {NIKS_TABLE} SELECT DISTINCT v.nik FROM core.penduduk_versions v "
            f"WHERE {fresh}"
        ),
        args,
    )
    p.niks = [r[0] for r in conn.exec_driver_sql(f"SELECT nik FROM {NIKS_TABLE}").all()]
    if not p.niks:
        return
    conn.exec_driver_sql(
        f"INSERT INTO {DESA_TABLE} SELECT DISTINCT v.kode_desa FROM core.penduduk_versions v "
        f"JOIN {NIKS_TABLE} n ON n.nik = v.nik UNION SELECT c.kode_desa FROM core.penduduk c "
        f"JOIN {NIKS_TABLE} n ON n.nik = c.nik"
    )
    p.desa = [r[0] for r in conn.exec_driver_sql(f"SELECT kode_desa FROM {DESA_TABLE}").all()]
    differs = " OR ".join(f"o.{c} IS DISTINCT FROM v.{c}" for c in PERSONAL_COLUMNS)
    personal = conn.execute(
        sa.text(
            f"SELECT COUNT(*) FROM core.penduduk_versions v JOIN core.penduduk_versions o "
            f"ON o.nik = v.nik WHERE {fresh} AND ({differs})"
        ),
        args,
    ).scalar()
    if personal:
        p.since = date.min
        return
    first = conn.execute(
        sa.text(
            "SELECT MIN(COALESCE(v.updated_at, v._extracted_at)) FROM core.penduduk_versions v "
            f"WHERE {fresh}"
        ),
        args,
    ).scalar()
    if first is None:
        p.since = date.min
        return
    first = first if first.tzinfo else first.replace(tzinfo=UTC)
    # a month changes when its cut-off (midnight WIB after its last day) is after ``first``;
    # one day earlier is kept as a margin
    p.since = first.astimezone(WIB).date() - timedelta(days=1)


def drop_temp(conn: Connection) -> None:
    for t in (LOADS_TABLE, NIKS_TABLE, DESA_TABLE):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")


def record(conn: Connection, p: Plan, started: datetime) -> None:
    """Remember what this build included, in the build's own transaction: the loads it
    rebuilt for and every load committed as it began (loads of other pipelines too, so the
    orchestration skips their runs), and the markers; the publishing marker goes."""
    values = [f"{MARK}{k}:{v}" for k, v in {**p.markers, "started": started.isoformat()}.items()]
    drop = "" if p.full_bulanan else " AND load_id LIKE :m"  # a full build forgets all
    conn.execute(
        sa.text(f"DELETE FROM ops.consumed_loads WHERE consumer = :c{drop}"),
        {"c": CONSUMER, "m": f"{MARK}%"},
    )
    known = set() if p.full_bulanan else _stored(conn)[0]
    new = sorted((set(p.new_loads) | set(p.committed)) - known)
    build_id = uuid.uuid4().hex
    conn.execute(
        sa.text(
            "INSERT INTO ops.consumed_loads (consumer, load_id, build_id, build_started_at) "
            "VALUES (:c, :l, :b, :t)"
        ),
        [{"c": CONSUMER, "l": i, "b": build_id, "t": started} for i in [*new, *values]],
    )


def record_published(conn: Connection, started: datetime) -> None:
    """The build recorded last has published its analyst copies (after its own commit)."""
    args = {"c": CONSUMER, "l": PUBLISHED, "t": started}
    conn.execute(
        sa.text("DELETE FROM ops.consumed_loads WHERE consumer = :c AND load_id = :l"), args
    )
    conn.execute(
        sa.text(
            "INSERT INTO ops.consumed_loads (consumer, load_id, build_id, build_started_at) "
            "VALUES (:c, :l, :c, :t)"
        ),
        args,
    )
