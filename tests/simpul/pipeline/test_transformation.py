"""A transform imports no Great Expectations (~5 s): the suites are specs, the vectorised pass
is plain pandas and Data Docs are deferred to ``simpul.validate.build_data_docs``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from simpul.config import PROJECT_ROOT

SCRIPT = """
import json, sys
from connectors.base.contract import rows_to_batch
from simpul import pipeline
from simpul.config import paths
from simpul.landing import land
from tests.siak_rows import person

rows = [person(i) for i in range(1, 8)] + [person(8, AGAMA="JEDI", NO_KK="123")]
load_id = land(
    iter([rows_to_batch(rows)]), root=paths().landing, source="siak", stream="penduduk",
    cursor_to="2026-10-01T08:00:00Z",
).load_id
result = pipeline.transform("siak_penduduk", load_id)
print(json.dumps({"load_id": load_id, "gx": "great_expectations" in sys.modules,
                  "quarantined": result["quarantined"]}))
"""


def test_transform_imports_no_great_expectations(tmp_path: Path, monkeypatch) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"SIMPUL_WAREHOUSE_URL"}}
    env |= {"SIMPUL_HOME": str(tmp_path), "SIMPUL_DATA_DOCS": "deferred"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["gx"] is False
    assert out["quarantined"] == 1
    # the Data Docs of that run, built on demand from the stored result, where they always were
    from simpul.cli import main
    from simpul.config import paths

    monkeypatch.setenv("SIMPUL_HOME", str(tmp_path))
    reports = paths().reports / out["load_id"]
    assert not (reports / "data_docs").exists()
    assert main(["data-docs", out["load_id"]]) == 0
    assert (reports / "data_docs" / "index.html").exists()
