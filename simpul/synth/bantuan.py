"""DTKS-like social-assistance recipients (Dinas Sosial), living residents only in the truth.

Poorer households (farm labourers, day labourers, farmers) are more likely to be listed; PKH and
BPNT are paid to the mother/wife where there is one, as in practice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROGRAMS = {"PKH": 750_000, "BPNT": 600_000, "BLT-DD": 900_000}
POOR_JOBS = {"19": 3.0, "20": 3.0, "9": 1.5, "2": 1.2, "1": 1.5, "23": 2.0}


def quarters(as_of: np.datetime64, n: int = 2) -> list[str]:
    """The ``n`` quarters up to and including the one of ``as_of``, e.g. ['2026-Q3', '2026-Q4']."""
    ts = pd.Timestamp(as_of)
    q = pd.Period(ts, freq="Q")
    return [f"{p.year}-Q{p.quarter}" for p in (q - i for i in reversed(range(n)))]


def make_bantuan(rng: np.random.Generator, p: pd.DataFrame, as_of: np.datetime64) -> pd.DataFrame:
    """One row per (recipient, program, periode) for living, resident households."""
    alive = p[p["status_dasar"] == "1"]
    heads = alive[alive["shdk"] == "1"]
    w = heads["pekerjaan"].map(POOR_JOBS).fillna(0.4).to_numpy()
    base = 0.16 * w / w.mean()
    listed = rng.random(len(heads)) < np.minimum(base, 0.9)
    hh = heads[listed]
    wives = alive[alive["shdk"] == "3"].drop_duplicates("no_kk").set_index("no_kk")["nik"]
    recip = hh["no_kk"].map(wives).fillna(hh["nik"]).to_numpy()
    kids = alive[(alive["shdk"] == "4") & (alive["age_days"] < 18 * 365)]["no_kk"].unique()
    has_kids = hh["no_kk"].isin(kids).to_numpy()
    rows = []
    for periode in quarters(as_of):
        for prog, share, eligible in (
            ("BPNT", 0.85, np.ones(len(hh), dtype=bool)),
            ("PKH", 0.55, has_kids),
            ("BLT-DD", 0.15, np.ones(len(hh), dtype=bool)),
        ):
            m = eligible & (rng.random(len(hh)) < share)
            rows.append(
                pd.DataFrame(
                    {
                        "nik": recip[m],
                        "no_kk": hh["no_kk"].to_numpy()[m],
                        "program": prog,
                        "periode": periode,
                        "kode_desa": hh["kode_desa"].to_numpy()[m],
                        "nominal": PROGRAMS[prog],
                    }
                )
            )
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values(["periode", "program", "kode_desa", "no_kk"], kind="stable").reset_index(
        drop=True
    )
