"""What the command line prints: plain-text tables and one-line failures.

One module for every command group (``simpul``, ``simpul exchange``, ``simpul padan``, the
operator commands, the demo), so none of them imports another's private helpers and the CLI
modules do not import each other in a circle. Imports nothing from the hub: any layer may use it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

EXIT_OPERATOR_ERROR = 2  # a refused or failed operator command: one line on stderr, no trace


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows as a left-aligned text table (``None`` prints empty); ``(no rows)`` when empty."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, sep, *body])


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    print(table(rows, columns))


def bilingual(indonesian: str, english: str) -> str:
    """An operator message: Bahasa Indonesia first, then English (the house rule)."""
    return f"{indonesian} / {english}"


def fail(message: str) -> int:
    """Print ``simpul: error: <message>`` on stderr and return the operator-error exit code."""
    print(f"simpul: error: {message}", file=sys.stderr)
    return EXIT_OPERATOR_ERROR
