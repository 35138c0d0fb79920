"""Calendar arithmetic in Asia/Shanghai, the business time zone (brief §5, expiry policies), and
the range of instants Jifen accepts from outside.

Members read expiry as a calendar date ("valid until 30 Sep 2027"), so expiry is computed on the
Shanghai calendar and returned as the first instant, in UTC, at which the points are no longer
valid: the start of the day after the last valid day. Points are valid while ``now < expires_at``
(the ledger expires a lot when ``now >= expires_at``).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from jifen.rules.errors import InvalidArgument

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Every time that comes in (a payment, an effective date, a campaign, the simulated clock) must
# lie in these UTC years. Python's datetime stops at years 1 and 9999, and a time near either end
# cannot even be converted to UTC (9999-12-31T23:59:59-14:00 is in year 10000), let alone have a
# return window or 120 months of validity added to it. Two centuries from 2000 hold every real
# business time with room for that arithmetic, on every store.
FIRST_SUPPORTED_YEAR = 2000
LAST_SUPPORTED_YEAR = 2199
SUPPORTED_FROM = datetime(FIRST_SUPPORTED_YEAR, 1, 1, tzinfo=UTC)
"""The first supported instant (inclusive)."""
SUPPORTED_UNTIL = datetime(LAST_SUPPORTED_YEAR + 1, 1, 1, tzinfo=UTC)
"""The first instant after the supported range (exclusive)."""


def supported_utc(value: datetime) -> datetime:
    """``value`` as a UTC instant, or ``ValueError`` (so pydantic reports it at the field's path)
    when it has no zone, cannot be converted to UTC, or lies outside the supported years."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("须带时区 / must carry a time zone (a UTC offset)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # beyond year 1 or 9999 once the offset is applied
        utc = None
    if utc is None or not SUPPORTED_FROM <= utc < SUPPORTED_UNTIL:
        raise ValueError(
            f"须在 UTC {FIRST_SUPPORTED_YEAR}–{LAST_SUPPORTED_YEAR} 年之间 / must lie in the "
            f"years {FIRST_SUPPORTED_YEAR}–{LAST_SUPPORTED_YEAR} (UTC)"
        )
    return utc


def within_supported(value: datetime) -> datetime:
    """``value`` unchanged, zone and all, if ``supported_utc`` accepts it (for times kept as
    written, such as a campaign's, which members read in the offset the operator chose)."""
    supported_utc(value)
    return value


def require_supported(name: str, value: datetime) -> datetime:
    """``supported_utc`` for Python callers: a refusal is ``InvalidArgument`` naming ``name``."""
    try:
        return supported_utc(value)
    except ValueError as exc:
        raise InvalidArgument(f"{name}: {exc}", field=name) from exc


def require_aware(name: str, value: datetime) -> None:
    """Refuse naive datetimes: a naive time is ambiguous by up to a day at the calendar edges."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument(f"{name} 须带时区 / {name} must be timezone-aware", field=name)


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, clamping the day to the target month's length
    (31 Jan + 1 month = 28 or 29 Feb). Monotone in ``months``, which the rights gate relies on."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def local_date(moment: datetime) -> date:
    """The Shanghai calendar date of an aware instant."""
    return moment.astimezone(SHANGHAI).date()


def end_of_local_day(day: date) -> datetime:
    """The first instant (UTC) after the Shanghai calendar day ``day`` ends."""
    return datetime.combine(day + timedelta(days=1), time(), SHANGHAI).astimezone(UTC)
