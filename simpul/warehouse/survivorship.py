"""Survivorship as configuration, and the pure functions that merge source versions.

Several sources describe the same person (SIAK from Disdukcapil, OpenSID from the villages).
Which one wins which columns is a policy decision, so it lives in ``survivorship.yaml`` and is
validated here. The merge itself is a pure function of the set of versions received, never of
the order they arrived in: that is what makes reloads and out-of-order deliveries give the same
core record and the same history.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simpul.config import ConfigError
from simpul.model import ENTITIES

DEFAULT_RULES = Path(__file__).with_name("survivorship.yaml")


class Group(BaseModel):
    """A column group and the rule that picks its source."""

    model_config = ConfigDict(extra="forbid")

    rule: Literal["priority", "newest"]
    sources: list[str] = Field(default_factory=list, description="priority order")
    columns: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _sources_for_priority(self) -> Group:
        if self.rule == "priority" and not self.sources:
            raise ValueError("a priority group needs at least one source")
        return self


class EntityRules(BaseModel):
    """Survivorship of one entity: groups, a default for other columns, a tie-break order."""

    model_config = ConfigDict(extra="forbid")

    default: Literal["newest"] = "newest"
    tie_break: list[str] = Field(default_factory=list)
    groups: dict[str, Group] = Field(default_factory=dict)

    def group_of(self, column: str) -> str | None:
        for name, g in self.groups.items():
            if column in g.columns:
                return name
        return None


class SurvivorshipConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    entities: dict[str, EntityRules] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _columns_exist(self) -> SurvivorshipConfig:
        for name, rules in self.entities.items():
            if name not in ENTITIES:
                raise ValueError(f"unknown entity {name!r}")
            ent = ENTITIES[name]
            allowed = set(ent.column_names) - set(ent.key) - {"updated_at"}
            seen: set[str] = set()
            for gname, g in rules.groups.items():
                for c in g.columns:
                    if c not in allowed:
                        raise ValueError(f"{name}.{gname}: {c!r} is not a mergeable column")
                    if c in seen:
                        raise ValueError(f"{name}: column {c!r} is in two groups")
                    seen.add(c)
        return self

    def for_entity(self, name: str) -> EntityRules:
        return self.entities.get(name) or EntityRules()


def load_rules(path: Path | str | None = None) -> SurvivorshipConfig:
    """Read and validate survivorship rules (``SIMPUL_SURVIVORSHIP`` or the shipped file)."""
    path = Path(path or os.environ.get("SIMPUL_SURVIVORSHIP") or DEFAULT_RULES)
    return _load(str(path))


@lru_cache(maxsize=8)
def _load(path: str) -> SurvivorshipConfig:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return SurvivorshipConfig.model_validate(raw or {})
    except FileNotFoundError:
        raise ConfigError(f"{path}: survivorship rules not found") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid survivorship rules: {exc}") from None


@dataclass(frozen=True)
class Version:
    """One source's state of one record from time ``at`` on (a deletion if ``deleted``)."""

    source: str
    at: datetime
    values: dict[str, Any]
    deleted: bool
    load_id: str
    extracted_at: datetime


@dataclass(frozen=True)
class Conflict:
    column: str
    kept_source: str
    kept_value: Any
    rejected_source: str
    rejected_value: Any


@dataclass
class State:
    """The merged record at time ``at``: ``values`` is None while every source has deleted it."""

    at: datetime
    values: dict[str, Any] | None
    lineage: Version
    conflicts: list[Conflict] = field(default_factory=list)


def _order(rules: EntityRules, live: dict[str, Version]) -> list[str]:
    """Sources newest first; ties by the configured tie-break order, then by name."""
    rank = {s: i for i, s in enumerate(rules.tie_break)}

    def key(s: str) -> tuple[float, int, str]:
        return (-live[s].at.timestamp(), rank.get(s, len(rank)), s)

    return sorted(live, key=key)


def merge_sources(
    rules: EntityRules, columns: list[str], live: dict[str, Version]
) -> tuple[dict[str, Any], list[Conflict]]:
    """Merge the current versions of the live sources into one record, column by column."""
    newest = _order(rules, live)
    values: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    done: set[str] = set()
    for g in rules.groups.values():
        cols = [c for c in g.columns if c in columns]
        if g.rule == "priority":
            candidates = [s for s in g.sources if s in live]
            candidates += [s for s in newest if s not in candidates]
            winner = next(
                (s for s in candidates if any(live[s].values.get(c) is not None for c in cols)),
                None,
            )
            for c in cols:
                values[c] = _keep(c, winner, live, newest, conflicts)
            done.update(cols)
    for c in columns:
        if c in done:
            continue
        winner = next((s for s in newest if live[s].values.get(c) is not None), None)
        values[c] = _keep(c, winner, live, newest, conflicts)
    return values, conflicts


def _keep(
    column: str,
    winner: str | None,
    live: dict[str, Version],
    newest: list[str],
    conflicts: list[Conflict],
) -> Any:
    """The winner's value of ``column``; every other source's different value is a conflict."""
    kept = live[winner].values.get(column) if winner else None
    for s in newest:
        other = live[s].values.get(column)
        if s != winner and other is not None and other != kept:
            conflicts.append(Conflict(column, winner or "", kept, s, other))
    return kept


def timeline(rules: EntityRules, columns: list[str], versions: list[Version]) -> list[State]:
    """The merged record at every point in time where some source's version starts.

    ``versions`` must hold at most one version per (source, at); the result depends only on
    that set, so delivering versions twice or in any order gives the same timeline.
    """
    ordered = sorted(versions, key=lambda v: (v.at, v.source))
    current: dict[str, Version] = {}
    states: list[State] = []
    i = 0
    while i < len(ordered):
        at = ordered[i].at
        starting: list[Version] = []
        while i < len(ordered) and ordered[i].at == at:
            current[ordered[i].source] = ordered[i]
            starting.append(ordered[i])
            i += 1
        live = {s: v for s, v in current.items() if not v.deleted}
        if live:
            values, conflicts = merge_sources(rules, columns, live)
            states.append(State(at, values, starting[0], conflicts))
        else:
            states.append(State(at, None, starting[0]))
    return states


def last_known(
    rules: EntityRules, columns: list[str], versions: list[Version]
) -> dict[str, Any] | None:
    """The merged values from each source's latest non-deleted version (for deleted records)."""
    latest: dict[str, Version] = {}
    for v in sorted(versions, key=lambda v: v.at):
        if not v.deleted:
            latest[v.source] = v
    if not latest:
        return None
    return merge_sources(rules, columns, latest)[0]
