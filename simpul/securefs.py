"""Data at rest: everything the hub writes under SIMPUL_HOME is owner-only, whatever the umask.

The warehouse, landed and staged deliveries, reports (the local DQ CSV holds NIKs) and the
outbox hold a kabupaten's personal data, so directories are 0700 and files 0600. The process
umask is set to 077 by every entry point (CLI, pipeline run, marts build); :func:`harden`
repairs a home written by an older version. Keys readable by group or world are refused, as
ssh refuses a private key with loose permissions. :func:`simpul.doctor.doctor` lists what is wrong.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


class KeyPermissionError(Exception):
    """A secret file that group or world may read (bilingual message)."""


def owner_only_umask() -> int:
    """Set the process umask to 077 (files 0600, directories 0700) and close SIMPUL_HOME itself
    to others (so nothing below it is reachable, whatever an older version wrote there);
    returns the old umask."""
    from simpul.config import home

    old = os.umask(OWNER_ONLY_UMASK)
    try:
        root = home()
        if root.is_dir() and stat.S_IMODE(root.stat().st_mode) & 0o077 and os.access(root, os.W_OK):
            root.chmod(DIR_MODE)
    except OSError:  # not ours to change (e.g. a mounted volume): doctor reports it
        pass
    return old


def secure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only; tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(DIR_MODE)
    return path


def secure_file(path: Path, mode: int = FILE_MODE) -> Path:
    """Drop group/world bits from a file the hub wrote (read-only files stay read-only)."""
    current = stat.S_IMODE(path.stat().st_mode)
    wanted = current & 0o700 if current & 0o700 else mode
    if current != wanted:
        path.chmod(wanted)
    return path


def harden(home: Path) -> int:
    """Make every directory 0700 and file owner-only under ``home``; returns how many changed.
    Symbolic links are left alone (they may point outside the data folder)."""
    changed = 0
    if not home.exists():
        return 0
    for root, dirs, files in os.walk(home):
        for name in [root, *(os.path.join(root, d) for d in dirs)]:
            p = Path(name)
            if p.is_symlink():
                continue
            mode = stat.S_IMODE(p.stat().st_mode)
            if mode & 0o077:
                p.chmod(mode & 0o700 | 0o700)
                changed += 1
        for f in files:
            p = Path(root) / f
            if p.is_symlink():
                continue
            mode = stat.S_IMODE(p.stat().st_mode)
            if mode & 0o077:
                p.chmod(mode & 0o700)
                changed += 1
    return changed


def create_random_key_file(path: Path) -> tuple[Path, bool]:
    """Write a random key to an owner-only file unless one is there; (path, created). Created
    with O_EXCL, so two processes starting at once never overwrite each other's key."""
    import secrets

    secure_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path, False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(48) + "\n")
    return path, True


def check_key_file(path: Path, what: str = "key") -> Path:
    """Refuse a secret file that group or world can read or write (like ssh does)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyPermissionError(
            f"{what} {path}: izin {mode:o} terlalu longgar, jalankan `chmod 600 {path}` / "
            f"permissions {mode:o} are too open, run `chmod 600 {path}`"
        )
    return path
