"""Reading the SCD2 history back: who lived where on a given day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from simpul.domain.clock import WIB
from simpul.warehouse.engine import Warehouse

# "Who lived in desa X on date D": the state at the end of day D (midnight WIB after it).
# docs/warehouse.md shows the same query with literals; tests run both.
RESIDENTS_ON = """
SELECT h.nik
FROM core.penduduk_history h
WHERE h.kode_desa = :kode_desa
  AND h.valid_from < :as_of
  AND (h.valid_to IS NULL OR h.valid_to >= :as_of)
  AND COALESCE(h.status_dasar, '1') = '1'
ORDER BY h.nik
"""


def end_of_day(day: date) -> datetime:
    """The instant a day in Martapura ends: midnight WIB (UTC+7) after it."""
    return datetime.combine(day + timedelta(days=1), time.min, WIB)


def residents_on(wh: Warehouse, kode_desa: str, day: date) -> list[str]:
    """NIKs of the living residents of ``kode_desa`` at the end of ``day`` (restricted: core)."""
    rows = wh.query(RESIDENTS_ON, {"kode_desa": kode_desa, "as_of": end_of_day(day)})
    return [str(r["nik"]) for r in rows]
