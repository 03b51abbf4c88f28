"""One contract suite over every registered connector (connectors/registry.py), as Meltano's
SDK runs over taps: declared streams, all-text batches, key and cursor columns present, the
cursor observed, lineage columns and ledger entries for file drops, and a second read of a file
drop with its ledger taking nothing. A connector added to the registry without a fixture here
fails ``test_every_registered_connector_has_a_contract_fixture``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pytest

from connectors import registry
from connectors.base.contract import Connector, ReadResult
from simpul.config import SourceSettings, load_config

FILE_DROPS = {"opensid", "dinsos", "siak_export"}
FIXTURED = FILE_DROPS | {"siak", "oss", "sql"}


def test_every_registered_connector_has_a_contract_fixture() -> None:
    assert set(registry.names()) <= FIXTURED, set(registry.names()) - FIXTURED
    cfg = load_config()
    assert {s.connector for s in cfg.sources.values()} <= set(registry.names())


def _old(path: Path) -> None:
    os.utime(path, (time.time() - 120, time.time() - 120))


def _drop_settings(tmp_path: Path, name: str) -> SourceSettings:
    from tests.connectors.opensid.test_connector import template_row, workbook
    from tests.connectors.siak_export.test_connector import rows, xlsx

    drop = tmp_path / name
    drop.mkdir()
    if name == "opensid":
        f = drop / "penduduk_16.08.01.2006.xlsx"
        f.write_bytes(workbook([template_row(1), template_row(2)]))
    elif name == "dinsos":
        f = drop / "bantuan.csv"
        f.write_text(
            "NIK;NO_KK;NAMA;PROGRAM;PERIODE;KODE_DESA;NOMINAL\n"
            "1608011301900001;1608010101100001;A;PKH;2026-Q3;1608012006;1\n"
        )
    else:
        f = drop / "siak.xlsx"
        f.write_bytes(xlsx(rows(3)))
    _old(f)
    return SourceSettings(connector=name, agency="test", drop_url=str(drop), settle_seconds=0)


@pytest.fixture
def built(request, tmp_path: Path, sims) -> Connector:
    name = request.param
    if name in FILE_DROPS:
        settings = _drop_settings(tmp_path, name)
    elif name == "sql":
        import sqlalchemy as sa

        url = f"sqlite:///{tmp_path / 'agency.db'}"
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id VARCHAR PRIMARY KEY, v INT, ts TIMESTAMP)")
            conn.exec_driver_sql("INSERT INTO t VALUES ('a', 1, '2026-10-01 08:00:00')")
        engine.dispose()
        settings = SourceSettings(
            connector="sql", agency="test", base_url=url, table="t", key=["id"], watermark="ts"
        )
    else:
        settings = load_config().sources[name]
    return registry.build(name, settings, "16.08.01")


@pytest.mark.parametrize("built", sorted(FIXTURED), indirect=True)
def test_connector_contract(built: Connector) -> None:
    assert built.streams, "a connector declares its streams"
    stream, spec = next(iter(built.streams.items()))
    result = ReadResult()
    batches = list(built.read(stream, since=None, result=result))
    assert batches and sum(b.num_rows for b in batches) > 0
    names = batches[0].schema.names
    for b in batches:
        assert b.schema.names == names, "one schema per delivery"
        assert all(pa.types.is_string(f.type) or pa.types.is_null(f.type) for f in b.schema), (
            "rows as delivered: every value text"
        )
    for k in spec.primary_key:
        assert k in names, f"key column {k} delivered"
    if spec.cursor_field:
        assert spec.cursor_field in names and result.cursor_max is not None
    if built.id in FILE_DROPS:
        assert {"_source_file", "_source_row"} <= set(names), "lineage: file and row"
        assert result.files and all(f["sha256"] for f in result.files)
        built.known = {f["sha256"]: "earlier" for f in result.files}
        again = ReadResult()
        assert sum(b.num_rows for b in built.read(stream, since=None, result=again)) == 0
        assert {f["status"] for f in again.files} == {"skipped"}
    close = getattr(built, "close", None)
    if close:
        close()
