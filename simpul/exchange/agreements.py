"""Data-sharing agreements as data: ``exchange/agreements.yaml``, validated once, default deny.

One agreement per receiving agency and purpose: which datasets, which of their columns, which
rows (a structured filter, never SQL), why (purpose), under which legal basis (PKS reference),
when (schedule), how (channel, format, snapshot/delta) and how long the agency may keep it.
A dataset or column not listed is never sent. Secrets are never in the file: a channel's URL and
token come from its Airflow connection (``conn_id``, default ``simpul_exchange_<agency>``) when
the orchestration layer installed a resolver (:func:`simpul.config.set_secret_resolver`), else
from the environment variables its ``*_env`` keys name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simpul.config import PROJECT_ROOT, home, load_yaml_model, lookup_secret
from simpul.exchange.datasets import DATASETS
from simpul.exchange.errors import AgreementError, ExchangeConfigError

DEFAULT_AGREEMENTS = PROJECT_ROOT / "exchange" / "agreements.yaml"
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_ENV = re.compile(r"^[A-Z][A-Z0-9_]*$")
_USERINFO = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@")


def refuse_credentials_in_url(url: str, where: str) -> str:
    """A URL carrying ``user:password@`` would put a secret in config, logs and the outbox:
    credentials come from ``token_env`` (or the channel's own secret store) only."""
    if _USERINFO.match(url):
        raise ExchangeConfigError(
            f"{where}: URL berisi kredensial (user:sandi@); gunakan token_env / "
            "URL carries credentials (user:password@); use token_env instead"
        )
    return url


class Condition(BaseModel):
    """One row condition on a whitelisted column; ops are fixed, values are bound, never SQL."""

    model_config = ConfigDict(extra="forbid")

    column: str
    op: Literal["eq", "ne", "in", "prefix", "gte", "lte"]
    value: Any

    @model_validator(mode="after")
    def _value_shape(self) -> Condition:
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("op 'in' needs a list value")
        if self.op != "in" and isinstance(self.value, list | dict):
            raise ValueError(f"op {self.op!r} needs a single value")
        return self


class RowFilter(BaseModel):
    """Which rows an agency may receive: ``kode_desa_prefix`` and/or ``where`` conditions
    (all must hold)."""

    model_config = ConfigDict(extra="forbid")

    kode_desa_prefix: str | None = Field(default=None, pattern=r"^\d{2}(\.\d{2}){0,2}(\.\d{4})?$")
    where: list[Condition] = Field(default_factory=list)

    def conditions(self) -> list[Condition]:
        out = list(self.where)
        if self.kode_desa_prefix:
            out.append(Condition(column="kode_desa", op="prefix", value=self.kode_desa_prefix))
        return out


def _errors_only() -> list[Literal["error", "warning"]]:
    return ["error"]


class Grant(BaseModel):
    """One dataset granted to an agency: the columns it may see and the rows."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(min_length=1)
    filter: RowFilter | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    small_cell_threshold: int = Field(default=5, ge=2, description="aggregates: mask counts < n")
    max_delta_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="reconciliations: hold for review when the findings exceed this share of "
        "the population",
    )
    severities: list[Literal["error", "warning"]] = Field(
        default_factory=_errors_only,
        description="feedback: which finding severities the attachments may carry",
    )
    partition_by: Literal["kode_desa"] | None = Field(
        default=None, description="one delivery per value (e.g. per village), each its own folder"
    )


class _Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    url_env: str | None = None
    conn_id: str | None = Field(
        default=None, description="Airflow connection (default simpul_exchange_<agency>)"
    )

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV.match(v):
            raise ValueError("must be an environment variable NAME (upper case), not a value")
        return v

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, v: str | None) -> str | None:
        if v is not None and _USERINFO.match(v):
            raise ValueError("credentials (user:password@) are not allowed in a URL; use token_env")
        return v

    def resolved_url(self) -> str:
        url = lookup_secret(self.conn_id, "url", self.url_env)
        if url:
            return refuse_credentials_in_url(url, self.url_env or self.conn_id or "url")
        if self.url:
            return self.url
        name = self.url_env or "(url)"
        raise ExchangeConfigError(
            f"alamat tujuan belum diisi: isi variabel lingkungan {name} / "
            f"no destination URL: set environment variable {name}"
        )


class FolderChannel(_Endpoint):
    """A drop folder (fsspec URL: local path, sftp://, s3://); relative paths under SIMPUL_HOME."""

    type: Literal["folder"]
    mount_marker: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="a file the agency's share holds at its root: proves the share is mounted "
        "(an empty local folder in its place does not have it)",
    )

    def resolved_url(self) -> str:
        url = super().resolved_url()
        if "://" in url or url.startswith("/"):
            return url
        return str(home() / url)


class _Authenticated(_Endpoint):
    token_env: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, description="read timeout per call")
    connect_timeout_seconds: float = Field(default=10.0, gt=0)

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) for requests: a dead link never hangs a run."""
        return (self.connect_timeout_seconds, self.timeout_seconds)

    @field_validator("token_env")
    @classmethod
    def _token_env(cls, v: str | None) -> str | None:
        if v is not None and not _ENV.match(v):
            raise ValueError("must be an environment variable NAME (upper case), not a secret")
        return v

    def token(self) -> str | None:
        if not self.token_env:
            return None
        value = lookup_secret(self.conn_id, "password", self.token_env)
        if not value:
            raise ExchangeConfigError(
                f"rahasia belum diisi: isi variabel lingkungan {self.token_env} atau password "
                f"koneksi Airflow {self.conn_id} / secret missing: set environment variable "
                f"{self.token_env} or the password of Airflow connection {self.conn_id}"
            )
        return value


class RestChannel(_Authenticated):
    """The agency's REST endpoint; the hub POSTs the signed delivery, the response is a receipt."""

    type: Literal["rest"]


class CkanChannel(_Authenticated):
    """A CKAN portal (Satu Data): package_create/patch + resource_create or datastore_upsert."""

    type: Literal["ckan"]
    owner_org: str
    package_name: str = Field(pattern=r"^[a-z0-9_-]{2,100}$")
    license_id: str = "cc-by"
    publish: Literal["resource", "datastore"] = "resource"
    tags: list[str] = Field(default_factory=list)


Channel = Annotated[FolderChannel | RestChannel | CkanChannel, Field(discriminator="type")]


class Agreement(BaseModel):
    """One agency's entitlement; ``datasets`` maps dataset name -> grant."""

    model_config = ConfigDict(extra="forbid")

    agency: str = Field(description="agency code, e.g. 'disdukcapil'")
    agency_name: str
    purpose: str = Field(min_length=10)
    legal_basis: str = Field(min_length=3)
    pks_reference: str | None = Field(
        default=None, description="PKS number; required for individual (personal) data"
    )
    datasets: dict[str, Grant] = Field(min_length=1)
    schedule: str | None = Field(default="marts", description="cron, preset, 'marts' or null")
    channel: Channel
    format: Literal["parquet", "csv"] = "parquet"
    mode: Literal["snapshot", "delta"] = "snapshot"
    retention_days: int = Field(ge=1, le=3650)
    producer: str | None = Field(default=None, description="produsen data (Satu Data metadata)")
    enabled: bool = True
    cycle_hours: float = Field(
        default=26,
        gt=0,
        description="readiness: each input pipeline needs a successful load this recent",
    )
    full_copy_days: int | None = Field(
        default=None, ge=1, description="resend unchanged content after this many days"
    )
    receipt_deadline_hours: float = Field(
        default=72, gt=0, description="a receipt later than this raises an alert"
    )
    receipt_key: str | None = Field(
        default=None,
        description="the agency's Ed25519 public key (base64): receipts must be signed with it",
    )
    receipt_key_env: str | None = Field(
        default=None, description="or: the environment variable holding that public key"
    )

    @field_validator("receipt_key_env")
    @classmethod
    def _receipt_key_env(cls, v: str | None) -> str | None:
        if v is not None and not _ENV.match(v):
            raise ValueError("must be an environment variable NAME (upper case)")
        return v

    def agency_public_key(self) -> str | None:
        """The registered key receipts are verified against (None: receipts are unsigned,
        accepted on hash only, which anyone who can write the drop folder could forge)."""
        if self.receipt_key:
            return self.receipt_key
        if self.receipt_key_env:
            value = os.environ.get(self.receipt_key_env)
            if not value:
                raise ExchangeConfigError(
                    f"kunci publik instansi belum diisi: isi {self.receipt_key_env} / agency "
                    f"public key missing: set {self.receipt_key_env}"
                )
            return value
        return None

    @field_validator("agency")
    @classmethod
    def _agency(cls, v: str) -> str:
        if not _CODE.match(v):
            raise ValueError("use lower-case letters, digits and _ (e.g. 'disdukcapil')")
        return v

    @model_validator(mode="after")
    def _entitlements(self) -> Agreement:
        if self.channel.conn_id is None:
            self.channel.conn_id = f"simpul_exchange_{self.agency}"
        for name, grant in self.datasets.items():
            ds = DATASETS.get(name)
            if ds is None:
                raise ValueError(f"datasets.{name}: unknown dataset; known: {sorted(DATASETS)}")
            unknown = [c for c in grant.columns if c not in ds.columns]
            if unknown:
                raise ValueError(
                    f"datasets.{name}.columns: {unknown} not in the dataset's columns {ds.columns}"
                )
            if grant.filter:
                for cond in grant.filter.conditions():
                    if cond.column not in ds.columns:
                        raise ValueError(
                            f"datasets.{name}.filter: column {cond.column!r} not in the dataset"
                        )
            if grant.partition_by and grant.partition_by not in ds.columns:
                raise ValueError(
                    f"datasets.{name}.partition_by: {grant.partition_by!r} not in the dataset"
                )
            if grant.partition_by and self.channel.type != "folder":
                raise ValueError(f"datasets.{name}.partition_by: needs a folder channel")
            bad = set(grant.params) - set(ds.params)
            if bad:
                raise ValueError(f"datasets.{name}.params: {sorted(bad)} not allowed")
            missing = [k for k, v in ds.params.items() if v is None and k not in grant.params]
            if missing:
                raise ValueError(f"datasets.{name}.params: {missing} required")
            if ds.personal and not self.pks_reference:
                raise ValueError(
                    f"datasets.{name}: individual data needs pks_reference (a PKS with the "
                    "data owner) / data individu memerlukan nomor PKS"
                )
            if ds.personal and self.channel.type == "ckan":
                raise ValueError(f"datasets.{name}: individual data may not go to a CKAN portal")
        return self

    def params_for(self, dataset: str) -> dict[str, Any]:
        return {**DATASETS[dataset].params, **self.datasets[dataset].params}


class AgreementsFile(BaseModel):
    """The whole file: the hub's id and the agreements by id."""

    model_config = ConfigDict(extra="forbid")

    hub_id: str = Field(min_length=3)
    agreements: dict[str, Agreement]

    @field_validator("agreements")
    @classmethod
    def _ids(cls, v: dict[str, Agreement]) -> dict[str, Agreement]:
        for key in v:
            if not _CODE.match(key):
                raise ValueError(f"agreement id {key!r}: use lower-case letters, digits and _")
        return v

    def get(self, agreement_id: str) -> Agreement:
        try:
            return self.agreements[agreement_id]
        except KeyError:
            known = ", ".join(sorted(self.agreements)) or "(none)"
            raise AgreementError(f"unknown agreement {agreement_id!r}; known: {known}") from None


def load_agreements(path: Path | str | None = None) -> AgreementsFile:
    """Read and validate the agreements; errors name the file and the offending key."""
    path = Path(path or os.environ.get("SIMPUL_EXCHANGE_AGREEMENTS") or DEFAULT_AGREEMENTS)
    return load_yaml_model(path, AgreementsFile, "agreements", AgreementError)


def plan(agreements: AgreementsFile) -> list[dict[str, Any]]:
    """Who receives what: one row per agreement x dataset (for ``simpul exchange plan``)."""
    rows = []
    for aid, a in agreements.agreements.items():
        for name, grant in a.datasets.items():
            flt = grant.filter.conditions() if grant.filter else []
            rows.append(
                {
                    "agreement": aid,
                    "agency": a.agency,
                    "dataset": name,
                    "columns": ", ".join(grant.columns),
                    "rows": " and ".join(f"{c.column} {c.op} {c.value}" for c in flt) or "all",
                    "channel": a.channel.type,
                    "format": a.format,
                    "mode": a.mode,
                    "schedule": a.schedule or "manual",
                    "retention_days": a.retention_days,
                    "legal_basis": a.legal_basis,
                    "enabled": a.enabled,
                }
            )
    return rows
