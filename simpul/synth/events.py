"""Population events over the last years: births, deaths, moves out and in.

Events set the final ``status_dasar`` and ``updated_at`` of each person, so the clean truth and
the event log always agree (a dead person has exactly one 'mati' event, and so on).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LAHIR, MATI, PINDAH_KELUAR, PINDAH_MASUK = "1", "2", "3", "5"
HIDUP_S, MATI_S, PINDAH_S = "1", "2", "3"
DAY_US = 86_400 * 1_000_000


def _office_time(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """datetime64[D] -> datetime64[us] UTC during office hours (08:00-16:00 WIB = 01-09 UTC)."""
    us = rng.integers(3_600, 9 * 3_600, len(days)) * 1_000_000
    return days.astype("datetime64[us]") + us.astype("timedelta64[us]")


def apply_events(
    rng: np.random.Generator,
    p: pd.DataFrame,
    as_of: np.datetime64,
    years: int,
    other_regions: np.ndarray,
) -> pd.DataFrame:
    """Set status_dasar/updated_at on ``p`` (in place) and return the peristiwa table.

    ``p`` needs: nik, no_kk, kode_desa, household, born (datetime64[D]), age_days, moved_in
    (bool: household came from elsewhere), kecamatan.
    """
    n = len(p)
    start = as_of - np.timedelta64(int(years * 365.25), "D")
    born = p["born"].to_numpy().astype("datetime64[D]")
    last = as_of - np.timedelta64(1, "D")

    # base updated_at: some routine update since 2013 (or since birth registration)
    lo = np.maximum(born, np.datetime64("2013-01-01")).astype(np.int64)
    hi = np.maximum(lo + 1, last.astype(np.int64))
    base = (lo + (rng.random(n) * (hi - lo)).astype(np.int64)).astype("datetime64[D]")
    status = np.full(n, HIDUP_S, dtype=object)
    log = _EventLog(rng, p, last, _office_time(rng, base))

    # births inside the window
    m = born >= start
    log.record(m, LAHIR, born[m], None)
    mday = _moves(log, status, start, other_regions, years)
    _deaths(log, status, start, mday, years)

    p["status_dasar"] = status
    p["updated_at"] = log.updated
    events = pd.concat(log.events, ignore_index=True)
    events = events.sort_values(["tanggal_peristiwa", "nik", "kode_peristiwa"], kind="stable")
    events.insert(0, "id_peristiwa", [f"PST{i:08d}" for i in range(1, len(events) + 1)])
    # updated_at of the person must be the latest of its events
    latest = events.groupby("nik")["updated_at"].max()
    cur = pd.Series(log.updated, index=p["nik"].to_numpy())
    cur.update(latest)
    p["updated_at"] = np.maximum(log.updated, cur.to_numpy().astype("datetime64[us]"))
    return events.reset_index(drop=True)


class _EventLog:
    """Events recorded so far, and each person's updated_at as the events move it."""

    def __init__(
        self, rng: np.random.Generator, p: pd.DataFrame, last: np.datetime64, updated: np.ndarray
    ) -> None:
        self.rng = rng
        self.p = p
        self.last = last
        self.updated = updated
        self.events: list[pd.DataFrame] = []

    def record(
        self, mask: np.ndarray, kode: str, when: np.ndarray, other: np.ndarray | None
    ) -> None:
        """An event of kind ``kode`` for the people in ``mask``, registered 1-44 days later."""
        p = self.p
        delay = self.rng.integers(1, 45, int(mask.sum())).astype("timedelta64[D]")
        stamp = _office_time(self.rng, np.minimum(when + delay, self.last))
        self.updated[mask] = stamp
        self.events.append(
            pd.DataFrame(
                {
                    "nik": p["nik"].to_numpy()[mask],
                    "no_kk": p["no_kk"].to_numpy()[mask],
                    "kode_peristiwa": kode,
                    "tanggal_peristiwa": when,
                    "kode_desa": p["kode_desa"].to_numpy()[mask],
                    "kode_wilayah_lain": other if other is not None else None,
                    "updated_at": stamp,
                }
            )
        )


def _moves(
    log: _EventLog,
    status: np.ndarray,
    start: np.datetime64,
    other_regions: np.ndarray,
    years: int,
) -> np.ndarray:
    """Moves in and out; returns each person's household move day."""
    rng, p = log.rng, log.p
    n = len(p)
    born = p["born"].to_numpy().astype("datetime64[D]")
    # pindah masuk: households that came from elsewhere, members born before the move
    hh = p["household"].to_numpy()
    moved_in = p["moved_in"].to_numpy()
    hh_ids = np.unique(hh)
    move_day = start + rng.integers(0, (log.last - start).astype(int), hh_ids.max() + 1)
    mday = move_day[hh]
    m = moved_in & (born < mday)
    log.record(m, PINDAH_MASUK, mday[m], other_regions[m])

    # pindah keluar: whole households (about 0.8% a year) and young adults alone (1% a year)
    out_hh = rng.random(hh_ids.max() + 1) < 0.008 * years
    age_y = p["age_days"].to_numpy() / 365.25
    alone = (age_y >= 18) & (age_y <= 30) & (rng.random(n) < 0.01 * years)
    m = (out_hh[hh] | alone) & (born < mday) & ~moved_in
    status[m] = PINDAH_S
    dest = rng.choice(other_regions, n)
    log.record(m, PINDAH_KELUAR, mday[m], dest[m])
    return mday


def _deaths(
    log: _EventLog, status: np.ndarray, start: np.datetime64, mday: np.ndarray, years: int
) -> None:
    """Deaths of people still here: Gompertz-like yearly risk by age, after any move in."""
    rng, p = log.rng, log.p
    n = len(p)
    born = p["born"].to_numpy().astype("datetime64[D]")
    age_y = p["age_days"].to_numpy() / 365.25
    moved_in = p["moved_in"].to_numpy()
    q = np.minimum(0.001 + 0.00006 * np.exp(0.085 * age_y), 0.5)
    m = (rng.random(n) < 1 - (1 - q) ** years) & (status == HIDUP_S)
    span = (log.last - np.maximum(born, start)).astype(np.int64)
    dday = np.maximum(born, start) + (rng.random(n) * np.maximum(span, 1)).astype("timedelta64[D]")
    dday = np.where(moved_in, np.maximum(dday, mday), dday)
    status[m] = MATI_S
    log.record(m, MATI, dday[m], None)
