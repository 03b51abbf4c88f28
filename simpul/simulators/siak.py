"""Disdukcapil SIAK-like REST API simulator (FastAPI), serving a generated world.

Contract (the SIAK connector is written against exactly this):

- ``POST /api/v1/auth/token`` JSON ``{"client_id", "client_secret"}`` -> bearer token (3600 s).
- ``GET /api/v1/penduduk|keluarga|peristiwa?page&per_page&updated_since&kode_kecamatan`` ->
  ``{"data", "meta": {page, per_page, total, total_pages}, "links": {"next"}}``; rows ordered
  by (UPDATED_AT, key), ``updated_since`` inclusive, per_page at most 1000.
- ``GET /api/v1/penduduk/deleted?since=`` -> ``{"data": [{"NIK", "DELETED_AT"}]}``.
- ``GET /health``; with ``admin=True``: ``POST /admin/advance``, ``/admin/faults``,
  ``/admin/revoke-tokens`` (no auth: a local test hook).

Rows use Dukcapil web-service style: upper-case keys, labels instead of codes, dd-mm-yyyy dates.
With ``defect_rate > 0`` penduduk rows carry defects from ``simpul.synth.defects`` and the
ground truth goes to ``<world_dir>/ground_truth/siak_penduduk.parquet``.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.middleware.gzip import GZipMiddleware

from simpul.simulators.common import (
    TokenStore,
    bearer,
    dmy,
    error,
    iso_z,
    page_body,
    parse_iso,
    region_fields,
    to_label,
    unauthorized,
    village_name,
)
from simpul.simulators.faults import FaultConfig, FaultMiddleware, FaultState
from simpul.synth.codes import regions, villages_of
from simpul.synth.defects import DEFECT_KINDS, as_text, inject_defects
from simpul.synth.names import draw_names
from simpul.synth.world import load_world

MAX_PER_PAGE = 1000
SIAK_PENDUDUK_KINDS = tuple(
    k for k in DEFECT_KINDS if k not in ("deceased_receiving_assistance", "permit_unknown_nik")
)


def penduduk_row(r: dict[str, Any]) -> dict[str, Any]:
    """Canonical text record -> Dukcapil web-service row (labels, dd-mm-yyyy)."""
    return {
        "NIK": r["nik"],
        "NO_KK": r["no_kk"],
        "NAMA_LGKP": r["nama_lengkap"],
        "JENIS_KLMIN": to_label("jenis_kelamin", r["jenis_kelamin"]),
        "TMPT_LHR": r["tempat_lahir"],
        "TGL_LHR": dmy(r["tanggal_lahir"]),
        "AGAMA": to_label("agama", r["agama"]),
        "STATUS_KAWIN": to_label("status_perkawinan", r["status_perkawinan"]),
        "STAT_HBKEL": to_label("shdk", r["shdk"]),
        "PDDK_AKH": to_label("pendidikan", r["pendidikan"]),
        "JENIS_PKRJN": to_label("pekerjaan", r["pekerjaan"]),
        "GOL_DARAH": to_label("golongan_darah", r["golongan_darah"]),
        "NIK_AYAH": r["nik_ayah"],
        "NAMA_LGKP_AYAH": r["nama_ayah"],
        "NIK_IBU": r["nik_ibu"],
        "NAMA_LGKP_IBU": r["nama_ibu"],
        **region_fields(r["kode_desa"]),
        "KEL_NAME": r.get("nama_desa") or village_name(r["kode_desa"]),
        "DUSUN": r["dusun"],
        "ALAMAT": r["alamat"],
        "NO_RT": r["rt"],
        "NO_RW": r["rw"],
        "STATUS": to_label("status_dasar", r["status_dasar"]),
        "UPDATED_AT": r["updated_at"],
    }


def keluarga_row(r: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {
        "NO_KK": r["no_kk"],
        "NIK_KEPALA": r["nik_kepala"],
        "NAMA_KEP": names.get(r["nik_kepala"] or ""),
        "ALAMAT": r["alamat"],
        "DUSUN": r["dusun"],
        "NO_RT": r["rt"],
        "NO_RW": r["rw"],
        **region_fields(r["kode_desa"]),
        "KEL_NAME": village_name(r["kode_desa"]),
        "JML_ANGGOTA": int(r["jumlah_anggota"]),
        "TGL_KK": dmy(r["tanggal_terbit"]),
        "UPDATED_AT": r["updated_at"],
    }


def peristiwa_row(r: dict[str, Any]) -> dict[str, Any]:
    label = to_label("kode_peristiwa", r["kode_peristiwa"])
    return {
        "ID_PERISTIWA": r["id_peristiwa"],
        "NIK": r["nik"],
        "NO_KK": r["no_kk"],
        "KODE_PERISTIWA": r["kode_peristiwa"],
        "JENIS_PERISTIWA": label.upper(),
        "TGL_PERISTIWA": dmy(r["tanggal_peristiwa"]),
        **region_fields(r["kode_desa"]),
        "KEL_NAME": village_name(r["kode_desa"]),
        "WILAYAH_ASAL_TUJUAN": r["kode_wilayah_lain"],
        "UPDATED_AT": r["updated_at"],
    }


class _Stream:
    """A text DataFrame kept sorted by (updated_at, key) with cached filters."""

    def __init__(self, frame: pd.DataFrame, key: str) -> None:
        self.key = key
        self.set(frame)

    def set(self, frame: pd.DataFrame) -> None:
        f = frame.reset_index(drop=True).astype(object)
        f = f.where(f.notna(), None)  # concat turns None into NaN; JSON needs null
        ts = pd.to_datetime(f["updated_at"], utc=True, format="ISO8601").dt.tz_localize(None)
        f = f.assign(_ts=ts.to_numpy(), _kec=f["kode_desa"].str.slice(0, 8).to_numpy())
        f = f.sort_values(["_ts", self.key], kind="stable").reset_index(drop=True)
        self.frame = f
        self.ts = f["_ts"].to_numpy().astype("datetime64[us]")
        self.kec = f["_kec"].to_numpy(dtype=object)
        self._cache: dict[tuple, np.ndarray] = {}

    def select(self, since: datetime | None, kec: str | None) -> np.ndarray:
        ck = (since, kec)
        if ck not in self._cache:
            start = 0
            if since is not None:
                stamp = np.datetime64(since.replace(tzinfo=None), "us")
                start = int(np.searchsorted(self.ts, stamp, side="left"))
            idx = np.arange(start, len(self.frame))
            if kec:
                idx = idx[self.kec[start:] == kec]
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[ck] = idx
        return self._cache[ck]

    def records(self, idx: np.ndarray) -> list[dict[str, Any]]:
        cols = [c for c in self.frame.columns if not c.startswith("_")]
        return self.frame.iloc[idx][cols].to_dict("records")


class SiakState:
    """The served register: delivered (maybe defective) rows plus simulated time."""

    def __init__(self, world_dir: Path, defect_rate: float, seed: int) -> None:
        world = load_world(world_dir)
        self.seed = seed
        self.step = 0
        self.lock = threading.RLock()
        if defect_rate > 0:
            delivered, truth = inject_defects(
                world.penduduk,
                defect_rate,
                seed,
                SIAK_PENDUDUK_KINDS,
                entity="penduduk",
                penduduk=world.penduduk,
                as_of=world.config.as_of,
            )
        else:
            delivered = as_text(world.penduduk)
            truth = inject_defects(world.penduduk, 0.0, seed, entity="penduduk")[1]
        gt_dir = Path(world_dir) / "ground_truth"
        gt_dir.mkdir(parents=True, exist_ok=True)
        pq.write_table(truth, gt_dir / "siak_penduduk.parquet")
        self.ground_truth = truth
        people = delivered.to_pandas(types_mapper=None).astype(object)
        people = people.where(people.notna(), None)
        self.people = _Stream(people, "nik")
        self.families = _Stream(_objects(as_text(world.keluarga)), "no_kk")
        self.events = _Stream(_objects(as_text(world.peristiwa)), "id_peristiwa")
        clean = world.penduduk
        self.names = dict(
            zip(
                clean.column("nik").to_pylist(),
                clean.column("nama_lengkap").to_pylist(),
                strict=True,
            )
        )
        self.known_niks = set(self.names)
        self.deleted: list[tuple[str, str]] = []
        self.clock = datetime.combine(world.config.as_of, datetime.min.time(), tzinfo=UTC)

    # -- simulated time -----------------------------------------------------------------------
    def advance(self, days: int) -> dict[str, Any]:
        """Moves, deaths, births, moves out and deletions after the current clock."""
        with self.lock:
            self.step += 1
            rng = np.random.default_rng([self.seed, self.step])
            t0 = self.clock
            t1 = t0 + timedelta(days=days)
            span = max(1, int((t1 - t0).total_seconds()))

            def stamp(k: int) -> list[str]:
                return [iso_z(t0 + timedelta(seconds=int(s))) for s in rng.integers(1, span + 1, k)]

            people = self.people.frame.drop(columns=["_ts", "_kec"]).copy()
            fams = self.families.frame.drop(columns=["_ts", "_kec"]).copy()
            new_events: list[dict[str, Any]] = []
            scale = days / 30
            alive = people.index[people["status_dasar"] == "1"].to_numpy()
            changes = dict.fromkeys(("moved", "died", "born", "moved_out", "deleted"), 0)

            def event(row: dict, kode: str, when: str, other: str | None = None) -> None:
                new_events.append(
                    {
                        "nik": row["nik"],
                        "no_kk": row["no_kk"],
                        "kode_peristiwa": kode,
                        "tanggal_peristiwa": when[:10],
                        "kode_desa": row["kode_desa"],
                        "kode_wilayah_lain": other,
                        "updated_at": when,
                    }
                )

            # moves within the kecamatan: the whole household gets a new address
            kks = people.loc[alive, "no_kk"].dropna().unique()
            k = min(len(kks), max(1, round(len(kks) * 0.003 * scale)))
            for kk, when in zip(
                rng.choice(kks, k, replace=False) if k else [], stamp(k), strict=False
            ):
                members = people.index[(people["no_kk"] == kk) & (people["status_dasar"] == "1")]
                kode = people.at[members[0], "kode_desa"]
                vill = villages_of(kode[:8]) or [kode]
                new = str(rng.choice(vill))
                unit = "LINGKUNGAN" if new.split(".")[-1].startswith("1") else "DUSUN"
                addr = {
                    "kode_desa": new,
                    "nama_desa": regions().okut_villages.get(new, ("", new))[1].upper(),
                    "dusun": f"{unit} I",
                    "rw": "001",
                    "rt": f"{int(rng.integers(1, 5)):03d}",
                    "alamat": f"{unit} I",
                    "updated_at": when,
                }
                for col, v in addr.items():
                    if col in people.columns:
                        people.loc[members, col] = v
                fm = fams["no_kk"] == kk
                for col in ("kode_desa", "dusun", "rw", "rt", "alamat", "updated_at"):
                    fams.loc[fm, col] = addr[col]
                changes["moved"] += 1

            # deaths, older people more likely
            alive = people.index[people["status_dasar"] == "1"].to_numpy()
            born = pd.to_datetime(people.loc[alive, "tanggal_lahir"], errors="coerce")
            age = ((pd.Timestamp(t0.replace(tzinfo=None)) - born).dt.days / 365.25).fillna(40)
            w = np.exp(0.085 * age.to_numpy())
            k = min(len(alive), max(1, round(len(alive) * 0.0006 * scale)))
            for i, when in zip(
                rng.choice(alive, k, replace=False, p=w / w.sum()), stamp(k), strict=True
            ):
                people.loc[i, ["status_dasar", "updated_at"]] = ["2", when]
                event(people.loc[i].to_dict(), "2", when)
                changes["died"] += 1

            # births to married women 18-42
            alive_m = people["status_dasar"] == "1"
            born = pd.to_datetime(people["tanggal_lahir"], errors="coerce")
            age = (pd.Timestamp(t0.replace(tzinfo=None)) - born).dt.days / 365.25
            mothers = people.index[alive_m & (people["shdk"] == "3") & age.between(18, 42)]
            k = min(len(mothers), max(1, round(alive_m.sum() * 0.0015 * scale)))
            new_rows = []
            for i, when in zip(
                rng.choice(mothers, k, replace=False) if k else [], stamp(k), strict=False
            ):
                mom = people.loc[i].to_dict()
                child = self._baby(rng, mom, people, when)
                new_rows.append(child)
                event(child, "1", when)
                fams.loc[fams["no_kk"] == mom["no_kk"], ["updated_at"]] = when
                fm = fams["no_kk"] == mom["no_kk"]
                fams.loc[fm, "jumlah_anggota"] = [
                    str(int(x) + 1) for x in fams.loc[fm, "jumlah_anggota"]
                ]
                changes["born"] += 1
            if new_rows:
                people = pd.concat([people, pd.DataFrame(new_rows)], ignore_index=True)

            # whole households moving out of the kabupaten
            kks = people.loc[people["status_dasar"] == "1", "no_kk"].dropna().unique()
            k = min(len(kks), max(1, round(len(kks) * 0.0005 * scale)))
            for kk, when in zip(
                rng.choice(kks, k, replace=False) if k else [], stamp(k), strict=False
            ):
                members = people.index[(people["no_kk"] == kk) & (people["status_dasar"] == "1")]
                for i in members:
                    people.loc[i, ["status_dasar", "updated_at"]] = ["3", when]
                    event(people.loc[i].to_dict(), "3", when, "16.71.01")
                changes["moved_out"] += len(members)

            # erroneous records removed by Disdukcapil (data ganda cleaning)
            cand = people.index[(people["status_dasar"] == "1") & (people["shdk"] != "1")]
            k = min(len(cand), 1 + self.step % 2)
            for i, when in zip(
                rng.choice(cand, k, replace=False) if k else [], stamp(k), strict=False
            ):
                self.deleted.append((people.at[i, "nik"], when))
                changes["deleted"] += 1
            gone = {n for n, _ in self.deleted}
            people = people[~people["nik"].isin(gone)]

            self.people.set(people)
            self.families.set(fams)
            if new_events:
                ev = self.events.frame.drop(columns=["_ts", "_kec"])
                last = int(ev["id_peristiwa"].str.slice(3).astype(int).max()) if len(ev) else 0
                for j, e in enumerate(new_events, start=1):
                    e["id_peristiwa"] = f"PST{last + j:08d}"
                self.events.set(pd.concat([ev, pd.DataFrame(new_events)], ignore_index=True))
            self.clock = t1
            return {"as_of": iso_z(t1), "step": self.step, "changes": changes}

    def _baby(
        self, rng: np.random.Generator, mom: dict, people: pd.DataFrame, when: str
    ) -> dict[str, Any]:
        female = bool(rng.random() < 0.49)
        born = when[:10]
        day = int(born[8:10]) + (40 if female else 0)
        prefix = mom["kode_desa"][:8].replace(".", "") + f"{day:02d}{born[5:7]}{born[2:4]}"
        serial = 1
        while f"{prefix}{serial:04d}" in self.known_niks:
            serial += 1
        nik = f"{prefix}{serial:04d}"
        self.known_niks.add(nik)
        head = people[(people["no_kk"] == mom["no_kk"]) & (people["shdk"] == "1")]
        father = (
            head.iloc[0].to_dict() if len(head) and head.iloc[0]["jenis_kelamin"] == "1" else None
        )
        name = str(draw_names(rng, np.array([female]))[0])
        self.names[nik] = name
        kec = regions().sumsel_districts.get(mom["kode_desa"][:8], "").upper()
        return {
            **{c: mom.get(c) for c in people.columns},
            "nik": nik,
            "nama_lengkap": name,
            "jenis_kelamin": "2" if female else "1",
            "tempat_lahir": kec or None,
            "tanggal_lahir": born,
            "status_perkawinan": "1",
            "shdk": "4",
            "pendidikan": "1",
            "pekerjaan": "1",
            "golongan_darah": "13",
            "kewarganegaraan": "1",
            "nik_ayah": father["nik"] if father else None,
            "nama_ayah": father["nama_lengkap"] if father else None,
            "nik_ibu": mom["nik"],
            "nama_ibu": mom["nama_lengkap"],
            "status_dasar": "1",
            "updated_at": when,
        }


def _objects(table) -> pd.DataFrame:
    df = table.to_pandas().astype(object)
    return df.where(df.notna(), None)


def _kecamatan(value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip()
    if len(v) == 6 and v.isdigit():
        v = f"{v[:2]}.{v[2:4]}.{v[4:]}"
    return v


def create_app(
    world_dir: Path,
    *,
    client_id: str,
    client_secret: str,
    defect_rate: float = 0.0,
    seed: int = 42,
    faults: FaultConfig | None = None,
    admin: bool = False,
    token_ttl: int = 3600,
) -> FastAPI:
    """The SIAK simulator app for a world written by ``World.write``."""
    state = SiakState(Path(world_dir), defect_rate, seed)
    tokens = TokenStore(token_ttl)
    fault_state = FaultState(faults)
    app = FastAPI(title="SIAK simulator (Disdukcapil)", docs_url="/docs")
    app.state.siak = state
    app.state.tokens = tokens
    app.state.faults = fault_state
    # Disdukcapil's gateway compresses when asked (Accept-Encoding: gzip): a metered line
    # carries a fraction of the JSON; the faults act on what goes over the wire
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.add_middleware(FaultMiddleware, state=fault_state)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/auth/token")
    async def token(request: Request):
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return error(400, "invalid_request", "JSON body with client_id and client_secret")
        ok = secrets.compare_digest(
            str(body.get("client_id", "")), client_id
        ) and secrets.compare_digest(str(body.get("client_secret", "")), client_secret)
        if not ok:
            return error(401, "invalid_client", "unknown client_id or wrong client_secret")
        return {"access_token": tokens.issue(), "token_type": "bearer", "expires_in": token_ttl}

    def paged(
        request: Request,
        stream: _Stream,
        convert,
        page: int,
        per_page: int,
        updated_since: str | None,
        kode_kecamatan: str | None,
    ):
        if not tokens.valid(bearer(request)):
            return unauthorized()
        try:
            since = parse_iso(updated_since) if updated_since else None
        except ValueError:
            return error(400, "invalid_parameter", "updated_since must be ISO 8601")
        per_page = min(per_page, MAX_PER_PAGE)
        with state.lock:
            idx = stream.select(since, _kecamatan(kode_kecamatan))

            def rows_for(a: int, b: int) -> list[dict[str, Any]]:
                return [convert(r) for r in stream.records(idx[a:b])]

            return page_body(request, rows_for, len(idx), page, per_page, fault_state)

    common = {
        "page": Query(1, ge=1),
        "per_page": Query(500, ge=1),
    }

    @app.get("/api/v1/penduduk")
    def penduduk(
        request: Request,
        page: int = common["page"],
        per_page: int = common["per_page"],
        updated_since: str | None = None,
        kode_kecamatan: str | None = None,
    ):
        return paged(
            request, state.people, penduduk_row, page, per_page, updated_since, kode_kecamatan
        )

    @app.get("/api/v1/penduduk/deleted")
    def deleted(request: Request, since: str | None = None):
        if not tokens.valid(bearer(request)):
            return unauthorized()
        try:
            t = parse_iso(since) if since else None
        except ValueError:
            return error(400, "invalid_parameter", "since must be ISO 8601")
        with state.lock:
            rows = [
                {"NIK": n, "DELETED_AT": at}
                for n, at in state.deleted
                if t is None or parse_iso(at) >= t
            ]
        rows.sort(key=lambda r: (r["DELETED_AT"], r["NIK"]))
        return {"data": rows, "meta": {"total": len(rows)}}

    @app.get("/api/v1/keluarga")
    def keluarga(
        request: Request,
        page: int = common["page"],
        per_page: int = common["per_page"],
        updated_since: str | None = None,
        kode_kecamatan: str | None = None,
    ):
        return paged(
            request,
            state.families,
            lambda r: keluarga_row(r, state.names),
            page,
            per_page,
            updated_since,
            kode_kecamatan,
        )

    @app.get("/api/v1/peristiwa")
    def peristiwa(
        request: Request,
        page: int = common["page"],
        per_page: int = common["per_page"],
        updated_since: str | None = None,
        kode_kecamatan: str | None = None,
    ):
        return paged(
            request, state.events, peristiwa_row, page, per_page, updated_since, kode_kecamatan
        )

    if admin:
        add_admin_routes(app, fault_state, tokens, advance=state.advance)
    return app


def add_admin_routes(
    app: FastAPI, faults: FaultState, tokens: TokenStore | None = None, advance=None
) -> None:
    """Local test hooks: advance time, switch faults, revoke tokens. No auth, by design."""

    if advance is not None:

        @app.post("/admin/advance")
        async def admin_advance(request: Request, days: int = Query(7, ge=1, le=3650)):
            return advance(days)

    @app.get("/admin/faults")
    def get_faults():
        return faults.config.to_dict()

    @app.post("/admin/faults")
    async def set_faults(request: Request):
        try:
            cfg = FaultConfig.from_dict(await request.json() or {})
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": "invalid_faults", "message": str(exc)}, status_code=400)
        faults.reset(cfg)
        return cfg.to_dict()

    if tokens is not None:

        @app.post("/admin/revoke-tokens")
        def revoke():
            tokens.revoke_all()
            return {"revoked": True}
