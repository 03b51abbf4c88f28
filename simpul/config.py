"""Settings and the pipeline config (``simpul.yaml``).

Everything that differs between a laptop demo and a kabupaten server is configuration: the
warehouse URL (DuckDB file or PostgreSQL), the data folder, and source endpoints. Secrets are
never read from the YAML file. They are looked up through a pluggable :data:`SecretResolver`
first (under Airflow, :mod:`simpul.orchestration.secrets` installs one that reads Airflow
connections through ``BaseHook``, so any Airflow secrets backend works; a source's connection
is ``simpul_<source>`` unless ``conn_id`` says otherwise), then from the environment variables
named in the config by ``*_env`` keys (the CLI has no resolver: environment only). Airflow does
not export its connections to tasks as environment variables, so code must ask for them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

M = TypeVar("M", bound=BaseModel)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "simpul.yaml"


class ConfigError(Exception):
    """A configuration problem, with a message an operator can act on."""


SecretField = Literal["url", "login", "password", "sql_url"]
#: ``(conn_id, field) -> value or None``; None means "not there, fall back to the environment".
SecretResolver = Callable[[str, SecretField], str | None]
_resolver: SecretResolver | None = None


def set_secret_resolver(resolver: SecretResolver | None) -> SecretResolver | None:
    """Install (or with None remove) the resolver asked before the environment; returns the
    previous one. The orchestration layer installs Airflow's; connectors never see it."""
    global _resolver
    previous, _resolver = _resolver, resolver
    return previous


def secret_resolver() -> SecretResolver | None:
    return _resolver


def lookup_secret(conn_id: str | None, field: SecretField, env: str | None) -> str | None:
    """A setting from the resolver (connection ``conn_id``), else the environment variable
    ``env``; None when neither has it."""
    if _resolver is not None and conn_id:
        value = _resolver(conn_id, field)
        if value:
            return value
    if env:
        return os.environ.get(env) or None
    return None


class DropLimitSettings(BaseModel):
    """Limits of a file-drop source, checked before anything is decompressed or parsed."""

    model_config = ConfigDict(extra="forbid")

    max_file_bytes: int = Field(default=512 * 1024**2, gt=0, description="largest file taken")
    max_members: int = Field(default=1000, gt=0, description="most files inside one ZIP")
    max_uncompressed_bytes: int = Field(
        default=2 * 1024**3, gt=0, description="largest total size of a ZIP's members"
    )
    max_ratio: float = Field(
        default=200.0, gt=1, description="largest uncompressed/compressed ratio of a member"
    )


class SourceSettings(BaseModel):
    """One source system: which connector, where it is, which secrets it needs."""

    model_config = ConfigDict(extra="forbid")

    connector: str = Field(description="connector id, e.g. 'siak'")
    agency: str = Field(description="the agency that owns the source, e.g. 'Disdukcapil'")
    base_url_env: str | None = Field(default=None, description="env var holding the base URL")
    base_url: str | None = Field(default=None, description="default base URL (no secrets)")
    drop_url_env: str | None = Field(default=None, description="env var: folder/SFTP/S3 URL")
    drop_url: str | None = Field(
        default=None, description="default drop folder; relative paths are under SIMPUL_HOME"
    )
    table: str | None = Field(default=None, description="sql connector: source table")
    key: list[str] = Field(default_factory=list, description="sql connector: primary key")
    watermark: str | None = Field(default=None, description="sql connector: change column")
    client_id_env: str | None = None
    client_secret_env: str | None = None
    conn_id: str | None = Field(
        default=None,
        description="Airflow connection with this source's URL and credentials "
        "(default simpul_<source>)",
    )
    page_size: int = Field(default=500, ge=1, le=10000)
    timeout_seconds: float = Field(
        default=30.0, gt=0, description="read timeout: longest silence while an answer arrives"
    )
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    retry_budget_seconds: float = Field(
        default=300.0,
        gt=0,
        description="how long one request keeps retrying through an outage before the run "
        "fails (time, not attempts: a mobile link drops for minutes)",
    )
    retry_backoff_max_seconds: float = Field(
        default=30.0, gt=0, description="longest pause between two tries"
    )
    settle_seconds: float = Field(
        default=2.0,
        ge=0,
        description="file drops: a file is taken once its size and mtime stayed unchanged this "
        "long (or at once with a <name>.done / <name>.ok marker)",
    )
    limits: DropLimitSettings = Field(
        default_factory=DropLimitSettings, description="file drops: size and ZIP limits"
    )

    def resolved_base_url(self) -> str:
        url = lookup_secret(self.conn_id, "url", self.base_url_env)
        if url:
            return url
        if self.base_url:
            return self.base_url
        raise ConfigError(f"no base URL: set {self.base_url_env or 'base_url'}")

    def resolved_sql_url(self) -> str:
        """SQLAlchemy URL; a relative SQLite path (sqlite:///drops/x.db) is under SIMPUL_HOME."""
        url = lookup_secret(self.conn_id, "sql_url", None) or self.resolved_base_url()
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            return f"sqlite:///{home() / url.removeprefix('sqlite:///')}"
        return url

    def resolved_drop_url(self) -> str:
        url = lookup_secret(self.conn_id, "url", self.drop_url_env)
        if url:
            return url
        if not self.drop_url:
            raise ConfigError(f"no drop folder: set {self.drop_url_env or 'drop_url'}")
        if "://" in self.drop_url or self.drop_url.startswith("/"):
            return self.drop_url
        return str(home() / self.drop_url)

    def secret(self, which: Literal["client_id", "client_secret"]) -> str:
        env = getattr(self, f"{which}_env")
        if not env:
            raise ConfigError(f"source has no {which}_env configured")
        value = lookup_secret(self.conn_id, "login" if which == "client_id" else "password", env)
        if not value:
            conn = bool(_resolver and self.conn_id)
            en = f"Airflow connection {self.conn_id} or " if conn else ""
            id_ = f"koneksi Airflow {self.conn_id} atau " if conn else ""
            raise ConfigError(
                f"secret {which} missing: set {en}environment variable {env} "
                f"(rahasia {which} belum diisi: isi {id_}variabel lingkungan {env})"
            )
        return value


class PipelineSettings(BaseModel):
    """A pipeline = one source stream pulled, mapped, validated and loaded on a schedule."""

    model_config = ConfigDict(extra="forbid")

    source: str
    stream: str
    mapping: str = Field(description="mapping file name under mappings/, without .yaml")
    suite: str = Field(description="expectation suite name under expectations/")
    entity: str = Field(description="canonical entity, e.g. 'penduduk'")
    schedule: str | None = Field(default="@daily", description="cron or preset; null = manual")
    max_error_rate: float = Field(default=0.2, ge=0, le=1)
    min_row_ratio: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="full-snapshot sources: hold a delivery with fewer rows than this share "
        "of the last loaded one (a truncated export must not look like mass emigration)",
    )
    schema_drift: Literal["stop", "warn"] = Field(
        default="stop",
        description=(
            "when a column the mapping uses disappears: 'stop' the stream until the mapping "
            "is fixed, or 'warn' and load it as empty (a missing key column always stops); "
            "new columns are always recorded and flagged, never stop"
        ),
    )
    tags: list[str] = Field(default_factory=list)

    @field_validator("stream", "entity")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not v.isidentifier():
            raise ValueError(f"{v!r} must be a plain identifier")
        return v


class SimpulConfig(BaseModel):
    """The whole ``simpul.yaml``: sources and pipelines, validated once."""

    model_config = ConfigDict(extra="forbid")

    kabupaten: str = "16.08"
    kecamatan: list[str] = Field(default_factory=lambda: ["16.08.01"])
    sources: dict[str, SourceSettings]
    pipelines: dict[str, PipelineSettings]

    def pipeline(self, name: str) -> PipelineSettings:
        try:
            return self.pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self.pipelines)) or "(none)"
            raise ConfigError(f"unknown pipeline {name!r}; known: {known}") from None

    def model_post_init(self, __context: object) -> None:
        for name, p in self.pipelines.items():
            if p.source not in self.sources:
                raise ConfigError(f"pipeline {name!r} names unknown source {p.source!r}")
        for name, s in self.sources.items():
            if s.conn_id is None:
                s.conn_id = f"simpul_{name}"


def load_yaml_model(path: Path, model: type[M], what: str, error: type[Exception]) -> M:
    """A YAML file read into a pydantic ``model``; ``error`` names the file and each offending
    key (``simpul.yaml``, the exchange agreements: every operator-edited YAML file)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        lines = [f"{path}: invalid {what}"]
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"  {loc}: {msg}")
        raise error("\n".join(lines)) from None


def load_config(path: Path | str | None = None) -> SimpulConfig:
    """Read and validate the config; errors name the file and the offending key."""
    path = Path(path or os.environ.get("SIMPUL_CONFIG") or DEFAULT_CONFIG)
    return load_yaml_model(path, SimpulConfig, "config", ConfigError)


class Paths(BaseModel):
    """Where a run keeps its files; everything lives under one home folder."""

    home: Path

    # landing, staging and reports may live in shared storage (simpul.storage): these are the
    # local folders the code works in, i.e. the area itself or its working copy

    @property
    def landing(self) -> Path:
        return self._area("landing")

    @property
    def staging(self) -> Path:
        return self._area("staging")

    @property
    def reports(self) -> Path:
        return self._area("reports")

    def _area(self, area: Literal["landing", "staging", "reports"]) -> Path:
        from simpul.storage import AREA_ENV, store

        if not os.environ.get(AREA_ENV[area]):
            return self.home / area
        return store(area).local

    @property
    def world(self) -> Path:
        return self.home / "world"


@lru_cache(maxsize=1)
def _default_home() -> Path:
    return PROJECT_ROOT / "var"


def home() -> Path:
    """The data folder: ``SIMPUL_HOME`` or ``./var`` in the project."""
    return Path(os.environ.get("SIMPUL_HOME") or _default_home()).resolve()


def paths() -> Paths:
    return Paths(home=home())


def warehouse_url() -> str:
    """``SIMPUL_WAREHOUSE_URL`` (e.g. ``postgresql+psycopg://...``) or a DuckDB file in home."""
    url = os.environ.get("SIMPUL_WAREHOUSE_URL")
    if url:
        return url
    return f"duckdb:///{home() / 'warehouse.duckdb'}"
