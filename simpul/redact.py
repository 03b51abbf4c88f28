"""Free text made safe to log, alert or audit: no personal data, no secrets, no control characters.

The one place for the rule "NIK and names never in logs": alerts, the audit trail, exchange events
and file errors all pass their free text through :func:`redact`. Imports nothing from the hub.
"""

from __future__ import annotations

import re

_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # credentials in URLs: scheme://user:password@host (also an empty user, or / in the password)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]*:[^\s@]*@"), r"\1[rahasia]@"),
    # JSON Web Tokens (header.payload.signature, base64url)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[rahasia]"),
    # NAME=value settings whose name says secret: SIMPUL_PSEUDONYM_KEY=..., DB_PASS=...
    (
        re.compile(
            r"(?i)\b([a-z0-9_.-]*(?:key|token|secret|pass|pwd|credential|auth|signature)"
            r"[a-z0-9_.-]*)(\s*[:=]\s*)([\"']?)[^\s,;&\"'}]+"
        ),
        r"\1\2\3[rahasia]",
    ),
    # bare base64 / base64url keys: 32+ characters mixing upper, lower case and digits
    (
        re.compile(
            r"(?<![\w+/=-])(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Z])"
            r"(?=[A-Za-z0-9+/_-]*[a-z])[A-Za-z0-9+/_-]{32,}={0,2}(?![\w+/=-])"
        ),
        "[rahasia]",
    ),
    # Authorization headers and bearer tokens
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [rahasia]"),
    # key=value / key: value secrets (token, secret, password, api key, client id/secret)
    (
        re.compile(
            r"(?i)\b([a-z_]*(?:token|secret|password|passwd|pwd|api[_-]?key|client[_-]?id|"
            r"authorization|cookie|session)[a-z_]*)([\"']?\s*[:=]\s*)([\"']?)[^\s,;&\"'}]+"
        ),
        r"\1\2\3[rahasia]",
    ),
    # e-mail addresses
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "[surel]"),
    # quoted values (a name, an address, a record): keep the quotes, drop the content
    (re.compile(r"'[^'\n]{1,200}'"), "'…'"),
    (re.compile(r"\"[^\"\n]{1,200}\""), '"…"'),
    # NIK / KK (16 digits), phone numbers and any other long digit run, with separators
    (re.compile(r"(?<![\w.])\+?\d(?:[\d .-]{8,}\d)(?![\w])"), "[angka disamarkan]"),
    (re.compile(r"\d{10,}"), "[angka disamarkan]"),
]
MAX_TEXT = 300


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str, keep_newlines: bool = False) -> str:
    """Control characters (ANSI escapes, CR, NUL; newlines unless kept) as visible ``\\xNN``:
    a file name cannot forge log lines or repaint an operator's terminal."""
    out = _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return out if keep_newlines else out.replace("\n", "\\n")


def redact(text: str | None, limit: int = MAX_TEXT) -> str:
    """Free text made safe for an alert: no personal data, no secrets, at most ``limit`` chars."""
    if not text:
        return ""
    out = escape_controls(str(text), keep_newlines=True)
    for pattern, repl in _REDACTIONS:
        out = pattern.sub(repl, out)
    out = " ".join(out.split())
    return out if len(out) <= limit else out[: limit - 1] + "…"
