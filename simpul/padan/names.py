"""Indonesian name normalisation for linkage (why: the same person is written many ways).

Titles and degrees (H., HJ., DRS., S.PD, ...), patronymic connectors (BIN/BINTI), spelling of
Muhammad/Abdul, old Dutch-era spelling (OE/DJ/TJ), doubled letters and spacing all vary between
agencies; none of them distinguish people, so they are removed or made uniform.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Titles and degrees, compared after removing dots and spaces inside the token ("S. PD" -> SPD).
GELAR = frozenset(
    """H HJ HAJI HAJJAH DR DRS DRA IR PROF KH KYAI UST USTADZ USTADZAH TGK TG RADEN RD RA
    SPD SPDI SAG SSOS SKOM SH SE SP SIP SST ST SKM SKEP SFARM SPSI SHI SSI SSN SS SHUT STP SPT
    SKED SAP SIKOM MPD MSI MM MH MAG MKES MKOM MT MA AMD AMDKEB AMDKEP AMK AMAPK AMA BSC BA
    DRG APT NS BDN""".split()
)
CONNECTORS = frozenset({"BIN", "BINTI", "BT", "BN", "ALIAS", "ALS"})
# Spelling variants of very common name parts (after dots are removed).
VARIANTS = {
    "M": "MUHAMMAD",
    "MUH": "MUHAMMAD",
    "MOH": "MUHAMMAD",
    "MOCH": "MUHAMMAD",
    "MOCHAMAD": "MUHAMMAD",
    "MOCHAMMAD": "MUHAMMAD",
    "MHD": "MUHAMMAD",
    "MUHD": "MUHAMMAD",
    "MUHAMAD": "MUHAMMAD",
    "MOHAMAD": "MUHAMMAD",
    "MOHAMMAD": "MUHAMMAD",
    "MOHAMMED": "MUHAMMAD",
    "MUHAMMED": "MUHAMMAD",
    "MUCHAMMAD": "MUHAMMAD",
    "MUCHAMAD": "MUHAMMAD",
    "ABD": "ABDUL",
    "ABDL": "ABDUL",
    "SITTI": "SITI",
    "NUR": "NUR",
    "NOER": "NUR",
}
_OLD_SPELLING = (("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("CH", "KH"), ("SJ", "SY"))


def _fold(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c) and c.isprintable())


def name_tokens(name: str | None) -> list[str]:
    """Upper-case tokens with titles, connectors and punctuation removed, variants unified."""
    if not name:
        return []
    if isinstance(name, str) and _PLAIN.fullmatch(name):
        # most registers: upper-case words and single spaces, nothing to clean (fast path,
        # same tokens as the general path below)
        return _unify(name.split(" "))
    text = _fold(str(name)).upper().replace("\u2019", "'").replace("`", "'")
    text = text.replace("'", "")  # MA'RUF -> MARUF
    # Degrees written "S.Pd.I" or "A. Md" are one title: glue letters split by dots/spaces
    # only when what follows a comma is a degree list ("BUDI, S.PD, M.PD").
    head, *tail = text.split(",")
    tokens: list[str] = []
    for part in re.split(r"[\s.\-/]+", head):
        part = re.sub(r"[^A-Z]", "", part)
        if part:
            tokens.append(part)
    # a comma tail only ever carries degrees: drop it unless it holds a real name part
    for chunk in tail:
        glued = re.sub(r"[^A-Z]", "", chunk)
        if glued and glued not in GELAR:
            words = [re.sub(r"[^A-Z]", "", w) for w in re.split(r"[\s.\-/]+", chunk)]
            tokens.extend(w for w in words if w and w not in GELAR)
    return _unify(tokens)


_PLAIN = re.compile(r"[A-Z]+(?: [A-Z]+)*")


def _unify(tokens: list[str]) -> list[str]:
    """Connectors and titles (also split ones, "S PD I") dropped, spelling variants unified."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in CONNECTORS:
            i += 1
            continue
        # titles before the name and degrees after it, also when split by dots ("S.Pd.I")
        glued = next(
            (j for j in range(min(len(tokens), i + 3), i, -1) if "".join(tokens[i:j]) in GELAR),
            None,
        )
        lone_m = t == "M" and glued == i + 1 and i < len(tokens) - 1
        if glued is not None and len(tokens) > 1 and not lone_m:
            i = glued
            continue
        out.append(VARIANTS.get(t, t))
        i += 1
    return out


@lru_cache(maxsize=200_000)
def spelling_key(token: str) -> str:
    """Old spelling and doubled letters made uniform (SOEKARNO -> SUKARNO, SITTI -> SITI)."""
    for old, new in _OLD_SPELLING:
        token = token.replace(old, new)
    return re.sub(r"(.)\1+", r"\1", token)


def normalise_name(name: str | None) -> str:
    """The comparison form of a name: titles, connectors and punctuation gone, spelling uniform.

    >>> normalise_name("Hj. Sitti Nur'aini binti H. Moh. Soekarno, S.Pd")
    'SITI NURAINI MUHAMAD SUKARNO'
    """
    return " ".join(spelling_key(t) for t in name_tokens(name))


def name_key(name: str | None) -> str:
    """Spacing-insensitive key (NUR AINI == NURAINI) used for blocking and exact comparison."""
    return normalise_name(name).replace(" ", "")
