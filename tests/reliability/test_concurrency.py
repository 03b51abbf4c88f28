"""Two runs of the same pipeline at once: the second must fail at once with a clear message
(or wait), never interleave. ``simpul.landing.stream_lock`` provides the lock; every pipeline
stage and ``simpul.pipeline.run`` take it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from simpul.config import paths
from simpul.landing import RunInProgressError, stream_lock
from simpul.warehouse import open_warehouse

from .conftest import set_faults
from .crash import ROOT

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from simpul.landing import stream_lock
    with stream_lock(Path(sys.argv[1]), "siak", "penduduk"):
        Path(sys.argv[2]).write_text("held")
        time.sleep(60)
    """
)


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_stream_lock_excludes_another_process_and_dies_with_it(tmp_path: Path) -> None:
    root, marker = tmp_path / "landing", tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), str(marker)], cwd=ROOT)
    try:
        _wait_for(marker.exists)
        with pytest.raises(RunInProgressError, match=rf"in progress .*\"pid\": {holder.pid}"):
            with stream_lock(root, "siak", "penduduk"):
                pass
        with pytest.raises(RunInProgressError, match="sedang berjalan"):
            with stream_lock(root, "siak", "penduduk", wait=0.5):
                pass
        with stream_lock(root, "siak", "keluarga"):  # other streams are independent
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with stream_lock(root, "siak", "penduduk"):  # a killed holder never blocks the next run
        with stream_lock(root, "siak", "penduduk"):  # re-entrant in one process
            pass


def test_stream_lock_waits_when_asked(tmp_path: Path) -> None:
    root, marker = tmp_path / "landing", tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), str(marker)], cwd=ROOT)
    _wait_for(marker.exists)
    started = time.monotonic()
    subprocess.Popen(["sh", "-c", f"sleep 1; kill -9 {holder.pid}"])
    with stream_lock(root, "siak", "penduduk", wait=30):
        assert time.monotonic() - started >= 0.9
    holder.wait()


def test_two_runs_of_one_pipeline_at_once_the_second_fails_clearly(
    siak, siak_env, simpul_home, world_niks
):
    # a sync of several seconds: the second run (about 2-3 s of imports) must start while the
    # first still holds the lock, also now that a transform is fast (no GX import)
    set_faults(siak, latency_s=1.0)
    env = {**os.environ}
    cmd = [sys.executable, "-m", "simpul.cli", "run", "siak_penduduk"]
    first = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    landing = paths().landing / "siak"
    _wait_for(lambda: first.poll() is not None or any(landing.glob("*/siak.*")), 60)
    # the first run has landed a page: its next requests now wait until the second run has
    # tried (a busy machine may take many seconds to import the second), then go on at once
    set_faults(siak, latency_s=10.0)
    try:
        second = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        set_faults(siak, latency_s=0.0)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err.decode()[-2000:]
    assert second.returncode == 2, second.stderr[-2000:]
    message = second.stderr.strip().splitlines()
    assert len(message) == 1 and "another run is in progress" in message[0], message
    wh = open_warehouse()
    try:
        niks = [r["nik"] for r in wh.query("select nik from core.penduduk")]
        assert len(niks) == len(set(niks)) and set(niks) == world_niks
        assert wh.scalar("select count(*) from ops.loads where stream = 'penduduk'") == 1
    finally:
        wh.dispose()
