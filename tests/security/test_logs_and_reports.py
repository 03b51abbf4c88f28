"""Logs and reports: the local DQ report CSV is neutralised like a delivery, redact() removes
NAME=value secrets, JWTs, URL passwords and bare base64 keys, and a file name cannot forge log
lines or operator messages with control characters."""

from __future__ import annotations

import base64
import csv
import os

import pandas as pd

from connectors.base.files import FileFormatError
from simpul.redact import escape_controls, redact
from simpul.reports import write_dq_report

KEY_B64 = base64.b64encode(bytes(range(7, 39))).decode()  # 32 raw bytes, like a signing key
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzaWFrIiwiZXhwIjoxNzAwMDAwMDAwfQ."
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMDEyMzQ1Njc4OQ"
)


def test_redact_covers_every_secret_form():
    secrets = {
        "SIMPUL_PSEUDONYM_KEY=Zq8vT2wLr5NpX1cY7hJ4mK9sB3dF6gA0": "Zq8vT2wLr5NpX1cY7hJ4mK9sB3dF6gA0",
        "DB_PASS=hunter2-very-long": "hunter2-very-long",
        f"Authorization failed for {JWT}": JWT,
        f"token in body {JWT} end": "eyJzdWIiOiJzaWFrIiwiZXhwIjoxNzAwMDAwMDAwfQ",
        "could not connect to postgresql://simpul:s3cr/et!@db:5432/warehouse": "s3cr/et!",
        "connect postgresql://:onlypass@db/warehouse": "onlypass",
        f"signing key {KEY_B64} rejected": KEY_B64,
        f"SIMPUL_EXCHANGE_SIGNING_KEY: {KEY_B64}": KEY_B64,
    }
    for text, secret in secrets.items():
        out = redact(text, 1000)
        assert secret not in out, (text, out)
        assert "[rahasia]" in out, (text, out)


def test_redact_keeps_what_an_operator_needs():
    sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    for text in (
        "load siak.penduduk.20261130T124750.11fe9de3 held",
        f"manifest sha256 {sha}",
        "/opt/simpul/var/landing/siak/penduduk/part-0.parquet missing",
    ):
        assert redact(text, 1000) == text


def test_control_characters_in_file_names_are_escaped():
    name = "desa\nsimpul: INFO forged line\x1b[2J\r.xlsx"
    err = str(FileFormatError(f"{name}: not a readable Excel workbook"))
    assert "\n" not in err and "\x1b" not in err and "\r" not in err
    assert "\\x1b" in err and "forged line" in err  # visible, not interpreted
    assert "\n" not in escape_controls(name) and "\x1b" not in redact(name)


def test_local_dq_report_csv_is_formula_neutralised(tmp_path):
    old = os.umask(0o022)
    try:
        findings = pd.DataFrame(
            {
                "row": [1, 2],
                "rule": ["nik_format", "=cmd|' /C calc'!A0"],
                "severity": ["error", "error"],
                "field": ["nik", "+nama"],
                "reason_id": ["NIK tidak valid", "@SUM(1+1)"],
                "reason_en": ["invalid NIK", "-2+3"],
            }
        )
        keys = pd.Series({1: '=HYPERLINK("http://x")', 2: "1608014101900001"})
        paths = write_dq_report(tmp_path / "r", {"load_id": "x"} | _summary(), findings, keys)
    finally:
        os.umask(old)
    with open(paths["csv"], encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells), cells
    assert '\'=HYPERLINK("http://x")' in cells and "1608014101900001" in cells


def _summary() -> dict:
    return {
        "received": 2, "valid": 0, "quarantined": 2, "duplicate": 0, "warned": 0,
        "error_rate": 1.0, "held": True,
    }  # fmt: skip
