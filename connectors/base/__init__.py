"""Shared connector machinery: the contract, HTTP with auth/pagination/retries.

The names below are imported on first use (PEP 562): a transform or load process imports
``connectors.base.files`` for its column names and never speaks HTTP, so it should not pay for
``requests`` (~0.2 s of every such task's start)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.base.contract import Connector, StreamSpec
    from connectors.base.http import HttpError
    from connectors.base.http_client import HttpClient

__all__ = ["Connector", "HttpClient", "HttpError", "StreamSpec"]

_HOME = {
    "Connector": "connectors.base.contract",
    "StreamSpec": "connectors.base.contract",
    "HttpError": "connectors.base.http",
    "HttpClient": "connectors.base.http_client",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value
