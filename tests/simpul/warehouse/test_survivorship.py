"""Survivorship as configuration: SIAK wins identity, OpenSID wins dusun/RW/RT, newest wins the
rest; every disagreement is in ops.merge_conflicts, hashed, whatever the load order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simpul.config import ConfigError
from simpul.warehouse import open_warehouse
from simpul.warehouse.survivorship import (
    EntityRules,
    SurvivorshipConfig,
    Version,
    load_rules,
    timeline,
)
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, reset, rows, stage

SIAK = dict(updated="2026-10-01T08:00:00Z", NO_RT="002", JENIS_PKRJN="PETANI/PEKEBUN")
VILLAGE = dict(
    updated="2026-10-03T08:00:00Z", NO_RT="005", NAMA_LGKP="WARGA SATU", JENIS_PKRJN="PERDAGANGAN"
)


def test_two_sources_merge_by_rules_and_record_conflicts(warehouse_url):
    deliveries = [stage([person(1, **SIAK)], "siak"), stage([person(1, **VILLAGE)], "opensid")]
    results = []
    for order in (deliveries, deliveries[::-1]):
        reset(warehouse_url)
        for load_id in order:
            load(load_id)
        wh = open_warehouse()
        results.append(
            (
                rows(wh, "core.penduduk", "nik"),
                rows(wh, "ops.merge_conflicts", "column_name, kept_source"),
                rows(wh, "core.penduduk_history", "valid_from"),
            )
        )
        wh.dispose()
    assert results[0] == results[1]
    core, conflicts, history = results[0]
    assert core[0]["nama_lengkap"] == "WARGA 1"  # identity: SIAK
    assert core[0]["rt"] == "005"  # lingkungan: the village
    assert core[0]["pekerjaan"] == "8"  # otherwise the newest (the village, 3 Oct)
    assert [(c["column_name"], c["kept_source"], c["rejected_source"]) for c in conflicts] == [
        ("nama_lengkap", "siak", "opensid"),
        ("pekerjaan", "opensid", "siak"),
        ("rt", "opensid", "siak"),
    ]
    assert all(c["record_key"] == person(1)["NIK"] for c in conflicts)
    text = repr(conflicts)
    assert "WARGA" not in text and "PERDAGANGAN" not in text and "'005'" not in text
    assert all(len(c["kept_hash"]) == 16 != c["rejected_hash"] for c in conflicts)
    assert [(h["rt"], h["_source"]) for h in history] == [("002", "siak"), ("005", "opensid")]


def test_conflicts_keep_their_detection_when_reloaded(warehouse_url):
    load(stage([person(1, **SIAK)], "siak"))
    first = load(stage([person(1, **VILLAGE)], "opensid"))
    load(stage([person(1, **VILLAGE)], "opensid"))  # the village sends the same again
    wh = open_warehouse()
    assert {r["load_id"] for r in wh.query("select load_id from ops.merge_conflicts")} == {
        first["load_id"]
    }
    wh.dispose()


def test_shipped_rules_are_valid():
    rules = load_rules().for_entity("penduduk")
    assert rules.groups["identitas"].sources == ["siak"]
    assert rules.group_of("rt") == "lingkungan" and rules.group_of("pekerjaan") is None


@pytest.mark.parametrize(
    "bad",
    [
        {
            "entities": {
                "penduduk": {
                    "groups": {"a": {"rule": "priority", "sources": ["siak"], "columns": ["nik"]}}
                }
            }
        },
        {
            "entities": {
                "penduduk": {
                    "groups": {
                        "a": {"rule": "newest", "columns": ["rt"]},
                        "b": {"rule": "priority", "sources": ["x"], "columns": ["rt"]},
                    }
                }
            }
        },
        {"entities": {"penduduk": {"groups": {"a": {"rule": "priority", "columns": ["rt"]}}}}},
        {"entities": {"tidak_ada": {}}},
    ],
)
def test_invalid_rules_are_rejected(bad, tmp_path):
    with pytest.raises(ValueError):
        SurvivorshipConfig.model_validate(bad)
    path = tmp_path / "rules.yaml"
    path.write_text("entities: {penduduk: {default: oldest}}\n")
    with pytest.raises(ConfigError, match="invalid survivorship"):
        load_rules(path)


T0 = datetime(2026, 1, 1, tzinfo=UTC)
version = st.builds(
    lambda src, day, rt, kerja, deleted: Version(
        src, T0 + timedelta(days=day), {"rt": rt, "pekerjaan": kerja}, deleted, "l", T0
    ),
    st.sampled_from(["siak", "opensid", "lain"]),
    st.integers(0, 20),
    st.sampled_from(["001", "002", None]),
    st.sampled_from(["8", "9", None]),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(version, max_size=8, unique_by=lambda v: (v.source, v.at)), st.randoms())
def test_timeline_does_not_depend_on_arrival_order(versions, rnd: random.Random):
    rules = load_rules().for_entity("penduduk")
    shuffled = rnd.sample(versions, len(versions))
    assert timeline(rules, ["rt", "pekerjaan"], versions) == timeline(
        rules, ["rt", "pekerjaan"], shuffled
    )


def test_priority_falls_back_to_newest_when_the_preferred_source_has_no_value():
    rules = EntityRules.model_validate(
        {
            "tie_break": ["siak"],
            "groups": {"l": {"rule": "priority", "sources": ["opensid"], "columns": ["rt"]}},
        }
    )
    v = [
        Version("siak", T0, {"rt": "001"}, False, "a", T0),
        Version("opensid", T0 + timedelta(days=1), {"rt": None}, False, "b", T0),
    ]
    (_, last) = timeline(rules, ["rt"], v)
    assert last.values == {"rt": "001"} and last.conflicts == []
