"""Business-time arithmetic for SLA deadlines.

A desk promises reaction times in *working* time ("first response within 8 business
hours"), so a deadline is not ``received + 8h`` but the instant at which 8 hours of
its working hours have elapsed. Here: a :class:`Calendar` (zone, weekly hours,
holidays from the ``holidays`` library, extra closed/open dates) and pure functions
over explicit aware instants (nothing reads the clock), costing O(days spanned).

* Hours are wall-clock intervals in the calendar's zone and belong to the date they
  start on: ``"22:00-06:00"`` on Monday ends Tuesday 06:00 and follows Monday's
  holiday status; ``"00:00-24:00"`` is a whole day; overlaps count once.
* A wall-clock bound is the first instant the zone's clock shows that time or later:
  an ambiguous time (autumn) is its first occurrence, a nonexistent one (spring gap)
  the instant of the jump. Working time is real elapsed time between bounds, so
  09:00-17:00 is 8 h on a switch day too, while 00:00-24:00 is 23 h or 25 h.
* Library holidays and ``closed_dates`` are closed; ``open_dates`` and (unless
  ``holiday_workdays`` is off) the library's transferred working weekend days, e.g.
  Russia's working Saturdays, use ``open_hours``; ``closed_dates`` win.
* ``add_business_time(cal, t, 0)`` is ``t`` itself (due at once, even when closed);
  a positive duration counts from the next working instant, and a deadline landing
  on a closing time is that closing time.
* ``add_business_days(cal, t, n)``: the day of receipt is the working day whose hours
  contain ``t`` or come next; the deadline is the end of working time of the n-th
  working day after it (n = 0: the end of the day of receipt).
* Searching forward gives up with ``ValueError`` after 3 years without working time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_IDLE_DAYS = 3 * 366
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAY = timedelta(days=1)
_ZERO = timedelta(0)

Interval = tuple[int, int]
"""Minutes after the local midnight of the day it starts; the end may exceed 1440."""
Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Calendar:
    """The working time of one desk; build it with :meth:`from_spec` or :meth:`always_open`."""

    name: str
    tz: ZoneInfo
    hours: tuple[tuple[Interval, ...], ...]  # seven entries, Monday first
    holidays_country: str | None = None
    holidays_subdiv: str | None = None
    closed_dates: frozenset[date] = frozenset()
    open_dates: frozenset[date] = frozenset()
    open_hours: tuple[Interval, ...] = ()
    holiday_workdays: bool = True

    @classmethod
    def from_spec(
        cls,
        name: str,
        *,
        timezone: str | ZoneInfo = "UTC",
        hours: Mapping[str, Iterable[str] | str],
        holidays_country: str | None = None,
        holidays_subdiv: str | None = None,
        closed_dates: Iterable[date | str] = (),
        open_dates: Iterable[date | str] = (),
        open_hours: Iterable[str] | str = "mon",
        holiday_workdays: bool = True,
    ) -> Calendar:
        """Validate plain data (e.g. from TOML); every problem is a ``ValueError``.

        ``hours`` maps ``"mon"`` .. ``"sun"`` to ``"HH:MM-HH:MM"`` strings (a missing
        day is closed); ``open_hours`` is a weekday name to copy or interval strings.
        """
        where = f"calendar {name!r}"
        tz = _zone(timezone, where)
        unknown = sorted(set(hours) - set(WEEKDAYS))
        if unknown:
            raise ValueError(f"{where}: unknown weekday(s) {unknown}; use {', '.join(WEEKDAYS)}")
        week = tuple(_intervals(hours.get(day, ()), f"{where}, {day}") for day in WEEKDAYS)
        if isinstance(open_hours, str) and open_hours.lower() in WEEKDAYS:
            extra = week[WEEKDAYS.index(open_hours.lower())]
        else:
            extra = _intervals(open_hours, f"{where}, open_hours")
        closed = _dates(closed_dates, f"{where}, closed_dates")
        opened = _dates(open_dates, f"{where}, open_dates")
        if closed & opened:
            both = ", ".join(sorted(d.isoformat() for d in closed & opened))
            raise ValueError(f"{where}: dates both closed and open: {both}")
        if opened and not extra:
            raise ValueError(f"{where}: open_dates need working hours; set open_hours")
        if not any(week) and not opened:
            raise ValueError(f"{where}: no working time in the week and no open dates")
        country, subdiv = _holiday_region(holidays_country, holidays_subdiv, where)
        return cls(name, tz, week, country, subdiv, closed, opened, extra, holiday_workdays)

    @classmethod
    def always_open(cls, name: str = "24x7", tz: str | ZoneInfo = "UTC") -> Calendar:
        """A 24x7 calendar: every instant is working time."""
        day = ((0, 1440),)
        return cls(name, _zone(tz, f"calendar {name!r}"), (day,) * 7)

    @property
    def round_the_clock(self) -> bool:
        """Every minute of every day is working time (the built-in ``24x7``, or an admin's
        calendar of 00:00-24:00 daily in their own zone, without holidays or closed
        dates): a promise on it is in hours, not "working hours"."""
        return all(day == ((0, 1440),) for day in self.hours) and not self.closed_dates \
            and not self.holidays_country

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The working intervals that start on local date ``day`` (after holidays and extras)."""
        if day in self.closed_dates:
            return ()
        if day in self.open_dates:
            return self.open_hours
        if self.holidays_country:
            off, worked = _holiday_year(self.holidays_country, self.holidays_subdiv, day.year)
            if day in off:
                return ()
            if self.holiday_workdays and day in worked:
                return self.open_hours
        return self.hours[day.weekday()]


def add_business_time(cal: Calendar, start: datetime, duration: timedelta) -> datetime:
    """The instant at which ``duration`` of working time has elapsed since ``start``."""
    left = duration
    if left < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    t = _utc(start, "start")
    if not left:
        return t.astimezone(cal.tz)
    for a, b in _spans(cal, t):
        if left <= b - a:
            return (a + left).astimezone(cal.tz)
        left -= b - a
    raise AssertionError("unreachable: the span generator is endless or raises")


def add_business_days(cal: Calendar, start: datetime, days: int) -> datetime:
    """End of working time on the ``days``-th working day after the day of receipt."""
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    t = _utc(start, "start")
    for _, spans in _working_days(cal, t):
        end = max(b for _, b in spans)
        if end > t:
            if not days:
                return end.astimezone(cal.tz)
            days -= 1
    raise AssertionError("unreachable: the day generator is endless or raises")


def business_time_between(cal: Calendar, a: datetime, b: datetime) -> timedelta:
    """Working time in ``[a, b)``; zero when ``b <= a``."""
    lo, hi = _utc(a, "a"), _utc(b, "b")
    total = _ZERO
    if hi <= lo:
        return total
    for s, e in _spans(cal, lo, until=hi):
        if s >= hi:
            break
        total += min(e, hi) - s
    return total


def next_working_instant(cal: Calendar, at: datetime) -> datetime:
    """``at`` itself if it is working time, else the next opening instant."""
    t = _utc(at, "at")
    return next(_spans(cal, t))[0].astimezone(cal.tz)


def is_working_time(cal: Calendar, at: datetime) -> bool:
    """Whether ``at`` lies in working time (intervals are closed-open)."""
    t = _utc(at, "at")
    return next(_spans(cal, t))[0] == t  # in UTC: same-zone comparison ignores fold


# -- internals -----------------------------------------------------------------


def _utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def _working_days(
    cal: Calendar, after: datetime, until: datetime | None = None
) -> Iterator[tuple[date, list[Span]]]:
    """Days with working time from the local day before ``after``, with UTC spans."""
    day = after.astimezone(cal.tz).date() - _DAY  # its night shift may reach ``after``
    last = until.astimezone(cal.tz).date() + _DAY if until else date.max
    idle = 0
    while day <= last:
        spans = []
        for s, e in sorted(cal.intervals_on(day)):
            a, b = _instant(cal.tz, day, s), _instant(cal.tz, day, e)
            if a < b:
                spans.append((a, b))
        if spans:
            idle = 0
            yield day, spans
        else:
            idle += 1
            if idle > MAX_IDLE_DAYS and until is None:
                raise ValueError(
                    f"calendar {cal.name!r} has no working time in the {MAX_IDLE_DAYS} days "
                    f"up to {day.isoformat()}"
                )
        day += _DAY


def _spans(cal: Calendar, after: datetime, until: datetime | None = None) -> Iterator[Span]:
    """Disjoint, sorted working spans ending after ``after``, clipped to start at it."""
    mark = after
    for _, spans in _working_days(cal, after, until):
        for a, b in spans:
            a = max(a, mark)
            if b > a:
                yield a, b
                mark = b


@lru_cache(maxsize=4096)  # pure; the same working-day edges come up for every ticket
def _instant(tz: ZoneInfo, day: date, minute: int) -> datetime:
    """First UTC instant at which the clock in ``tz`` shows this wall time or later."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    hi = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: first occurrence
    if hi.astimezone(tz).replace(tzinfo=None) == wall:
        return hi
    # In a spring gap fold=0 lands after the jump and fold=1 before it: bisect seconds.
    lo_s = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    hi_s, after = int(hi.timestamp()), hi.astimezone(tz).utcoffset()
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


@lru_cache(maxsize=512)
def _holiday_year(
    country: str, subdiv: str | None, year: int
) -> tuple[frozenset[date], frozenset[date]]:
    """Holidays and transferred working weekend days of one year (cached)."""
    import holidays  # 30 ms to import: only for calendars that name a country

    table = holidays.country_holidays(country, subdiv=subdiv, years=year)
    return frozenset(table), frozenset(getattr(table, "weekend_workdays", ()))


def _holiday_region(
    country: str | None, subdiv: str | None, where: str
) -> tuple[str | None, str | None]:
    if country is None:
        if subdiv is not None:
            raise ValueError(f"{where}: holidays_subdiv {subdiv!r} needs holidays_country")
        return None, None
    code = country.strip().upper()
    import holidays

    try:
        table = holidays.country_holidays(code)
    except NotImplementedError:
        raise ValueError(f"{where}: unknown holidays country {country!r}") from None
    if subdiv is None:
        return code, None
    aliases = getattr(table, "subdivisions_aliases", {})
    known = {s.upper(): s for s in table.subdivisions}
    known.update({alias.upper(): s for alias, s in aliases.items()})
    if subdiv.strip().upper() not in known:
        names = ", ".join(table.subdivisions) or "none"
        raise ValueError(f"{where}: unknown subdivision {subdiv!r} of {code} (known: {names})")
    return code, known[subdiv.strip().upper()]


def _zone(tz: str | ZoneInfo, where: str) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError(f"{where}: unknown time zone {tz!r}") from None


def _intervals(spec: Iterable[str] | str, where: str) -> tuple[Interval, ...]:
    items = [spec] if isinstance(spec, str) else list(spec)
    return tuple(sorted(_interval(item, where) for item in items))


def _interval(text: str, where: str) -> Interval:
    match = _INTERVAL.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{where}: malformed interval {text!r}, expected 'HH:MM-HH:MM'")
    h1, m1, h2, m2 = map(int, match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{where}: interval {text!r} has a time out of range")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"{where}: interval {text!r} is empty; use '00:00-24:00' for 24 h")
    return start, end if end > start else end + 1440


def _dates(values: Iterable[date | str], where: str) -> frozenset[date]:
    out = set()
    for value in values:
        if isinstance(value, datetime):  # a date, to Python, but not a calendar day
            raise ValueError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")
        if isinstance(value, date):
            out.add(value)
            continue
        try:
            out.add(date.fromisoformat(value))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(out)
