"""What every stage shares: the operator-facing error, the run lock, the prepared config and
where a delivery is staged."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from simpul.config import SimpulConfig, load_config, paths
from simpul.landing import stream_lock

BATCH_ROWS = 50_000


class PipelineError(Exception):
    """A run stopped for a reason an operator can act on (message in English and Indonesian)."""


def pipeline_lock(
    cfg: SimpulConfig, name: str, partition: str | None = None
) -> AbstractContextManager[Path]:
    """The run lock of a pipeline's (source, stream): one run at a time, across processes.

    A second ``simpul run`` (or an Airflow task of an overlapping run) fails at once with a
    one-line :class:`~simpul.landing.RunInProgressError` instead of interleaving its loads.
    ``partition`` (a province kabupaten): one run per (source, stream, partition), so the
    partitions of workers sharing a home run side by side.
    """
    p = cfg.pipeline(name)
    return stream_lock(paths().landing, p.source, p.stream, partition=partition)


def stage_config(cfg: SimpulConfig | None) -> SimpulConfig:
    """The config a stage runs with; first makes every file it writes owner-only."""
    from simpul.securefs import owner_only_umask

    owner_only_umask()  # every stage: landed, staged, reported data owner-only whatever the umask
    return cfg or load_config()


def staging_dir(load_id: str) -> Path:
    """Where ``transform`` leaves a delivery's mapped rows, findings and summary for ``load``."""
    return paths().staging / load_id
