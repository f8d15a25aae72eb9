"""Billing periods are months, kept as the month's first day (``date(2026, 11, 1)``)."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def local_today():
    """Today in the deployment's time zone (``TIME_ZONE``): windows, bills and reminders follow
    the customers' calendar, not the server's UTC clock."""
    return datetime.now(ZoneInfo(current_app.config["TIME_ZONE"])).date()


def month_start(day):
    return day.replace(day=1)


def add_months(period, months):
    """The first day of the month ``months`` after (or before, if negative) ``period``'s month."""
    index = period.year * 12 + period.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse(text):
    """``"2026-11"`` or ``"2026-11-01"`` → ``date(2026, 11, 1)``; ValueError when it is neither."""
    parts = str(text).strip().split("-")
    if len(parts) not in (2, 3) or len(parts[0]) != 4 or len(parts[1]) != 2:
        raise ValueError(f"not a period: {text!r}")
    if len(parts) == 3 and parts[2] != "01":
        raise ValueError(f"a period starts on the 1st: {text!r}")
    return date(int(parts[0]), int(parts[1]), 1)


def label(period):
    """``date(2026, 11, 1)`` → ``"2026-11"`` (how the API shows a period)."""
    return f"{period.year:04d}-{period.month:02d}"
