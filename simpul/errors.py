"""Exceptions that carry an operator-readable message (the CLI prints them without a trace)."""

from __future__ import annotations

import sqlalchemy.exc

from connectors.base.files import FileFormatError
from connectors.base.http import HttpError
from simpul.config import ConfigError
from simpul.landing import LandingError
from simpul.pipeline.common import PipelineError
from simpul.storage import StorageError
from simpul.warehouse.engine import SchemaError, WarehouseBusyError, WarehouseNotUpgradedError
from simpul.warehouse.ops import ReconcileError

OPERATOR_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    FileFormatError,
    HttpError,
    LandingError,
    PipelineError,
    ReconcileError,
    WarehouseBusyError,
    WarehouseNotUpgradedError,
    SchemaError,
    StorageError,
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.OperationalError,
)
