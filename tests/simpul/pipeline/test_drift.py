"""Schema drift, computed once for transform and for the DAG's drift alert."""

from __future__ import annotations

from simpul.pipeline.drift import unmapped_additions


def test_drift_alert_columns_ignore_first_loads_mapped_and_lineage_columns():
    assert unmapped_additions(None, {"nik"}) == []  # a first load has no drift to report
    drift = {"added": ["_source_file", "_source_row", "_file_mtime", "nik", "kolom_baru"]}
    assert unmapped_additions(drift, {"nik"}) == ["kolom_baru"]
