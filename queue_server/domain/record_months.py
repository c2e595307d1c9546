"""Months of the record (record/partitions.py): each Shanghai month of tickets and events is its own
partition, named by the table and the month."""
from __future__ import annotations

from datetime import date


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    """The first day of the month ``n`` months from ``month``'s (negative: before it)."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(parent: str, month: date) -> str:
    """As migration 080's record_month_partition names it: tickets_y2026m11."""
    return f"{parent}_y{month.year:04d}m{month.month:02d}"
