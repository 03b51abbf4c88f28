"""Operator paths of the pipeline: release a held delivery, replay a landed one."""

from __future__ import annotations

import json

import pytest

from connectors.base.contract import rows_to_batch
from simpul import pipeline
from simpul.config import paths
from simpul.landing import land
from simpul.orchestration.audit import audit_file
from simpul.pipeline import extraction
from simpul.warehouse import open_warehouse
from tests.siak_rows import person

PIPE = "siak_penduduk"


def landed(rows):
    return land(
        iter([rows_to_batch(rows)]),
        root=paths().landing,
        source="siak",
        stream="penduduk",
        cursor_to="2026-10-01T08:00:00Z",
    ).load_id


def test_release_loads_a_held_delivery_and_is_audited(simpul_home):
    rows = [person(i, AGAMA="???") for i in range(1, 4)] + [person(i) for i in range(4, 7)]
    load_id = landed(rows)
    pipeline.transform(PIPE, load_id)
    assert pipeline.load(PIPE, load_id)["status"] == "held"
    with pytest.raises(pipeline.PipelineError, match="reviewer"):
        pipeline.release(PIPE, load_id, " ")
    from simpul.orchestration.cli import release_load

    result = release_load(load_id, "operator kecamatan")
    assert result["status"] == "loaded"
    assert (result["rows_loaded"], result["rows_quarantined"]) == (3, 3)
    entry = json.loads(audit_file().read_text().splitlines()[-1])
    assert entry["command"] == "release" and entry["args"]["reviewer"] == "operator kecamatan"


def test_crash_between_landing_and_loading_is_recovered_by_replay(simpul_home):
    rows = [person(i) for i in range(1, 6)]
    load_id = landed(rows)  # extract landed, then the process died: nothing loaded
    wh = open_warehouse()
    assert wh.scalar("select count(*) from core.penduduk") == 0
    result = pipeline.replay(PIPE, load_id)
    assert result["rows_loaded"] == 5
    assert pipeline.replay(PIPE, load_id)["status"] == "already_loaded"
    assert json.loads(audit_file().read_text().splitlines()[-1])["command"] == "replay"
    assert wh.scalar("select count(*) from core.penduduk") == 5
    wh.dispose()


def test_tampered_landing_is_refused(simpul_home):
    from simpul.landing import LandingError, find_manifest

    load_id = landed([person(1)])
    path = find_manifest(paths().landing, load_id).path
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(LandingError, match="SHA-256"):
        pipeline.replay(PIPE, load_id)


def test_bounded_backfill_never_moves_the_cursor(simpul_home, monkeypatch):
    from datetime import UTC, datetime

    from connectors.base.contract import Connector, ReadResult, StreamSpec

    rows = [person(i, updated=f"2026-10-0{i}T08:00:00Z") for i in range(1, 6)]

    class Fake(Connector):
        id = "siak"
        streams = {"penduduk": StreamSpec("penduduk", ("NIK",), "UPDATED_AT")}

        def read(self, stream, *, since, result: ReadResult):
            keep = [r for r in rows if since is None or r["UPDATED_AT"] >= since]
            result.observe([r["UPDATED_AT"] for r in keep])
            yield rows_to_batch(keep)

    monkeypatch.setattr(extraction, "build_connector", lambda cfg, source: Fake())
    result = pipeline.backfill(
        PIPE, since=datetime(2026, 10, 2, tzinfo=UTC), until="2026-10-04T00:00:00Z"
    )
    assert result["rows_received"] == 2  # 2 and 3 October
    wh = open_warehouse()
    assert wh.scalar("select count(*) from ops.cursors") == 0
    wh.dispose()
    with pytest.raises(pipeline.PipelineError, match="zona waktu"):
        pipeline.backfill(PIPE, since=datetime(2026, 10, 2))
