"""The whole-delivery quality gates: a delivery is held (nothing merged) when too many of its
rows fail, or when it is far shorter than the last loaded one. A reviewer's release lifts both."""

from __future__ import annotations

from simpul.config import PipelineSettings
from simpul.landing import Manifest
from simpul.pipeline.drift import previous_rows


def hold_message(
    p: PipelineSettings,
    manifest: Manifest,
    counts: dict[str, int],
    error_rate: float,
    released_by: str | None,
) -> str | None:
    """Why the delivery is held, in English and Indonesian; None when it may load."""
    if released_by:
        return None
    if error_rate > p.max_error_rate:
        return (
            f"held: error rate {error_rate:.1%} above the gate {p.max_error_rate:.0%} / "
            f"ditahan: tingkat galat {error_rate:.1%} di atas ambang {p.max_error_rate:.0%}"
        )
    if not p.min_row_ratio:
        return None
    last_rows = previous_rows(manifest)
    news = counts["valid"] + counts["quarantined"]  # a delivery of nothing new is never held
    if news and last_rows and manifest.row_count < p.min_row_ratio * last_rows:
        return (
            f"held: {manifest.row_count} rows against {last_rows} in the last delivery "
            f"(below {p.min_row_ratio:.0%}) / ditahan: {manifest.row_count} baris dibanding "
            f"{last_rows} pada kiriman terakhir (di bawah {p.min_row_ratio:.0%})"
        )
    return None
