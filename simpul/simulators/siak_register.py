"""The register the SIAK simulator serves: delivered (maybe defective) rows kept in update
order, and simulated time in which people move, die, are born, move out or are deleted."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from simpul.simulators.common import iso_z, served_rows
from simpul.synth.codes import regions, villages_of
from simpul.synth.defects import DEFECT_KINDS, as_text
from simpul.synth.names import draw_names
from simpul.synth.world import load_world

SIAK_PENDUDUK_KINDS = tuple(
    k for k in DEFECT_KINDS if k not in ("deceased_receiving_assistance", "permit_unknown_nik")
)


class Stream:
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
        self._cache: dict[tuple[datetime | None, str | None], np.ndarray] = {}

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
        records: list[dict[str, Any]] = self.frame.iloc[idx][cols].to_dict("records")
        return records


@dataclass
class _Step:
    """One ``advance``: its random stream, time window and the frames being changed."""

    rng: np.random.Generator
    t0: datetime
    span: int
    scale: float
    people: pd.DataFrame
    fams: pd.DataFrame
    new_events: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("moved", "died", "born", "moved_out", "deleted"), 0)
    )

    def stamp(self, k: int) -> list[str]:
        """``k`` random update times inside the window."""
        return [
            iso_z(self.t0 + timedelta(seconds=int(s)))
            for s in self.rng.integers(1, self.span + 1, k)
        ]

    def event(self, row: dict, kode: str, when: str, other: str | None = None) -> None:
        self.new_events.append(
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

    def alive(self) -> pd.Series:
        return self.people["status_dasar"] == "1"


class SiakState:
    """The served register: delivered (maybe defective) rows plus simulated time."""

    def __init__(self, world_dir: Path, defect_rate: float, seed: int) -> None:
        world = load_world(world_dir)
        self.seed = seed
        self.step = 0
        self.lock = threading.RLock()
        delivered, truth = served_rows(
            world, Path(world_dir), "penduduk", SIAK_PENDUDUK_KINDS, defect_rate, seed, "siak"
        )
        self.ground_truth = truth
        people = delivered.to_pandas(types_mapper=None).astype(object)
        people = people.where(people.notna(), None)
        self.people = Stream(people, "nik")
        self.families = Stream(_objects(as_text(world.keluarga)), "no_kk")
        self.events = Stream(_objects(as_text(world.peristiwa)), "id_peristiwa")
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

    def advance(self, days: int) -> dict[str, Any]:
        """Moves, deaths, births, moves out and deletions after the current clock."""
        with self.lock:
            self.step += 1
            t0 = self.clock
            t1 = t0 + timedelta(days=days)
            step = _Step(
                rng=np.random.default_rng([self.seed, self.step]),
                t0=t0,
                span=max(1, int((t1 - t0).total_seconds())),
                scale=days / 30,
                people=self.people.frame.drop(columns=["_ts", "_kec"]).copy(),
                fams=self.families.frame.drop(columns=["_ts", "_kec"]).copy(),
            )
            _move_households(step)
            _deaths(step)
            self._births(step)
            _moves_out(step)
            self._deletions(step)
            self.people.set(step.people)
            self.families.set(step.fams)
            if step.new_events:
                ev = self.events.frame.drop(columns=["_ts", "_kec"])
                last = int(ev["id_peristiwa"].str.slice(3).astype(int).max()) if len(ev) else 0
                for j, e in enumerate(step.new_events, start=1):
                    e["id_peristiwa"] = f"PST{last + j:08d}"
                self.events.set(pd.concat([ev, pd.DataFrame(step.new_events)], ignore_index=True))
            self.clock = t1
            return {"as_of": iso_z(t1), "step": self.step, "changes": step.changes}

    def _births(self, step: _Step) -> None:
        """Births to married women 18-42."""
        people, fams, rng = step.people, step.fams, step.rng
        alive_m = step.alive()
        born = pd.to_datetime(people["tanggal_lahir"], errors="coerce")
        age = (pd.Timestamp(step.t0.replace(tzinfo=None)) - born).dt.days / 365.25
        mothers = people.index[alive_m & (people["shdk"] == "3") & age.between(18, 42)]
        k = min(len(mothers), max(1, round(alive_m.sum() * 0.0015 * step.scale)))
        new_rows = []
        for i, when in zip(
            rng.choice(mothers, k, replace=False) if k else [], step.stamp(k), strict=False
        ):
            mom = people.loc[i].to_dict()
            child = self._baby(rng, mom, people, when)
            new_rows.append(child)
            step.event(child, "1", when)
            fams.loc[fams["no_kk"] == mom["no_kk"], ["updated_at"]] = when
            fm = fams["no_kk"] == mom["no_kk"]
            fams.loc[fm, "jumlah_anggota"] = [
                str(int(x) + 1) for x in fams.loc[fm, "jumlah_anggota"]
            ]
            step.changes["born"] += 1
        if new_rows:
            step.people = pd.concat([people, pd.DataFrame(new_rows)], ignore_index=True)

    def _deletions(self, step: _Step) -> None:
        """Erroneous records removed by Disdukcapil (data ganda cleaning)."""
        people = step.people
        cand = people.index[step.alive() & (people["shdk"] != "1")]
        k = min(len(cand), 1 + self.step % 2)
        for i, when in zip(
            step.rng.choice(cand, k, replace=False) if k else [], step.stamp(k), strict=False
        ):
            self.deleted.append((people.at[i, "nik"], when))
            step.changes["deleted"] += 1
        gone = {n for n, _ in self.deleted}
        step.people = people[~people["nik"].isin(gone)]

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


def _move_households(step: _Step) -> None:
    """Moves within the kecamatan: the whole household gets a new address."""
    people, fams, rng = step.people, step.fams, step.rng
    alive = people.index[step.alive()].to_numpy()
    kks = people.loc[alive, "no_kk"].dropna().unique()
    k = min(len(kks), max(1, round(len(kks) * 0.003 * step.scale)))
    for kk, when in zip(
        rng.choice(kks, k, replace=False) if k else [], step.stamp(k), strict=False
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
        step.changes["moved"] += 1


def _deaths(step: _Step) -> None:
    """Deaths, older people more likely."""
    people = step.people
    alive = people.index[step.alive()].to_numpy()
    born = pd.to_datetime(people.loc[alive, "tanggal_lahir"], errors="coerce")
    age = ((pd.Timestamp(step.t0.replace(tzinfo=None)) - born).dt.days / 365.25).fillna(40)
    w = np.exp(0.085 * age.to_numpy())
    k = min(len(alive), max(1, round(len(alive) * 0.0006 * step.scale)))
    for i, when in zip(
        step.rng.choice(alive, k, replace=False, p=w / w.sum()), step.stamp(k), strict=True
    ):
        people.loc[i, ["status_dasar", "updated_at"]] = ["2", when]
        step.event(people.loc[i].to_dict(), "2", when)
        step.changes["died"] += 1


def _moves_out(step: _Step) -> None:
    """Whole households moving out of the kabupaten."""
    people = step.people
    kks = people.loc[step.alive(), "no_kk"].dropna().unique()
    k = min(len(kks), max(1, round(len(kks) * 0.0005 * step.scale)))
    for kk, when in zip(
        step.rng.choice(kks, k, replace=False) if k else [], step.stamp(k), strict=False
    ):
        members = people.index[(people["no_kk"] == kk) & (people["status_dasar"] == "1")]
        for i in members:
            people.loc[i, ["status_dasar", "updated_at"]] = ["3", when]
            step.event(people.loc[i].to_dict(), "3", when, "16.71.01")
        step.changes["moved_out"] += len(members)


def _objects(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas().astype(object)
    return df.where(df.notna(), None)
