"""Calendar arithmetic in Asia/Shanghai, the business time zone (brief §5, expiry policies).

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
