"""Connectors by name: ``connector: <name>`` in ``simpul.yaml`` picks a factory from here.

Adding a source is configuration: a connector class plus one :func:`register` call (or an
entry point in the ``simpul.connectors`` group of an installed package) — no edit of the
pipeline. A factory receives the source's settings (:class:`simpul.config.SourceSettings`)
and the configured kecamatan, and returns a ready :class:`~connectors.base.contract.Connector`
with secrets already resolved. Factories import their connector lazily, so listing the
registry imports no HTTP or Excel library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Factory = Callable[[Any, "str | None"], Any]
_FACTORIES: dict[str, Factory] = {}
ENTRY_POINT_GROUP = "simpul.connectors"


class UnknownConnector(KeyError):
    pass


def register(name: str) -> Callable[[Factory], Factory]:
    def deco(fn: Factory) -> Factory:
        _FACTORIES[name] = fn
        return fn

    return deco


def names() -> list[str]:
    _load_entry_points()
    return sorted(_FACTORIES)


def build(name: str, settings: Any, kecamatan: str | None) -> Any:
    """The connector ``name`` configured from ``settings`` (UnknownConnector if none)."""
    _load_entry_points()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise UnknownConnector(name) from None
    return factory(settings, kecamatan)


_entry_points_loaded = False


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _FACTORIES:
            _FACTORIES[ep.name] = ep.load()


def drop_options(settings: Any) -> dict[str, Any]:
    """Settle interval and limits of a file-drop source (``simpul.yaml``, see
    docs/adding-a-file-source.md)."""
    from connectors.base.drop import DropLimits

    limits = getattr(settings, "limits", None)
    return {
        "settle_seconds": getattr(settings, "settle_seconds", 0.0),
        "limits": DropLimits(**limits.model_dump()) if limits is not None else DropLimits(),
    }


#: Caps every HTTP source's ``retry_budget_seconds`` (seconds): a site on a steady line, or a
#: test that takes an agency away, need not wait out the mobile-link default.
RETRY_BUDGET_ENV = "SIMPUL_RETRY_BUDGET_SECONDS"


def http_options(settings: Any) -> dict[str, Any]:
    """Timeouts, retry budget and agency name of an HTTP source (``simpul.yaml``)."""
    import os

    from connectors.base.http import RetryPolicy

    budget = float(settings.retry_budget_seconds)
    if os.environ.get(RETRY_BUDGET_ENV):
        budget = min(budget, float(os.environ[RETRY_BUDGET_ENV]))
    return {
        "timeout": settings.timeout_seconds,
        "connect_timeout": settings.connect_timeout_seconds,
        "retry": RetryPolicy(
            budget_seconds=budget,
            backoff_max=settings.retry_backoff_max_seconds,
        ),
        "agency": settings.agency,
    }


@register("siak")
def _siak(settings: Any, kecamatan: str | None) -> Any:
    from connectors.siak import SiakConnector

    return SiakConnector(
        settings.resolved_base_url(),
        settings.secret("client_id"),
        settings.secret("client_secret"),
        kode_kecamatan=kecamatan,
        page_size=settings.page_size,
        **http_options(settings),
    )


@register("oss")
def _oss(settings: Any, kecamatan: str | None) -> Any:
    from connectors.oss import OssConnector

    return OssConnector(
        settings.resolved_base_url(),
        settings.secret("client_id"),
        settings.secret("client_secret"),
        page_size=settings.page_size,
        **http_options(settings),
    )


@register("opensid")
def _opensid(settings: Any, kecamatan: str | None) -> Any:
    from connectors.opensid import OpenSidDropConnector

    return OpenSidDropConnector(
        settings.resolved_drop_url(), kecamatan=kecamatan, **drop_options(settings)
    )


@register("sql")
def _sql(settings: Any, kecamatan: str | None) -> Any:
    from connectors.sql import SqlConnector, SqlStream
    from simpul.config import ConfigError

    if not (settings.table and settings.watermark and settings.key):
        raise ConfigError("a sql source needs table, key and watermark")
    return SqlConnector(
        settings.resolved_sql_url(),
        [SqlStream(settings.table, settings.table, tuple(settings.key), settings.watermark)],
    )


@register("dinsos")
def _dinsos(settings: Any, kecamatan: str | None) -> Any:
    from connectors.dinsos import DinsosDropConnector

    return DinsosDropConnector(settings.resolved_drop_url(), **drop_options(settings))


@register("siak_export")
def _siak_export(settings: Any, kecamatan: str | None) -> Any:
    from connectors.siak_export import SiakExportConnector

    return SiakExportConnector(
        settings.resolved_drop_url(), kecamatan=kecamatan, **drop_options(settings)
    )
