"""PostgreSQL roles: who may read which layer. Analysts read ``analyst`` (the marts after
disclosure control, rebuilt on every marts build) and ref only; raw, core (with NIK, names,
addresses) and marts itself stay with the hub. A no-op on DuckDB, which has no roles (there
analysts read the published analyst database).

Roles are cluster-wide in PostgreSQL, grants are per database: ``ensure_roles`` creates missing
roles (tolerating a concurrent creator) and (re)grants in the current database, so it is safe
to run on every deployment.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import Connection

from simpul.warehouse.engine import Warehouse

ANALYST = "simpul_analyst"
OPERATOR = "simpul_operator"  # reads every layer (core with NIK): `simpul sql --operator`, audited
WRITER = "simpul_writer"
AGENCY_PREFIX = "simpul_agency_"
# the analyst schema holds the marts as analysts may see them (k-anonymised, small cells
# suppressed; rebuilt on every marts build): analysts do not read marts itself
READABLE = ("analyst", "ref")
ALL_LAYERS = ("ref", "raw", "core", "marts", "ops", "analyst")


def agency_role(code: str) -> str:
    """``simpul_agency_<code>`` for an agency code such as 'disdukcapil' or 'dinsos'."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", code):
        raise ValueError(f"agency code {code!r}: use lower-case letters, digits and _")
    return AGENCY_PREFIX + code


def _create_role(name: str) -> str:
    # DO block: CREATE ROLE has no IF NOT EXISTS, and two sessions may race to create it
    return (
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN "
        f'CREATE ROLE "{name}" NOLOGIN; END IF; '
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )


def ensure_roles(wh: Warehouse, agencies: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Create the roles if missing and grant them their layers; returns the role names.

    Login users are granted a role by an administrator, e.g.
    ``CREATE ROLE budi LOGIN PASSWORD '...' IN ROLE simpul_analyst``.
    """
    if wh.dialect != "postgresql":
        return []
    with wh.begin() as conn:
        return grant_roles(conn, agencies)


def grant_roles(conn: Connection, agencies: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Inside ``conn``'s transaction: create missing roles, (re)grant their layers. The
    connecting role (the loader) owns the schemas and is the only one that may write."""
    agency_roles = [agency_role(a) for a in agencies]
    roles = [ANALYST, OPERATOR, WRITER, *agency_roles]
    for r in roles:
        conn.exec_driver_sql(_create_role(r))
    existing = {r[0] for r in conn.exec_driver_sql("select nspname from pg_namespace")}
    for schema in (x for x in ALL_LAYERS if x in existing):  # analyst: from migration 13 on
        s = f'"{schema}"'
        conn.exec_driver_sql(f"GRANT USAGE, CREATE ON SCHEMA {s} TO {WRITER}")
        conn.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA {s} TO {WRITER}")
        conn.exec_driver_sql(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT ALL ON TABLES TO {WRITER}"
        )
        # the operator reads everything and changes nothing
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {s} TO {OPERATOR}")
        conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {OPERATOR}")
        conn.exec_driver_sql(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {OPERATOR}"
        )
        if schema in READABLE:
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {s} TO {ANALYST}")
            conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {ANALYST}")
            conn.exec_driver_sql(
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {ANALYST}"
            )
        else:  # earlier grants by hand are withdrawn: restricted layers stay restricted
            conn.exec_driver_sql(
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON TABLES FROM {ANALYST}"
            )
            conn.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {ANALYST}")
            conn.exec_driver_sql(f"REVOKE ALL ON SCHEMA {s} FROM {ANALYST}")
        for a in agency_roles:  # exchange comes later: no table access yet
            conn.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {a}")
            conn.exec_driver_sql(f"REVOKE ALL ON SCHEMA {s} FROM {a}")
    return roles
