"""Calendar arithmetic for the visit schedule (pure functions, no models).

A target date is the randomization date plus N calendar months; when the
day does not exist in the target month (31 Jan + 1 month), the last day of
that month is used, as ``dateutil.relativedelta`` and SAS ``INTNX(...,'s')``
do. A window day starts and ends at midnight in the site's time zone.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last_day))


def local_midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The aware instant at which *day* begins in *tz* (DST-safe)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def window_bounds(
    first_day: dt.date, last_day: dt.date, tz: zoneinfo.ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    """Instants at which a window of whole local days opens and closes.

    The window is open on ``[opens_at, closes_at)``: it closes at the
    midnight that ends its last day.
    """
    return local_midnight(first_day, tz), local_midnight(last_day + dt.timedelta(days=1), tz)
