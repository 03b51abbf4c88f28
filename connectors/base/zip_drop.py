"""ZIP deliveries from a drop folder: the members to read, after checking paths and limits
from the ZIP directory (a ZIP bomb or a ``..`` path is refused before anything is unpacked)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

from connectors.base.drop import DropLimits, FileRejected, ignored


def zip_members(
    name: str, data: BinaryIO | bytes, suffixes: tuple[str, ...], limits: DropLimits
) -> Iterator[tuple[str, bytes]]:
    """The members of a ZIP ending in ``suffixes``, after checking paths and limits from the
    ZIP directory (nothing is decompressed before every check passed)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except zipfile.BadZipFile:
        raise FileRejected(
            f"{name}: not a valid ZIP file", f"{name}: bukan berkas ZIP yang sah"
        ) from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_members:
            raise FileRejected(
                f"{name}: {len(infos)} members, above the limit {limits.max_members} (max_members)",
                f"{name}: {len(infos)} anggota, melebihi batas {limits.max_members} (max_members)",
            )
        total = 0
        for i in infos:
            p = i.filename.replace("\\", "/")
            if p.startswith("/") or ".." in PurePosixPath(p).parts or (len(p) > 1 and p[1] == ":"):
                raise FileRejected(
                    f"{name}: member {_safe(p)!r} has an absolute or '..' path; refused",
                    f"{name}: anggota {_safe(p)!r} berjalur absolut atau '..'; ditolak",
                )
            total += i.file_size
            ratio = i.file_size / max(i.compress_size, 1)
            if i.file_size > 1024**2 and ratio > limits.max_ratio:
                raise FileRejected(
                    f"{name}: member {_safe(p)!r} expands {ratio:.0f}x, above the limit "
                    f"{limits.max_ratio:.0f}x (max_ratio; a ZIP bomb?)",
                    f"{name}: anggota {_safe(p)!r} mengembang {ratio:.0f}x, melebihi batas "
                    f"{limits.max_ratio:.0f}x (max_ratio; bom ZIP?)",
                )
        if total > limits.max_uncompressed_bytes:
            raise FileRejected(
                f"{name}: {total} bytes uncompressed, above the limit "
                f"{limits.max_uncompressed_bytes} (max_uncompressed_bytes)",
                f"{name}: {total} bita setelah diekstrak, melebihi batas "
                f"{limits.max_uncompressed_bytes} (max_uncompressed_bytes)",
            )
        members = [
            i
            for i in infos
            if i.filename.lower().endswith(suffixes) and not ignored(PurePosixPath(i.filename).name)
        ]
        if not members:
            raise FileRejected(
                f"{name}: ZIP holds no {'/'.join(suffixes)} file",
                f"{name}: ZIP tidak memuat berkas {'/'.join(suffixes)}",
            )
        for i in members:
            with zf.open(i) as fh:  # zipfile never returns more than the declared size
                yield i.filename, fh.read(i.file_size + 1)


def _safe(text: str) -> str:
    """A member name shown in a message: printable, short."""
    return "".join(c if c.isprintable() else "?" for c in text)[:120]


def file_or_members(
    name: str, fh: BinaryIO, suffixes: tuple[str, ...], limits: DropLimits
) -> Iterator[tuple[str, bytes | BinaryIO]]:
    """The file itself, or for a ``.zip`` its members ending in ``suffixes``."""
    if not name.lower().endswith(".zip"):
        yield name, fh
        return
    yield from zip_members(name, fh, suffixes, limits)
