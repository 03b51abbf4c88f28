"""Data-quality reports per delivery, Indonesian first, for the operator and the source agency.

The CSV lists each failing row with its row number, record key and reasons so the source agency
can fix its own records; it goes to that agency only (it holds their NIKs). The HTML summary
holds counts per rule and no personal data, so it can be shared and published in Airflow logs.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd


def write_dq_report(
    out_dir: Path,
    summary: dict[str, Any],
    findings: pd.DataFrame,
    keys: pd.Series,
    origin: pd.Series | None = None,
) -> dict[str, str]:
    """Write ``laporan_mutu_data.csv`` and ``laporan_mutu_data.html``; return their paths.

    ``origin`` (file drops) maps a delivery row to "file, baris/row N" as the agency sees it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "laporan_mutu_data.csv"
    _write_detail_csv(csv_path, findings, keys, origin)
    html_path = out_dir / "laporan_mutu_data.html"
    html_path.write_text(_summary_html(summary, _rule_rows(findings)), encoding="utf-8")
    return {"csv": str(csv_path), "html": str(html_path)}


def _write_detail_csv(
    csv_path: Path, findings: pd.DataFrame, keys: pd.Series, origin: pd.Series | None
) -> None:
    """One line per (row, rule) with the record key (and file and line, for drops), for the
    source agency to fix its records."""
    detail = findings.merge(keys.rename("kunci_data"), left_on="row", right_index=True, how="left")
    if origin is None:
        origin = pd.Series(dtype="string")
    detail = detail.merge(origin.rename("berkas"), left_on="row", right_index=True, how="left")
    detail = detail.rename(
        columns={
            "row": "baris",
            "rule": "aturan",
            "severity": "tingkat",
            "field": "kolom",
            "reason_id": "alasan",
            "reason_en": "reason",
        }
    )[["baris", "berkas", "kunci_data", "kolom", "aturan", "tingkat", "alasan", "reason"]]
    detail = detail.sort_values(["baris", "aturan"])
    # the same formula neutralisation as a delivered copy: the operator opens it in a spreadsheet
    from simpul.exchange.formats import neutralise

    detail = detail.astype(object).where(detail.notna(), None)
    detail = detail.apply(lambda col: col.map(neutralise))
    detail.to_csv(csv_path, index=False)


def _rule_rows(findings: pd.DataFrame) -> str:
    """The HTML table rows of findings counted per rule (no row, no value: shareable)."""
    per_rule = (
        findings.groupby(["rule", "severity", "field", "reason_id", "reason_en"])
        .size()
        .reset_index(name="rows")
        .sort_values("rows", ascending=False)
    )
    return (
        "\n".join(
            f"<tr><td>{html.escape(r.rule)}</td><td>{html.escape(r.severity)}</td>"
            f"<td>{html.escape(r.field)}</td><td>{html.escape(r.reason_id)}<br>"
            f"<small>{html.escape(r.reason_en)}</small></td><td>{r.rows}</td></tr>"
            for r in per_rule.itertuples()
        )
        or '<tr><td colspan="5">Tidak ada temuan / no findings</td></tr>'
    )


def _summary_html(s: dict[str, Any], rows_html: str) -> str:
    """The delivery's counts and findings per rule as one HTML page, Indonesian first."""
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<title>Laporan mutu data {html.escape(s["load_id"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head><body>
<h1>Laporan mutu data <small>/ data-quality report</small></h1>
<p>Kiriman / delivery: <code>{html.escape(s["load_id"])}</code></p>
<table>
<tr><th>Diterima / received</th><td>{s["received"]}</td></tr>
<tr><th>Lolos / valid</th><td>{s["valid"]}</td></tr>
<tr><th>Dikarantina / quarantined</th><td>{s["quarantined"]}</td></tr>
<tr><th>Duplikat persis / exact duplicates</th><td>{s["duplicate"]}</td></tr>
<tr><th>Peringatan / warned</th><td>{s["warned"]}</td></tr>
<tr><th>Tingkat galat / error rate</th><td>{s["error_rate"]:.1%}</td></tr>
<tr><th>Ditahan / held</th><td>{"ya / yes" if s["held"] else "tidak / no"}</td></tr>
</table>
<h2>Temuan per aturan <small>/ findings per rule</small></h2>
<table><tr><th>aturan</th><th>tingkat</th><th>kolom</th><th>alasan / reason</th><th>baris</th></tr>
{rows_html}
</table>
<p>Rincian per baris untuk diperbaiki di sumber: <code>laporan_mutu_data.csv</code>
(berisi NIK: hanya untuk instansi sumber). / Row details for the source agency to fix: the CSV
(holds NIKs: for the source agency only).</p>
</body></html>
"""
