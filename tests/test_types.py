"""The type check CI runs: mypy over simpul, connectors and expectations (``[tool.mypy]`` in
pyproject.toml): every module checked, none exempt, strict on the domain, the connector base and
the warehouse (issue 19)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]


def test_no_module_is_exempt_and_the_bottom_layers_are_strict() -> None:
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    assert not [o for o in overrides if o.get("ignore_errors")], "no type debt list any more"
    strict = {m for o in overrides if o.get("disallow_untyped_defs") for m in o["module"]}
    assert {
        "simpul.domain.*",
        "connectors.base.*",
        "simpul.warehouse",
        "simpul.warehouse.*",
    } <= strict
