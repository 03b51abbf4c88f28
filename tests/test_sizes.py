"""Rooms of a knowable size: no module over 400 lines, no function over 60 (issue 19).

The few left over are listed below with their size; the lists may only shrink, and an entry
must go as soon as its room fits.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simpul", "connectors", "expectations", "mappings", "dags")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Still too big today (path: lines); may only shrink.
LARGE_MODULES: dict[str, int] = {}
# Still too long today ("path:function": lines); may only shrink.
LONG_FUNCTIONS: dict[str, int] = {}


def _sources() -> list[Path]:
    return [
        p
        for package in PACKAGES
        for p in sorted((ROOT / package).rglob("*.py"))
        if "schema/versions" not in p.as_posix()  # frozen migrations are not rooms to live in
    ]


def _measure() -> tuple[dict[str, int], dict[str, int]]:
    modules: dict[str, int] = {}
    functions: dict[str, int] = {}
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        modules[rel] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                key = f"{rel}:{node.name}"
                functions[key] = max(functions.get(key, 0), length)
    return modules, functions


def test_no_module_over_the_limit() -> None:
    modules, _ = _measure()
    over = {
        p: n for p, n in modules.items() if n > MAX_MODULE_LINES and n > LARGE_MODULES.get(p, 0)
    }
    assert not over, f"split these modules (limit {MAX_MODULE_LINES} lines): {over}"


def test_no_function_over_the_limit() -> None:
    _, functions = _measure()
    over = {
        f: n
        for f, n in functions.items()
        if n > MAX_FUNCTION_LINES and n > LONG_FUNCTIONS.get(f, 0)
    }
    assert not over, f"split these functions (limit {MAX_FUNCTION_LINES} lines): {over}"


def test_the_lists_of_exceptions_only_shrink() -> None:
    modules, functions = _measure()
    stale = [p for p, n in LARGE_MODULES.items() if modules.get(p, 0) <= MAX_MODULE_LINES]
    stale += [f for f, n in LONG_FUNCTIONS.items() if functions.get(f, 0) <= MAX_FUNCTION_LINES]
    assert not stale, f"these fit now: remove them from the exception lists: {stale}"
