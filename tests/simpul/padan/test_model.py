"""Linkage on synthetic ground truth: EM-trained, saved with its report, accurate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simpul.padan.comparisons import LEVELS
from simpul.padan.features import prepare
from simpul.padan.model import link
from simpul.synth import WorldConfig, generate_world
from simpul.synth.linkage import make_linkage_records, siak_records


@pytest.fixture(scope="module")
def linked():
    world = generate_world(WorldConfig(seed=11, population=2000))
    recs, truth = make_linkage_records(world.penduduk, n=400, corruption_rate=0.6, seed=11)
    out, trained = link(prepare(recs), prepare(siak_records(world.penduduk)))
    return out.merge(truth, left_on="unique_id", right_on="record_id"), trained


def test_corruptions_are_all_present(linked) -> None:
    m, _ = linked
    kinds = {k for c in m["corruptions"] for k in c.split(",") if k}
    assert {
        "nik_typo",
        "nik_transposition",
        "nik_missing",
        "name_variant",
        "date_day_month_swap",
        "moved_village",
        "not_in_siak",
    } <= kinds


def test_auto_links_are_precise_and_linkable_records_are_found(linked) -> None:
    m, _ = linked
    auto = m[m["keputusan"] == "tertaut_otomatis"]
    assert len(auto) > 0.8 * len(m)
    precision = (auto["siak_id"] == auto["true_nik"]).mean()
    assert precision >= 0.995
    linkable = m[m["true_nik"].notna()]
    found = (linkable["siak_id"] == linkable["true_nik"]) & linkable["keputusan"].isin(
        ["tertaut_otomatis", "tinjau"]
    )
    assert found.mean() >= 0.97
    # a mistyped NIK (the exact join misses it) is still linked to the right person
    typo = m[m["corruptions"].str.contains("nik_typo|nik_transposition|nik_excel_zeroed")]
    assert len(typo) and (typo["siak_id"] == typo["true_nik"]).mean() >= 0.97
    # people SIAK does not know are never auto-linked
    assert not (m[m["true_nik"].isna()]["keputusan"] == "tertaut_otomatis").any()


def test_model_is_trained_by_em_and_saved_with_a_report(linked, tmp_path: Path) -> None:
    _, trained = linked
    assert trained is not None
    d = trained.save(tmp_path)
    model = json.loads((d / "model.json").read_text())
    report = json.loads((d / "training_report.json").read_text())
    assert d.name == trained.version == report["version"]
    assert set(report["parameters"]) == set(LEVELS)
    nama = {lv["level"]: lv for lv in report["parameters"]["nama"]}
    # learned from the data: agreement far likelier among matches than among non-matches
    assert nama["exact"]["m"] > 0.5 and nama["exact"]["u"] < 0.05
    assert report["records_siak"] == 2000 and "em_blocking_rules" in report
    assert model["link_type"] == "link_only"
    text = (d / "training_report.json").read_text() + (d / "model.json").read_text()
    assert not any(n in text for n in ("1608", "SITI"))  # no NIK or names in the artefacts


def test_a_saved_model_links_without_retraining(linked) -> None:
    m, trained = linked
    world = generate_world(WorldConfig(seed=11, population=2000))
    recs, _ = make_linkage_records(world.penduduk, n=50, corruption_rate=0.3, seed=12)
    out, again = link(prepare(recs), prepare(siak_records(world.penduduk)), model=trained.model)
    assert again is None and (out["keputusan"] == "tertaut_otomatis").mean() > 0.8
