"""``simpul doctor``: what is wrong with permissions, keys and configuration, in one list.

It asks every layer (file permissions, the pseudonym key, the encryption key, the warehouse
URL), so it sits with the command line above them all rather than in :mod:`simpul.securefs`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from simpul.securefs import KeyPermissionError, check_key_file


def doctor(home: Path) -> list[tuple[str, str]]:
    """(id, en) problems with permissions, keys and configuration; empty when all is well."""
    from simpul.warehouse.pseudonym import key_problem

    problems: list[tuple[str, str]] = []
    if home.exists():
        loose = []
        for root, dirs, files in os.walk(home):
            for name in (root, *(os.path.join(root, x) for x in dirs + files)):
                p = Path(name)
                if not p.is_symlink() and stat.S_IMODE(p.stat().st_mode) & 0o077:
                    loose.append(p)
        if loose:
            problems.append(
                (
                    f"{len(loose)} berkas/folder di {home} terbaca pihak lain (mis. {loose[0]}); "
                    "jalankan `simpul doctor --fix`",
                    f"{len(loose)} files/folders under {home} are readable by others (e.g. "
                    f"{loose[0]}); run `simpul doctor --fix`",
                )
            )
    problem = key_problem()
    if problem:
        problems.append(problem)
    from simpul.atrest import key_problem as encryption_key_problem

    problem = encryption_key_problem()
    if problem:
        problems.append(problem)
    for env in (
        "SIMPUL_PSEUDONYM_KEY_FILE",
        "SIMPUL_EXCHANGE_SIGNING_KEY_FILE",
        "SIMPUL_DATA_KEY_FILE",
        "SIMPUL_ENCRYPTION_KEY_FILE",
    ):
        value = os.environ.get(env)
        if value and Path(value).exists():
            try:
                check_key_file(Path(value), env)
            except KeyPermissionError as exc:
                id_, _, en = str(exc).partition(" / ")
                problems.append((id_, en))
    url = os.environ.get("SIMPUL_WAREHOUSE_URL", "")
    if url.startswith("postgresql") and not os.environ.get("SIMPUL_ANALYST_URL"):
        problems.append(
            (
                "SIMPUL_ANALYST_URL belum diisi: analis tidak punya jalur baca sendiri",
                "SIMPUL_ANALYST_URL is not set: analysts have no read path of their own",
            )
        )
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        userinfo = url.split("://", 1)[1].split("@", 1)[0]
        if ":" in userinfo:
            problems.append(
                (
                    "kata sandi di SIMPUL_WAREHOUSE_URL: lebih aman di ~/.pgpass atau PGPASSFILE",
                    "password in SIMPUL_WAREHOUSE_URL: prefer ~/.pgpass or PGPASSFILE",
                )
            )
    return problems
