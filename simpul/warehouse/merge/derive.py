"""One record's core row, SCD2 history rows and conflict rows, derived from its stored versions
by the survivorship rules (:mod:`simpul.warehouse.survivorship`).

Pure functions of the set of versions: the same set gives the same rows whatever the order of
delivery. Which rows then reach the warehouse is :mod:`simpul.warehouse.merge.sync`'s business.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simpul.model import Entity
from simpul.warehouse.merge.shapes import TRACKED
from simpul.warehouse.pseudonym import canonical, value_hash
from simpul.warehouse.survivorship import EntityRules, State, Version, last_known, timeline

Row = dict[str, Any]
Derived = tuple[Row | None, list[Row], list[Row]]  # core row (or None), history, conflicts


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def version_time(r: Row) -> datetime:
    """When a version starts: the source's ``updated_at``, else its first extraction (UTC)."""
    return utc(r["updated_at"] or r["_extracted_at"])


def effective(ent: Entity, rows: list[Row]) -> list[Version]:
    """One version per (source, time): a source that re-sent a changed record without a new
    updated_at is taken at its most recently seen content. Missing updated_at = first seen."""
    best: dict[tuple[str, datetime], Row] = {}
    for r in rows:
        k = (r["_source"], version_time(r))
        if k not in best or (r["_last_seen_at"], r["_row_hash"]) > (
            best[k]["_last_seen_at"],
            best[k]["_row_hash"],
        ):
            best[k] = r
    return [
        Version(
            source=src,
            at=at,
            values={c: r[c] for c in ent.column_names},
            deleted=bool(r["_deleted"]),
            load_id=r["_load_id"],
            extracted_at=r["_extracted_at"],
        )
        for (src, at), r in best.items()
    ]


def derive(ent: Entity, rules: EntityRules, rk: str, rows: list[Row], key: bytes) -> Derived:
    """Core row, history rows and conflict rows of one record from its stored versions."""
    if len(rows) == 1 and not rows[0]["_deleted"]:
        return derive_one(ent, rows[0])
    versions = effective(ent, rows)
    data_cols = [c for c in ent.column_names if c not in ent.key and c != "updated_at"]
    states = timeline(rules, data_cols, versions)
    keyvals = {k: rows[0][k] for k in ent.key}
    core = _core_row(rules, data_cols, versions, states, keyvals)
    return core, _history_rows(ent, states, keyvals), _conflict_rows(ent, rk, states, key)


def _history_rows(ent: Entity, states: list[State], keyvals: Row) -> list[Row]:
    """SCD2 periods: a new one wherever the tracked columns change; none while deleted."""
    tracked = TRACKED[ent.name]
    prev: Any = object()
    runs: list[tuple[State, tuple[str | None, ...] | None]] = []
    for st in states:
        cur = None if st.values is None else tuple(canonical(st.values[c]) for c in tracked)
        if cur != prev:
            runs.append((st, cur))
            prev = cur
    history: list[Row] = []
    for i, (st, _) in enumerate(runs):
        if st.values is None:
            continue
        valid_to = runs[i + 1][0].at if i + 1 < len(runs) else None
        history.append(
            {
                **keyvals,
                "valid_from": st.at,
                "valid_to": valid_to,
                "is_current": valid_to is None,
                **{c: st.values[c] for c in tracked},
                "_source": st.lineage.source,
                "_load_id": st.lineage.load_id,
            }
        )
    return history


def _conflict_rows(ent: Entity, rk: str, states: list[State], key: bytes) -> list[Row]:
    """Each disagreement once, at its first sighting (states are in time order); values only
    as keyed hashes."""
    conflicts: dict[tuple[Any, ...], Row] = {}
    for st in states:
        for c in st.conflicts:
            row = {
                "entity": ent.name,
                "record_key": rk,
                "column_name": c.column,
                "kept_source": c.kept_source,
                "kept_hash": value_hash(c.column, c.kept_value, key),
                "rejected_source": c.rejected_source,
                "rejected_hash": value_hash(c.column, c.rejected_value, key),
            }
            ident = tuple(row.values())
            if ident not in conflicts:
                conflicts[ident] = {**row, "observed_at": st.at}
    return list(conflicts.values())


def _core_row(
    rules: EntityRules,
    data_cols: list[str],
    versions: list[Version],
    states: list[State],
    keyvals: Row,
) -> Row | None:
    """The current record: the last state, or for a deleted record its last known values with
    ``_deleted_at`` at the start of the trailing deleted run."""
    if not states:
        return None
    final = states[-1]
    values = final.values
    deleted_at = None
    if values is None:
        values = last_known(rules, data_cols, versions)
        deleted_at = final.at
        for st in reversed(states):
            if st.values is not None:
                break
            deleted_at = st.at
    if values is None:
        return None
    alive = [s for s in states if s.values is not None]
    return {
        **keyvals,
        **values,
        "updated_at": alive[-1].at if alive else final.at,
        "_load_id": final.lineage.load_id,
        "_source": final.lineage.source,
        "_extracted_at": final.lineage.extracted_at,
        "_deleted_at": deleted_at,
    }


def derive_one(ent: Entity, r: Row) -> Derived:
    """:func:`derive` of a record with one stored, live version (most records of a snapshot).

    One source and one time give one state whose values are the version's own (a single source
    conflicts with nobody and is the winner of every column it fills), hence one current
    history period and no conflicts: the same rows the general path builds, without it.
    """
    at = version_time(r)
    keyvals = {k: r[k] for k in ent.key}
    values = {c: r[c] for c in ent.column_names if c not in ent.key and c != "updated_at"}
    history = {
        **keyvals,
        "valid_from": at,
        "valid_to": None,
        "is_current": True,
        **{c: values[c] for c in TRACKED[ent.name]},
        "_source": r["_source"],
        "_load_id": r["_load_id"],
    }
    core = {
        **keyvals,
        **values,
        "updated_at": at,
        "_load_id": r["_load_id"],
        "_source": r["_source"],
        "_extracted_at": r["_extracted_at"],
        "_deleted_at": None,
    }
    return core, [history], []
