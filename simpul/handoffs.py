"""The pipeline's hand-offs between stages through the configured stores: a delivery is
published after sealing and fetched before reading, partial pulls follow the pull across hosts,
staging and reports are published after transform. One line each in :mod:`simpul.pipeline`;
on local folders (the default) every call returns at once.

They know the landing layout (manifest, progress, parts), so they live above
:mod:`simpul.landing`; :mod:`simpul.storage` below it knows only stores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simpul import storage
from simpul.storage import StorageError

STAGE_COMMIT = "summary.json"


def delivery_rel(load_id: str) -> str:
    """``<source>/<stream>/<load_id>``: where a delivery sits below the landing root."""
    parts = load_id.split(".")
    return f"{parts[0]}/{parts[1]}/{load_id}" if len(parts) >= 4 else load_id


def publish_delivery(load_id: str) -> None:
    """After sealing: the delivery (data, file ledger sidecar, manifest last) to the store."""
    from simpul.landing import MANIFEST

    storage.store("landing").publish(delivery_rel(load_id), MANIFEST)


def fetch_delivery(load_id: str) -> bool:
    """Before reading a delivery: the sealed one from the store (False: not sealed there)."""
    from simpul.landing import MANIFEST

    return storage.store("landing").fetch(delivery_rel(load_id), MANIFEST)


def fetch_partials(source: str, stream: str) -> None:
    """Before a resumable pull: unsealed partial pulls of the stream that another host left
    in the store (parts and ``_progress.json``, which is uploaded last) into the working copy,
    so this host resumes them instead of pulling everything again."""
    from simpul.landing import MANIFEST
    from simpul.landing_resume import PROGRESS

    st = storage.store("landing")
    if not st.remote:
        return
    base = f"{source}/{stream}"
    try:
        names = st.fs.ls(st.key(base), detail=False) if st.fs.exists(st.key(base)) else []
    except Exception as exc:  # noqa: BLE001
        raise StorageError(
            f"{st.uri(base)}: tidak dapat dibaca / not readable ({type(exc).__name__})"
        ) from None
    for name in names:
        load_id = name.rstrip("/").rsplit("/", 1)[-1]
        rel = f"{base}/{load_id}"
        local = st.local / rel
        if (local / PROGRESS).exists() or (local / MANIFEST).exists():
            continue
        if st.fs.exists(st.key(f"{rel}/{PROGRESS}")) and not st.fs.exists(
            st.key(f"{rel}/{MANIFEST}")
        ):
            st.fetch(rel, PROGRESS)


def publish_partial(partial: Any, parts_before: int) -> None:
    """After a page: its part file (if it had rows) and the progress record (last) to the
    store, so a retry on another host resumes from here."""
    from simpul.landing_resume import PARTS, PROGRESS

    st = storage.store("landing")
    if not st.remote:
        return
    rel = partial.folder.relative_to(st.local).as_posix()
    new = [f"{PARTS}/{name}" for name in partial.state["parts"][parts_before:]]
    st.publish(rel, PROGRESS, only=[*new, PROGRESS])


def settle_partials(source: str, stream: str, keep: str | None) -> None:
    """Partial pulls of the stream in the store other than ``keep`` (discarded by this run,
    or sealed: their parts are joined into the delivery) are removed there."""
    from simpul.landing import MANIFEST
    from simpul.landing_resume import PARTS, PROGRESS

    st = storage.store("landing")
    if not st.remote:
        return
    base = f"{source}/{stream}"
    if not st.fs.exists(st.key(base)):
        return
    for name in st.fs.ls(st.key(base), detail=False):
        load_id = name.rstrip("/").rsplit("/", 1)[-1]
        rel = f"{base}/{load_id}"
        if load_id == keep or not st.fs.exists(st.key(f"{rel}/{PROGRESS}")):
            continue
        if st.fs.exists(st.key(f"{rel}/{MANIFEST}")):  # sealed: only the leftovers go
            for leftover in (PROGRESS, PARTS):
                if st.fs.exists(st.key(f"{rel}/{leftover}")):
                    st.fs.rm(st.key(f"{rel}/{leftover}"), recursive=True)
        else:
            st.remove(rel)


def publish_stage(load_id: str) -> None:
    """After transform: the staged rows and findings, ``summary.json`` last."""
    storage.store("staging").publish(load_id, STAGE_COMMIT)


def fetch_stage(load_id: str) -> None:
    """Before load: the staging folder as last published (a re-transform, e.g. a release
    of a held delivery, replaces it, so the commit file is compared every time)."""
    st = storage.store("staging")
    if not st.remote:
        return
    local = st.local / load_id / STAGE_COMMIT
    try:
        current = st.read_text(f"{load_id}/{STAGE_COMMIT}")
    except FileNotFoundError:
        return  # never staged: load reports the missing summary as before
    if local.exists() and local.read_text(encoding="utf-8") == current:
        return
    st.forget(load_id)
    st.fetch(load_id, STAGE_COMMIT)


def publish_reports(load_id: str, reports: dict[str, str]) -> dict[str, str]:
    """After writing a DQ report: upload it; returns where each report lives (URLs when
    remote), for the summary, the alerts and the operator."""
    st = storage.store("reports")
    if not st.remote:
        return reports
    st.publish(load_id)
    return {k: st.uri(f"{load_id}/{Path(v).name}") for k, v in reports.items()}
