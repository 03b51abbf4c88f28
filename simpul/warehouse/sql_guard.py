"""What ``simpul sql`` lets through: one statement, and only SELECT, WITH, DESCRIBE, SHOW,
EXPLAIN, SUMMARIZE (or FROM ..., DuckDB's short SELECT), with no word that changes data,
sessions, files or privileges and no function that reaches the server's files or programs.

The engine's own guard (read-only file, read-only transaction, grants) still holds if this
check is ever wrong; see :mod:`simpul.warehouse.analyst`.
"""

from __future__ import annotations

import hashlib
import re

ALLOWED_FIRST = {"select", "with", "describe", "desc", "show", "explain", "summarize", "from"}


# Words that change data, sessions, files or privileges; refused anywhere outside quotes even
# inside an allowed statement (a data-modifying CTE, EXPLAIN ANALYZE DELETE, SELECT INTO).
FORBIDDEN_WORDS = {
    "insert", "update", "delete", "merge", "upsert", "truncate", "drop", "alter", "create",
    "copy", "attach", "detach", "install", "load", "set", "reset", "grant",
    "revoke", "call", "pragma", "export", "import", "vacuum", "checkpoint", "begin", "commit",
    "rollback", "abort", "start", "do", "execute", "prepare", "deallocate", "listen",
    "notify", "lock", "into", "security", "role", "use", "cluster",
    "reindex", "refresh", "comment", "discard", "savepoint", "release", "program",
}  # fmt: skip


# Functions that reach the server's files, programs or other databases.
FORBIDDEN_FUNCTIONS = re.compile(
    r"^(pg_read_file|pg_read_binary_file|pg_ls_\w+|pg_stat_file|pg_file_\w+|lo_\w+|dblink\w*|"
    r"pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|set_config|"
    r"current_setting|read_\w+|glob|query|query_table|sniff_csv|parquet_\w+|iceberg_\w+|"
    r"delta_scan|sqlite_\w+|postgres_\w+|mysql_\w+|getenv|duckdb_secrets)$"
)


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<line>--[^\n]*)
    |(?P<block>/\*)
    |(?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$)
    |(?P<estr>[eE]'(?:[^'\\]|\\.|'')*')
    |(?P<str>'(?:[^']|'')*')
    |(?P<ident>"(?:[^"]|"")*")
    |(?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    |(?P<semi>;)
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


class SqlRefused(Exception):
    """A statement the analyst/operator path does not run (bilingual, one line)."""


def _refuse(why_id: str, why_en: str) -> SqlRefused:
    return SqlRefused(
        f"ditolak: {why_id}; hanya satu pernyataan SELECT/WITH/DESCRIBE/SHOW/EXPLAIN/SUMMARIZE "
        f"/ refused: {why_en}; only one SELECT/WITH/DESCRIBE/SHOW/EXPLAIN/SUMMARIZE statement"
    )


def _words(sql: str) -> list[tuple[str, str]]:
    """(kind, text) of the tokens outside comments; strings and quoted names kept whole."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(sql):
        m = _TOKEN.match(sql, i)
        if m is None:  # pragma: no cover - 'other' matches any character
            raise _refuse("teks SQL tidak terbaca", "unreadable SQL text")
        kind = m.lastgroup or "other"
        if kind == "tag":
            kind = "dollar"
        if kind == "block":  # nested block comments, as PostgreSQL and DuckDB read them
            depth, j = 1, m.end()
            while depth and j < len(sql):
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                raise _refuse("komentar tidak ditutup", "unterminated comment")
            i = j
            continue
        if kind == "dollar":
            end = sql.find(m.group(0), m.end())
            if end < 0:
                raise _refuse("teks $...$ tidak ditutup", "unterminated $-quoted text")
            out.append(("str", sql[m.start() : end + len(m.group(0))]))
            i = end + len(m.group(0))
            continue
        if kind == "other" and m.group(0) in "'\"":
            raise _refuse("tanda kutip tidak ditutup", "unterminated quote")
        if kind not in ("ws", "line"):
            out.append((kind, m.group(0)))
        i = m.end()
    return out


def check_statement(sql: str, dialect: str = "duckdb") -> str:
    """Return the one allowed statement (without a trailing ``;``) or raise SqlRefused."""
    tokens = _words(sql)
    while tokens and tokens[-1][0] == "semi":
        tokens.pop()
    if not tokens:
        raise _refuse("pernyataan kosong", "empty statement")
    if any(kind == "semi" for kind, _ in tokens):
        raise _refuse("lebih dari satu pernyataan", "more than one statement")
    first = tokens[0][1].lower() if tokens[0][0] == "word" else ""
    if first not in ALLOWED_FIRST:
        raise _refuse(f"jenis pernyataan {first or '?'!r}", f"statement type {first or '?'!r}")
    for n, (kind, text) in enumerate(tokens):
        word = text.lower()
        if kind != "word":
            continue
        if word in FORBIDDEN_WORDS:
            raise _refuse(f"kata {word.upper()!r} tidak diizinkan", f"{word.upper()!r} not allowed")
        nxt = tokens[n + 1][1] if n + 1 < len(tokens) else ""
        if nxt == "(" and FORBIDDEN_FUNCTIONS.match(word):
            raise _refuse(f"fungsi {word!r} tidak diizinkan", f"function {word!r} not allowed")
    body = sql.strip().rstrip(";").strip()
    if dialect == "duckdb":  # the engine's own parser must agree: exactly one read statement
        import duckdb

        try:
            statements = duckdb.extract_statements(body)
        except duckdb.Error:
            raise _refuse("SQL tidak valid", "invalid SQL") from None
        kinds = {s.type for s in statements}
        allowed = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
        if len(statements) != 1 or not kinds <= allowed:
            raise _refuse("jenis pernyataan", "statement type")
    return body


def statement_hash(sql: str) -> str:
    """SHA-256 of the statement as run: the audit trail records which query, not its text."""
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()
