"""Test hook: run a pipeline in a child process and SIGKILL it at a named point.

The child is plain ``python -c CHILD``; the kill point comes from ``SIMPUL_TEST_KILL_AT`` and is
installed by monkeypatching *inside the child* (nothing in the product knows about it):

==================  ===========================================================================
``mid_extract``     after the first page of the main stream was landed as a part (unsealed)
``after_extract``   the delivery is sealed (manifest written), transform not started
``after_transform`` staging written, load not started
``mid_load``        inside the load transaction, after core rows were merged, before commit
``after_load``      the load committed, the process dies before it returns
==================  ===========================================================================

Just before dying the child writes the point's name to ``SIMPUL_TEST_KILL_MARKER``, so the test
can tell "killed where asked" from "crashed for another reason".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa

KILL_POINTS = ("mid_extract", "after_extract", "after_transform", "mid_load", "after_load")
ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    point = os.environ["SIMPUL_TEST_KILL_AT"]
    marker = Path(os.environ["SIMPUL_TEST_KILL_MARKER"])

    def die():
        marker.write_text(point)
        os.kill(os.getpid(), signal.SIGKILL)

    from simpul import pipeline
    from simpul.config import load_config
    from simpul.pipeline import actions  # where run() finds the stages
    from simpul.warehouse import merge

    if point == "mid_extract":
        from simpul.landing_resume import PartialDelivery

        real_append = PartialDelivery.append

        def append(self, *a, **k):
            if self.state["pages_landed"] == 1:  # the first page is landed, not sealed
                die()
            return real_append(self, *a, **k)

        PartialDelivery.append = append
    elif point == "after_extract":
        actions.transform = lambda *a, **k: die()
    elif point == "after_transform":
        actions.load = lambda *a, **k: die()
    elif point == "mid_load":
        real_apply = merge.apply_versions

        def apply_versions(*a, **k):
            real_apply(*a, **k)
            die()

        merge.apply_versions = apply_versions
    elif point == "after_load":
        real_load = actions.load

        def load(*a, **k):
            real_load(*a, **k)
            die()

        actions.load = load
    else:
        sys.exit(f"unknown kill point {point}")

    cfg = load_config()
    cfg.sources["siak"].page_size = int(os.environ.get("SIMPUL_TEST_PAGE_SIZE", "100"))
    pipeline.run(sys.argv[1], cfg)
    sys.exit("not killed")
    """
)


def run_and_kill(pipeline_name: str, point: str, env: dict[str, str], tmp: Path) -> Path:
    """Run ``pipeline_name`` in a child process killed at ``point``; returns the marker file."""
    marker = tmp / f"killed-{point}"
    child_env = {
        **os.environ,
        **env,
        "SIMPUL_TEST_KILL_AT": point,
        "SIMPUL_TEST_KILL_MARKER": str(marker),
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD, pipeline_name],
        env=child_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == -signal.SIGKILL, out.stderr[-3000:]
    assert marker.read_text() == point
    return marker


# columns set at load time (ids and timestamps of *when* we loaded); everything else must match
LOAD_TIME = {
    "_load_id",
    "_extracted_at",
    "_merged_at",
    "_recorded_at",
    "_last_seen_at",
    "_first_seen_at",
    "detected_load_id",
    "detected_at",
    "first_observed_at",
    "quarantined_at",
    "resolved_at",
    "load_id",
}
CORE_TABLES = ("core.penduduk", "core.penduduk_versions", "core.penduduk_history")


def snapshot(wh, tables: tuple[str, ...] = CORE_TABLES) -> dict[str, list[tuple]]:
    """Every row of ``tables`` without load-time columns, sorted: equal iff same content."""
    out: dict[str, list[tuple]] = {}
    with wh.engine.connect() as conn:
        for t in tables:
            rows = conn.execute(sa.text(f"select * from {t}")).mappings().all()
            keep = [c for c in (rows[0].keys() if rows else []) if c not in LOAD_TIME]
            out[t] = sorted(
                (tuple(str(r[c]) for c in keep) for r in rows), key=lambda r: tuple(map(str, r))
            )
        q = conn.execute(
            sa.text(
                "select record_key, rules, status from ops.quarantine "
                "where status = 'open' order by 1, 2"
            )
        ).all()
        out["ops.quarantine(open)"] = [tuple(r) for r in q]
    return out
