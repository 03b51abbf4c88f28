"""Household structure: who lives with whom, with ages, sexes and SHDK that make sense.

The loop is over households (~3.6 people each) using ``random.Random`` seeded from the world
seed; everything per person afterwards is vectorised in ``world.py``. Ages are in days before
``as_of`` so birth dates follow directly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

# SHDK codes (status_hubungan_dalam_keluarga)
KEPALA, ISTRI, ANAK, MENANTU, CUCU = "1", "3", "4", "5", "6"
ORANGTUA, MERTUA, FAMILI = "7", "8", "9"
# status_perkawinan_f101_2019
BELUM, KAWIN, KAWIN_BT, CERAI_H, CERAI_HBT, CERAI_M = "1", "2", "3", "4", "5", "6"
YEAR = 365.25


@dataclass
class Structure:
    """Parallel per-person arrays plus the household index of each person."""

    household: np.ndarray  # int, 0..n_households-1
    shdk: np.ndarray  # object (str code)
    female: np.ndarray  # bool
    age_days: np.ndarray  # int
    kawin: np.ndarray  # object (str code)
    father: np.ndarray  # int, -1 = not in population
    mother: np.ndarray  # int, -1 = not in population
    n_households: int


class _Builder:
    def __init__(self) -> None:
        self.hh: list[int] = []
        self.shdk: list[str] = []
        self.female: list[bool] = []
        self.age: list[int] = []
        self.kawin: list[str] = []
        self.father: list[int] = []
        self.mother: list[int] = []

    def add(
        self,
        hh: int,
        shdk: str,
        female: bool,
        age_years: float,
        kawin: str,
        father: int = -1,
        mother: int = -1,
    ) -> int:
        self.hh.append(hh)
        self.shdk.append(shdk)
        self.female.append(female)
        self.age.append(max(0, int(age_years * YEAR)))
        self.kawin.append(kawin)
        self.father.append(father)
        self.mother.append(mother)
        return len(self.hh) - 1


def _children(
    r: random.Random, b: _Builder, hh: int, mother_age: float, father: int, mother: int
) -> list[int]:
    """Children still in the household, oldest first; born when the mother was 18-42."""
    if mother_age < 19:
        lam = 0.3
    elif mother_age < 55:
        lam = 2.4 if mother_age >= 28 else 1.2
    else:
        lam = 0.6  # most children of older parents have their own KK
    k = min(_poisson(r, lam), 7)
    ages = []
    for _ in range(k):
        age = mother_age - r.uniform(18.5, 42.0)
        if 0 <= age <= 32:
            ages.append(age)
    out = []
    for age in sorted(ages, reverse=True):
        out.append(b.add(hh, ANAK, r.random() < 0.49, age, BELUM, father, mother))
    return out


def _poisson(r: random.Random, lam: float) -> int:
    """Knuth's method: tiny lambdas only, fast enough per household."""
    import math

    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def _head_age(r: random.Random) -> float:
    return min(21.0 + r.gammavariate(3.2, 7.0), 92.0)


def build_households(seed: int, population: int) -> Structure:
    """Households until ``population`` people exist (the last one is trimmed to fit)."""
    r = random.Random(seed)
    b = _Builder()
    hh = 0
    while len(b.hh) < population:
        kind = r.random()
        head_age = _head_age(r)
        if kind < 0.80:
            _married_couple(r, b, hh, head_age)
        elif kind < 0.90:  # single parent (mostly widowed or divorced mothers)
            female = r.random() < 0.8
            kawin = r.choices((CERAI_M, CERAI_H, CERAI_HBT), (6, 3, 1))[0]
            head = b.add(hh, KEPALA, female, head_age, kawin)
            if female:
                _children(r, b, hh, head_age, -1, head)
            else:
                _children(r, b, hh, head_age - 4, head, -1)
        else:  # one-person household
            female = r.random() < 0.45
            if head_age < 35:
                kawin = BELUM
            else:
                kawin = r.choices((CERAI_M, CERAI_H, BELUM), (6, 2, 2))[0]
            b.add(hh, KEPALA, female, head_age, kawin)
        if head_age < 60 and r.random() < 0.08:  # an elderly parent lives with them
            b.add(
                hh,
                r.choice((ORANGTUA, MERTUA)),
                r.random() < 0.75,
                head_age + r.uniform(21, 34),
                CERAI_M,
            )
        if r.random() < 0.02:
            b.add(hh, FAMILI, r.random() < 0.5, r.uniform(8, 40), BELUM)
        hh += 1
    return _structure(b, population)


def _married_couple(r: random.Random, b: _Builder, hh: int, head_age: float) -> None:
    """A married couple and their children; sometimes a married child, spouse and grandchild."""
    kawin = KAWIN if r.random() < 0.9 else KAWIN_BT
    head = b.add(hh, KEPALA, False, head_age, kawin)
    wife_age = max(17.0, head_age - r.gauss(4.0, 3.0))
    wife = b.add(hh, ISTRI, True, wife_age, kawin)
    kids = _children(r, b, hh, wife_age, head, wife)
    if not (head_age > 48 and kids and r.random() < 0.12):
        return
    child = kids[0]
    b.kawin[child] = KAWIN
    child_age = b.age[child] / YEAR
    if child_age < 19:
        b.kawin[child] = BELUM
        return
    c_female = b.female[child]
    inlaw_age = max(18.0, child_age + r.gauss(0 if c_female else -3, 3))
    inlaw = b.add(hh, MENANTU, not c_female, inlaw_age, KAWIN)
    fa, mo = (inlaw, child) if c_female else (child, inlaw)
    mother_age = b.age[mo] / YEAR
    for _ in range(r.randint(0, 2)):
        age = mother_age - r.uniform(18.5, 40.0)
        if age >= 0:
            b.add(hh, CUCU, r.random() < 0.49, age, BELUM, fa, mo)


def _structure(b: _Builder, population: int) -> Structure:
    """The first ``population`` people as arrays; parents cut off by the trim become -1."""
    n = population
    household = np.asarray(b.hh[:n], dtype=np.int64)
    return Structure(
        household=household,
        shdk=np.asarray(b.shdk[:n], dtype=object),
        female=np.asarray(b.female[:n], dtype=bool),
        age_days=np.asarray(b.age[:n], dtype=np.int64),
        kawin=np.asarray(b.kawin[:n], dtype=object),
        father=np.asarray([f if f < n else -1 for f in b.father[:n]], dtype=np.int64),
        mother=np.asarray([m if m < n else -1 for m in b.mother[:n]], dtype=np.int64),
        n_households=int(household.max()) + 1 if n else 0,
    )
