"""Timestamps read back from the warehouse: both engines and ISO text from JSON spools give
naive or aware values; the hub writes UTC, so a naive one is UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

#: Western Indonesia Time (OKU Timur); Indonesia has no daylight saving time.
WIB = timezone(timedelta(hours=7), "WIB")


def aware(value: Any) -> datetime | None:
    """``value`` (datetime or ISO text) as an aware datetime, naive read as UTC; None stays."""
    if value is None:
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_utc(value: Any) -> datetime | None:
    """:func:`aware`, expressed in UTC."""
    moment = aware(value)
    return moment.astimezone(UTC) if moment else None
