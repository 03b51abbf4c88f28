"""Schema migrations: Alembic revisions with frozen DDL, one path for DuckDB and PostgreSQL.

The revisions live in ``simpul/warehouse/schema/versions``; each holds its DDL as literal SQL
(a revision never imports live model code, so an upgraded warehouse gets exactly what a fresh
one gets). Revision ids continue the numbering of the runner before Alembic ("0031" is its
version 31) and every applied revision is still recorded in ``ops.schema_migrations``. A
warehouse made by that runner (rows in ``ops.schema_migrations``, no ``ops.alembic_version``)
is stamped at the equivalent revision, then upgraded in place.

Migrations run once per deployment (``simpul db upgrade``, the compose init job); opening the
warehouse only checks that it is at head (see :func:`simpul.warehouse.engine.open_warehouse`).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from simpul.warehouse.engine import SchemaError, Warehouse

if TYPE_CHECKING:  # Alembic is imported only to upgrade or list revisions (see head())
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = ["SchemaError", "current", "head", "history", "upgrade"]

SCRIPT_DIR = Path(__file__).with_name("schema")
# the runner before Alembic: its versions in the order it applied them (ids "0001" ... "0031")
LEGACY_VERSIONS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 19, 23, 27, 31)


def alembic_config(connection: sa.engine.Connection | None = None) -> Config:
    """An Alembic configuration without an ini file; ``connection`` is used by env.py."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


@lru_cache(maxsize=1)
def _heads() -> tuple[str, ...]:
    """The head revision(s), read from the revision files' ``revision`` and ``down_revision``
    lines without importing Alembic: every process that opens the warehouse (each load and
    marts task) checks the head, and importing Alembic for it cost ~0.7 s of a 1 % load.
    Anything not a plain literal falls back to Alembic; a test compares the two."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (SCRIPT_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        try:
            rev = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            return tuple(script().get_heads())
        revisions.add(rev)
        downs.update(down if isinstance(down, tuple | list) else [down])
    return tuple(sorted(revisions - downs))


def head() -> str:
    heads = _heads()
    if len(heads) != 1:
        raise SchemaError(f"revisi skema bercabang / schema revisions have several heads: {heads}")
    return heads[0]


def revision_of(version: int) -> str:
    """The Alembic revision id of a version number of the runner before Alembic."""
    return f"{version:04d}"


def current(wh: Warehouse) -> str | None:
    """The warehouse's revision (one query); None when it has no ``ops.alembic_version``."""
    with wh.engine.connect() as conn:
        try:
            return conn.execute(sa.text("select version_num from ops.alembic_version")).scalar()
        except sa.exc.DBAPIError:
            return None


def legacy_revision(wh: Warehouse) -> str | None:
    """For a warehouse made by the runner before Alembic: the revision its applied versions
    equal (they must be a prefix of :data:`LEGACY_VERSIONS`); None without that ledger."""
    with wh.engine.connect() as conn:
        try:
            applied = {
                int(r[0])
                for r in conn.execute(sa.text("select version from ops.schema_migrations"))
            }
        except sa.exc.DBAPIError:
            return None
    if not applied:
        return None
    prefix = set(LEGACY_VERSIONS[: len(applied)])
    if applied != prefix:
        raise SchemaError(
            "ops.schema_migrations berisi versi yang tidak dikenal rilis ini "
            f"{sorted(applied - prefix)}; pulihkan cadangan atau hubungi pengembang / "
            "ops.schema_migrations holds versions this release does not know "
            f"{sorted(applied - prefix)}: restore a backup or ask the developers"
        )
    return revision_of(max(applied))


def state(wh: Warehouse) -> str | None:
    """The warehouse's revision, counting a warehouse of the runner before Alembic."""
    return current(wh) or legacy_revision(wh)


def upgrade(wh: Warehouse, to: str = "head") -> list[str]:
    """Upgrade to revision ``to``; returns the revisions applied now (oldest first).

    On PostgreSQL a session advisory lock serialises concurrent callers (two deploy jobs);
    DuckDB already allows one writer process only.
    """
    from simpul.warehouse.engine import forget_reference_check

    forget_reference_check(wh)  # after an upgrade the reference tables are checked again
    if wh.dialect != "postgresql":
        return _upgrade(wh, to)
    with wh.engine.connect() as guard:
        guard.exec_driver_sql("SELECT pg_advisory_lock(hashtext('simpul_migrate'))")
        guard.commit()
        try:
            return _upgrade(wh, to)
        finally:
            guard.exec_driver_sql("SELECT pg_advisory_unlock(hashtext('simpul_migrate'))")
            guard.commit()


def migrate(wh: Warehouse) -> list[str]:
    """Upgrade to head (the name the code used before Alembic)."""
    return upgrade(wh)


def _known(rev: str, target: bool = False) -> None:
    try:
        found = script().get_revision(rev)
    except Exception:  # noqa: BLE001 - Alembic raises several kinds for an unknown id
        found = None
    if found is not None:
        return
    if target:
        raise SchemaError(
            f"revisi {rev} tidak ada (lihat `simpul db history`) / no revision {rev} (see "
            "`simpul db history`)"
        )
    raise SchemaError(
        f"gudang data pada revisi {rev} yang tidak dikenal kode ini (lebih baru?) / the "
        f"warehouse is at revision {rev}, unknown to this code (a newer release?)"
    )


def _upgrade(wh: Warehouse, to: str) -> list[str]:
    before = current(wh)
    from alembic import command

    if before is None:
        legacy = legacy_revision(wh)
        if legacy is not None:
            with wh.engine.connect() as conn:
                command.stamp(alembic_config(conn), legacy)
                conn.commit()
            before = legacy
    if before is not None:
        _known(before)
    target = head() if to == "head" else to
    _known(target, target=True)
    if before is not None and target in _between(None, before):
        return []  # already there or past it: revisions only go forward
    with wh.engine.connect() as conn:
        command.upgrade(alembic_config(conn), target)
        conn.commit()
    return _between(before, current(wh))


def _between(before: str | None, after: str | None) -> list[str]:
    if after is None or after == before:
        return []
    revs = [r.revision for r in script().iterate_revisions(after, before or "base")]
    return list(reversed(revs))


def history() -> list[tuple[str, str]]:
    """Every revision, oldest first: (id, first line of its docstring)."""
    revs = list(script().walk_revisions())
    return [(r.revision, (r.doc or "").strip()) for r in reversed(revs)]
