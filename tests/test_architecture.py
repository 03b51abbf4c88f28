"""The import layers (``.importlinter``) hold, cover every module, and only lose exceptions;
docs/architecture.md draws the same layers and names only functions that exist.

``lint-imports`` is run as CI runs it, so a new upward import or a new cycle fails ``make test``.
"""

from __future__ import annotations

import configparser
import importlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / ".importlinter"
PACKAGES = ("simpul", "connectors", "expectations")

# Upward imports tolerated today, each with the change that removes it (see .importlinter).
# This set may only shrink: remove an entry here when its import is gone.
KNOWN_EXCEPTIONS = {
    "simpul.warehouse.migrations -> simpul.exchange.store",
    "simpul.padan.cli -> simpul.cli",
}


def _contract() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(inline_comment_prefixes=None)
    parser.read(CONTRACT, encoding="utf-8")
    return parser


def layers() -> list[list[str]]:
    """The layers of the contract, top first, each a list of module names."""
    raw = _contract()["importlinter:contract:layers"]["layers"]
    return [
        [m.strip() for m in line.replace("|", ":").split(":")]
        for line in raw.splitlines()
        if line.strip()
    ]


def _modules() -> list[str]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--config", str(CONTRACT), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_every_module_sits_in_a_layer() -> None:
    named = [m for layer in layers() for m in layer]
    straddling = {m.rsplit(".", 1)[0] for m in named if "." in m}  # package inits: glue only
    missing = [
        m
        for m in _modules()
        if m not in straddling and not any(m == n or m.startswith(n + ".") for n in named)
    ]
    assert not missing, f"name these modules in a layer of .importlinter: {missing}"


def test_exceptions_only_shrink() -> None:
    parser = _contract()
    ignored = set()
    for section in parser.sections():
        for line in parser[section].get("ignore_imports", "").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                ignored.add(" ".join(line.split()))
    new = ignored - KNOWN_EXCEPTIONS
    assert not new, f"fix these imports instead of ignoring them: {sorted(new)}"


DOC = ROOT / "docs" / "architecture.md"


def test_the_architecture_page_lists_the_contract_layers() -> None:
    rows = []
    in_table = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| Layer | Modules |"):
            in_table = True
            continue
        if in_table and line.startswith("| ---"):
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table:
            rows.append(re.findall(r"`([\w.]+)`", line.split("|")[2]))
    assert rows == layers(), "docs/architecture.md and .importlinter name different layers"


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_every_name_on_the_architecture_page_exists() -> None:
    names = set(re.findall(r"`((?:simpul|connectors|expectations)(?:\.\w+)*)`", DOC.read_text()))
    missing = []
    for name in sorted(names):
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, f"docs/architecture.md names what does not exist: {missing}"
