"""Pulls that resume: pages landed as they arrive, as parts of one (still unsealed) delivery.

Over a mobile link a pull of 64 pages can die at page 30. Re-fetching pages 1-29 on the rerun
costs megabytes on a metered line, so each page is written to
``<landing>/<source>/<stream>/<load_id>/parts/NNNNNN.parquet`` the moment it arrives, and
``_progress.json`` beside it records what the next run needs to continue: where the next page is
(the server's next-page link, page number or cursor), the rows and cursor range so far, and the
bytes each run transferred.

The folder has no manifest until every page is there; only then are the parts joined into the
usual ``data.parquet`` and sealed by :func:`simpul.landing.land` (manifest with SHA-256), so
nothing half-pulled can ever be transformed or loaded: ``find_manifest`` does not see it.

A rerun continues a partial delivery only when it asks for the same thing (same ``since`` /
``until``); any other partial of the stream is discarded (never loaded, so nothing is lost).

Page offsets can shift while a pull waits out an outage (a record updated in between moves to
the end of the ``updated_since`` order), so a row could slip into a page already landed. To
lose nothing, a delivery that was resumed after landing data moves the stored cursor only to
the last change seen *before* the break: the next run reads again from there (the merge is
idempotent), instead of the whole pull being repeated now.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simpul import atrest
from simpul.landing import MANIFEST, LandingError, Manifest, land, new_load_id

log = logging.getLogger(__name__)

PROGRESS = "_progress.json"
PARTS = "parts"


class PartialDelivery:
    """An unsealed delivery being pulled page by page; see the module docstring."""

    def __init__(self, folder: Path, state: dict[str, Any]) -> None:
        self.folder = folder
        self.state = state
        self._run_bytes_base = 0

    # -- finding / starting ---------------------------------------------------------------
    @classmethod
    def open(cls, root: Path, source: str, stream: str, request: dict[str, Any]) -> PartialDelivery:
        """The unsealed delivery of ``(source, stream)`` pulled with ``request`` (resumed),
        or a new one. Other unsealed partial deliveries of the stream are discarded."""
        base = root / source / stream
        found: PartialDelivery | None = None
        if base.exists():
            for folder in sorted(base.iterdir()):
                progress = folder / PROGRESS
                if not progress.exists() or (folder / MANIFEST).exists():
                    continue
                try:
                    state = json.loads(progress.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    state = None
                if found is None and state and state.get("request") == request:
                    found = cls(folder, state)
                    continue
                log.warning("discarding unsealed partial delivery %s (other request)", folder.name)
                shutil.rmtree(folder, ignore_errors=True)
        if found is not None:
            found.state["runs"] = int(found.state.get("runs", 0)) + 1
            if not found.state.get("resumed") and found.state.get("pages_landed"):
                # data landed before the break: remember the safe cursor (module docstring)
                found.state["resumed"] = True
                found.state["cursor_before_resume"] = found.state.get("cursor_max")
            found._save()
            log.info(
                "resuming %s after %d landed page(s), %d rows",
                found.load_id,
                found.state.get("pages_landed", 0),
                found.state.get("rows", 0),
            )
            return found
        load_id = new_load_id(source, stream)
        folder = base / load_id
        (folder / PARTS).mkdir(parents=True, exist_ok=True)
        state = {
            "load_id": load_id,
            "source": source,
            "stream": stream,
            "request": request,
            "started_at": datetime.now(UTC).isoformat(),
            "runs": 1,
            "parts": [],
            "pages_landed": 0,
            "rows": 0,
            "resume": None,
            "cursor_min": None,
            "cursor_max": None,
            "bytes": 0,
            "resumed": False,
            "cursor_before_resume": None,
        }
        partial = cls(folder, state)
        partial._save()
        return partial

    # -- properties -----------------------------------------------------------------------
    @property
    def load_id(self) -> str:
        return self.state["load_id"]

    @property
    def resume(self) -> dict[str, Any] | None:
        return self.state.get("resume")

    @property
    def resumed(self) -> bool:
        return int(self.state.get("runs", 1)) > 1

    @property
    def extracted_at(self) -> datetime:
        return datetime.fromisoformat(self.state["started_at"])

    # -- writing --------------------------------------------------------------------------
    def start_run(self, bytes_so_far: int | None) -> None:
        """This run's byte counter starts at ``bytes_so_far`` (the connector's counter)."""
        self._run_bytes_base = bytes_so_far or 0

    def note_bytes(self, bytes_now: int | None) -> None:
        """Add what the connector received since the last call to the delivery's total."""
        if bytes_now is None:
            return
        self.state["bytes"] = int(self.state.get("bytes", 0)) + bytes_now - self._run_bytes_base
        self._run_bytes_base = bytes_now

    def append(
        self,
        batch: pa.RecordBatch | None,
        resume: dict[str, Any],
        cursor: tuple[str | None, str | None],
        bytes_now: int | None,
    ) -> None:
        """Land one page (``batch`` may be None for an empty one) and where the next one is.

        The part file is durable before the progress record names it, so a crash in between
        at worst fetches that page again (its part is overwritten)."""
        if batch is not None and batch.num_rows:
            idx = len(self.state["parts"]) + 1
            name = f"{idx:06d}.parquet"
            tmp = self.folder / PARTS / (name + ".partial")
            writer: pq.ParquetWriter | None = None
            try:
                writer = atrest.parquet_writer(tmp, batch.schema, compression="zstd")
                writer.write_batch(batch)
                writer.close()
                writer = None
                with tmp.open("rb") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, self.folder / PARTS / name)
            except OSError as exc:
                if writer is not None:
                    writer.close()
                tmp.unlink(missing_ok=True)
                raise LandingError(
                    f"{self.folder}: cannot write landed data: {exc.strerror or exc}"
                ) from None
            self.state["parts"].append(name)
            self.state["rows"] = int(self.state["rows"]) + batch.num_rows
        self.state["pages_landed"] = int(self.state["pages_landed"]) + 1
        self.state["resume"] = resume
        self.state["cursor_min"], self.state["cursor_max"] = cursor
        self.note_bytes(bytes_now)
        self._save()

    def save(self) -> None:
        """Record the bytes counted so far (also after a failed run)."""
        self._save()

    def _save(self) -> None:
        tmp = self.folder / (PROGRESS + ".partial")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as fh:
                fh.write(json.dumps(self.state, indent=1))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.folder / PROGRESS)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise LandingError(
                f"{self.folder}: cannot record the pull's progress: {exc.strerror or exc}"
            ) from None

    # -- sealing --------------------------------------------------------------------------
    def safe_cursor(self) -> str | None:
        """The cursor the sealed delivery may move the stream to (module docstring)."""
        if self.state.get("resumed") and self.state.get("cursor_before_resume"):
            return self.state["cursor_before_resume"]
        return self.state.get("cursor_max")

    def _batches(self) -> Iterator[pa.RecordBatch]:
        schema: pa.Schema | None = None
        for name in self.state["parts"]:
            table = atrest.read_table(self.folder / PARTS / name)
            if schema is None:
                schema = table.schema
            elif table.schema != schema and set(table.schema.names) == set(schema.names):
                table = table.select(schema.names)  # same columns, other order: line them up
            yield from table.to_batches()

    def seal(self, *, cursor_from: str | None, cursor_to: str | None) -> Manifest:
        """Join the parts into the delivery and seal it (manifest, SHA-256); parts go."""
        manifest = land(
            self._batches(),
            root=self.folder.parent.parent.parent,
            source=self.state["source"],
            stream=self.state["stream"],
            load_id=self.load_id,
            cursor_from=cursor_from,
            cursor_to=cursor_to,
            extracted_at=self.extracted_at,
            bytes_transferred=int(self.state.get("bytes", 0)),
            pull_runs=int(self.state.get("runs", 1)),
        )
        shutil.rmtree(self.folder / PARTS, ignore_errors=True)
        (self.folder / PROGRESS).unlink(missing_ok=True)
        return manifest


def partial_deliveries(root: Path) -> list[dict[str, Any]]:
    """Unsealed partial deliveries under ``root`` (for status): load id, pages, rows, bytes."""
    out = []
    for progress in sorted(root.glob(f"*/*/*/{PROGRESS}")):
        if (progress.parent / MANIFEST).exists():
            continue
        try:
            s = json.loads(progress.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        resume = s.get("resume") or {}
        out.append(
            {
                "load_id": s.get("load_id"),
                "pages": s.get("pages_landed"),
                "of": resume.get("total_pages"),
                "rows": s.get("rows"),
                "bytes": s.get("bytes"),
                "runs": s.get("runs"),
            }
        )
    return out
