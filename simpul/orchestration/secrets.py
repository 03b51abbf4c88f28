"""Secrets from Airflow connections, for code that runs inside Airflow tasks.

Airflow does not export its connections to tasks as environment variables: a connection kept in
the metadata database, Vault, AWS/GCP secret managers etc. is only reachable by asking for it
(``BaseHook.get_connection``), which goes through whatever secrets backend the deployment
configured. :func:`use_airflow_connections` installs such a lookup as the resolver of
:mod:`simpul.config`; the settings objects then ask it before the environment, and connectors get
plain resolved values (they import no Airflow). The CLI never installs it: environment only.

Connection ids (``simpul.yaml`` ``conn_id`` / agreement ``channel.conn_id`` override them):

========================================  ============================================
``simpul_<source>`` (``simpul_siak``)     URL (host, or extra ``url``), client id
                                          (login), client secret (password); a SQL
                                          source: extra ``url`` or a postgres connection
``simpul_exchange_<agency>``              channel URL (host / extra ``url``), token
                                          (password)
``simpul_exchange_signing``               the hub's Ed25519 signing key (password)
``simpul_pseudonym``                      the pseudonym key (password)
========================================  ============================================

A connection that does not exist falls back to the environment variable named in the config,
so a deployment may keep some settings in ``.env`` and the secrets in connections.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from simpul.config import SecretField, SecretResolver, set_secret_resolver

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

_CACHE_SECONDS = 60.0
_cache: dict[str, tuple[float, Any]] = {}
_WEB = ("http", "https")


def _connection(conn_id: str) -> Any:
    """The connection or None when it is not defined (other errors propagate: a broken
    secrets backend must fail the task, not silently use another credential)."""
    hit = _cache.get(conn_id)
    if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
        return hit[1]
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        conn = None
    _cache[conn_id] = (time.monotonic(), conn)
    return conn


def connection_url(conn: Any) -> str | None:
    """A URL from a connection: extra ``url``, a host that already is a URL, or
    ``<type>://host[:port][/schema]`` (``http``/``https`` types; anything else https)."""
    extra = conn.extra_dejson or {}
    if extra.get("url"):
        return str(extra["url"])
    host = conn.host
    if not host:
        return None
    if "://" in host:
        return host
    scheme = conn.conn_type if conn.conn_type in (*_WEB, "sftp", "s3") else "https"
    port = f":{conn.port}" if conn.port else ""
    path = f"/{conn.schema.lstrip('/')}" if conn.schema else ""
    return f"{scheme}://{host}{port}{path}"


def connection_sql_url(conn: Any) -> str | None:
    """A SQLAlchemy URL: extra ``url``, or a ``postgres`` connection as psycopg 3."""
    extra = conn.extra_dejson or {}
    if extra.get("url"):
        return str(extra["url"])
    if conn.conn_type in ("postgres", "postgresql") and conn.host:
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host,
            port=conn.port or None,
            database=conn.schema or None,
        ).render_as_string(hide_password=False)
    return None


def airflow_resolver(conn_id: str, field: SecretField) -> str | None:
    """The :data:`simpul.config.SecretResolver` backed by Airflow connections."""
    conn = _connection(conn_id)
    if conn is None:
        return None
    if field == "login":
        return conn.login or None
    if field == "password":
        return conn.password or None
    if field == "sql_url":
        return connection_sql_url(conn)
    return connection_url(conn)


def use_airflow_connections() -> SecretResolver | None:
    """Install :func:`airflow_resolver` (idempotent); call at the start of each task body."""
    _cache.clear()
    return set_secret_resolver(airflow_resolver)


def with_airflow_connections(fn: F) -> F:
    """Task-body decorator: secrets from Airflow connections while the body runs (then the
    previous resolver again, so ``dag.test()`` in a test process leaves nothing behind)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        previous = use_airflow_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            set_secret_resolver(previous)

    return wrapper  # type: ignore[return-value]
