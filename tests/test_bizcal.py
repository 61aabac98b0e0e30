"""Business-time arithmetic: weekends, holidays, DST, night shifts, errors."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.bizcal import (
    WEEKDAYS,
    Calendar,
    add_business_days,
    add_business_time,
    business_time_between,
    is_working_time,
    next_working_instant,
)

MSK = ZoneInfo("Europe/Moscow")
AMS = ZoneInfo("Europe/Amsterdam")
H = timedelta(hours=1)


def moscow(**extra) -> Calendar:
    return Calendar.from_spec(
        "moscow",
        timezone="Europe/Moscow",
        hours={**{d: ["05:00-14:00"] for d in WEEKDAYS[:5]}, "sat": [], "sun": []},
        holidays_country="RU",
        **extra,
    )


MOSCOW = moscow()
NIGHT = Calendar.from_spec("night", timezone="Europe/Moscow",
                           hours={d: ["22:00-06:00"] for d in WEEKDAYS[:5]})
SPLIT = Calendar.from_spec("split", timezone="Europe/Amsterdam",
                           hours={d: ["08:00-12:00", "13:00-17:30"] for d in WEEKDAYS},
                           holidays_country="NL")
ALWAYS_AMS = Calendar.always_open("24x7", "Europe/Amsterdam")
# Bounds in the spring gap and autumn overlap, a night shift across them, overlaps.
DST_TRICKY = Calendar.from_spec(
    "dst", timezone=AMS,
    hours={"sat": "23:30-02:30", "sun": ["02:15-02:45", "02:40-03:30", "20:00-01:00"],
           "mon": "00:00-24:00", "wed": "02:00-03:00"},
)


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)


def test_friday_afternoon_plus_8h_lands_monday():
    """Fri 13:30 + 8 h with 05:00-14:00 days: 0.5 h on Friday, 7.5 h on Monday."""
    assert add_business_time(MOSCOW, msk(2026, 3, 13, 13, 30), 8 * H) == msk(2026, 3, 16, 12, 30)


def test_friday_plus_8h_before_holiday_monday_lands_tuesday():
    """Fri 2026-03-06 13:30 + 8 h skips the weekend and the Mar 9 holiday: Tuesday."""
    due = add_business_time(MOSCOW, msk(2026, 3, 6, 13, 30), 8 * H)
    assert due == msk(2026, 3, 10, 12, 30)
    assert due.tzinfo is MSK


def test_unity_day_is_skipped():
    """2026-11-04 (Unity Day, a Wednesday) has no working time."""
    assert add_business_time(MOSCOW, msk(2026, 11, 3, 13), 2 * H) == msk(2026, 11, 5, 6)
    assert business_time_between(MOSCOW, msk(2026, 11, 4), msk(2026, 11, 5)) == timedelta(0)


def test_january_holidays_are_skipped():
    """New Year holidays: after Dec 30, 2025 the next working day is Jan 12, 2026."""
    due = add_business_time(MOSCOW, msk(2025, 12, 30, 13), 2 * H)
    assert due == msk(2026, 1, 12, 6)


def test_transferred_working_saturday_from_library():
    """Russia's working Saturday 2025-11-01 uses Monday's hours unless disabled."""
    sat = msk(2025, 11, 1, 10)
    assert is_working_time(MOSCOW, sat)
    assert not is_working_time(moscow(holiday_workdays=False), sat)


def test_24_working_days():
    """24 working days from Mon 2026-03-02 end on Apr 6 (Mar 9 is a holiday)."""
    assert add_business_days(MOSCOW, msk(2026, 3, 2, 10), 24) == msk(2026, 4, 6, 14)
    assert add_business_time(MOSCOW, msk(2026, 3, 2, 5), 24 * 9 * H) == msk(2026, 4, 3, 14)


def test_business_days_receipt_day():
    """Receipt day: the working day now or next; 0 days means its end of work."""
    assert add_business_days(MOSCOW, msk(2026, 3, 2, 3), 0) == msk(2026, 3, 2, 14)
    assert add_business_days(MOSCOW, msk(2026, 3, 2, 14), 0) == msk(2026, 3, 3, 14)
    assert add_business_days(MOSCOW, msk(2026, 3, 14, 10), 1) == msk(2026, 3, 17, 14)
    with pytest.raises(ValueError, match="negative"):
        add_business_days(MOSCOW, msk(2026, 3, 2), -1)


def test_long_durations_are_computed_by_intervals():
    """Hundreds of working days are added interval by interval: a hang guard (stepping
    minute by minute through years would take far longer), not a speed figure."""
    began = clock.perf_counter()
    due = add_business_time(MOSCOW, msk(2026, 1, 1), 2000 * H)
    add_business_days(SPLIT, datetime(2026, 1, 1, tzinfo=AMS), 500)
    assert clock.perf_counter() - began < 20
    assert business_time_between(MOSCOW, msk(2026, 1, 1), due) == 2000 * H


def test_dst_spring_day_is_23h_and_autumn_day_25h_in_24x7():
    """Amsterdam 2026: Mar 29 has 23 h of working time, Oct 25 has 25 h."""
    day = timedelta(days=1)
    spring, autumn = datetime(2026, 3, 29, tzinfo=AMS), datetime(2026, 10, 25, tzinfo=AMS)
    assert business_time_between(ALWAYS_AMS, spring, spring + day) == 23 * H
    assert business_time_between(ALWAYS_AMS, autumn, autumn + day) == 25 * H
    due = add_business_time(ALWAYS_AMS, datetime(2026, 3, 28, 12, tzinfo=AMS), 24 * H)
    assert due.replace(tzinfo=None) == datetime(2026, 3, 29, 13)


def test_dst_office_hours_stay_8h_unless_spanning_the_switch():
    """09:00-17:00 is 8 h on switch Sundays; 00:00-06:00 is 5 h in spring, 7 h in autumn."""
    office = Calendar.from_spec("o", timezone=AMS, hours={"sun": "09:00-17:00"})
    night = Calendar.from_spec("n", timezone=AMS, hours={"sun": "00:00-06:00"})
    for d in (datetime(2026, 3, 29, tzinfo=AMS), datetime(2026, 10, 25, tzinfo=AMS)):
        assert business_time_between(office, d, d + timedelta(days=1)) == 8 * H
    spring = datetime(2026, 3, 29, tzinfo=AMS)
    autumn = datetime(2026, 10, 25, tzinfo=AMS)
    assert business_time_between(night, spring, spring + timedelta(days=1)) == 5 * H
    assert business_time_between(night, autumn, autumn + timedelta(days=1)) == 7 * H


def test_dst_nonexistent_and_ambiguous_bounds():
    """A bound in the spring gap opens at the jump; an ambiguous one is its first occurrence."""
    gap = Calendar.from_spec("g", timezone=AMS, hours={"sun": "02:30-10:00"})
    opens = next_working_instant(gap, datetime(2026, 3, 29, tzinfo=AMS))
    assert opens.astimezone(UTC) == datetime(2026, 3, 29, 1, tzinfo=UTC)  # 03:00 CEST
    overlap = Calendar.from_spec("a", timezone=AMS, hours={"sun": "02:30-04:00"})
    day = datetime(2026, 10, 25, tzinfo=AMS)
    assert next_working_instant(overlap, day).astimezone(UTC) == datetime(2026, 10, 25, 0, 30,
                                                                          tzinfo=UTC)
    assert business_time_between(overlap, day, day + timedelta(days=1)) == 2.5 * H


def test_always_open():
    """24x7 counts wall time 1:1 (away from DST) in any zone."""
    cal = Calendar.always_open("24x7", "UTC")
    start = datetime(2026, 5, 1, 23, 15, tzinfo=UTC)
    assert add_business_time(cal, start, 50 * H) == start + 50 * H
    assert add_business_days(cal, start, 1) == datetime(2026, 5, 3, tzinfo=UTC)
    assert is_working_time(cal, start)


def test_interval_crossing_midnight():
    """A Mon 22:00-06:00 shift runs into Tuesday; Friday's shift ends Saturday 06:00."""
    assert add_business_time(NIGHT, msk(2026, 3, 2, 23), 3 * H) == msk(2026, 3, 3, 2)
    assert is_working_time(NIGHT, msk(2026, 3, 7, 5))  # Saturday, Friday's shift
    assert not is_working_time(NIGHT, msk(2026, 3, 8, 5))  # Sunday, nothing on Saturday
    assert add_business_time(NIGHT, msk(2026, 3, 6, 23), 8 * H) == msk(2026, 3, 9, 23)
    assert add_business_days(NIGHT, msk(2026, 3, 3, 5), 0) == msk(2026, 3, 3, 6)  # Monday's shift


def test_overlapping_intervals_count_once():
    """A night shift overlapping the next day's hours is not counted twice."""
    cal = Calendar.from_spec("o", timezone=MSK, hours={"mon": "22:00-06:00", "tue": "05:00-14:00"})
    assert business_time_between(cal, msk(2026, 3, 2), msk(2026, 3, 4)) == 16 * H
    assert add_business_time(cal, msk(2026, 3, 2, 22), 10 * H) == msk(2026, 3, 3, 8)


def test_split_day_and_dutch_holiday():
    """Lunch breaks are skipped, and King's Day 2026-04-27 is closed in NL."""
    start = datetime(2026, 4, 24, 11, 30, tzinfo=AMS)
    assert add_business_time(SPLIT, start, 1 * H) == datetime(2026, 4, 24, 13, 30, tzinfo=AMS)
    kings_day = datetime(2026, 4, 27, tzinfo=AMS)
    assert business_time_between(SPLIT, kings_day, kings_day + timedelta(days=1)) == timedelta(0)


def test_german_subdivision_holiday():
    """Corpus Christi (2026-06-04) is a holiday in Bavaria but not in Berlin."""
    hours = {d: "09:00-17:00" for d in WEEKDAYS[:5]}
    by = Calendar.from_spec("by", timezone="Europe/Berlin", hours=hours,
                            holidays_country="de", holidays_subdiv="by")
    be = Calendar.from_spec("be", timezone="Europe/Berlin", hours=hours,
                            holidays_country="DE", holidays_subdiv="Berlin")
    noon = datetime(2026, 6, 4, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    assert (by.holidays_subdiv, be.holidays_subdiv) == ("BY", "BE")
    assert not is_working_time(by, noon)
    assert is_working_time(be, noon)


def test_extra_closed_and_open_dates():
    """closed_dates drop a working day; open_dates add a weekend day with open_hours."""
    cal = moscow(closed_dates=["2026-03-16"], open_dates=[date(2026, 3, 14)])
    assert not is_working_time(cal, msk(2026, 3, 16, 10))
    assert is_working_time(cal, msk(2026, 3, 14, 10))  # Saturday, Monday's hours
    assert business_time_between(cal, msk(2026, 3, 13), msk(2026, 3, 18)) == 3 * 9 * H
    short = moscow(open_dates=["2026-03-15"], open_hours=["10:00-12:00"])
    assert business_time_between(short, msk(2026, 3, 15), msk(2026, 3, 16)) == 2 * H


def test_open_date_on_a_holiday():
    """An explicit open date is worked even on a public holiday."""
    cal = moscow(open_dates=["2026-11-04"])
    assert add_business_time(cal, msk(2026, 11, 3, 13), 2 * H) == msk(2026, 11, 4, 6)


def test_zero_duration_is_start_and_clock_starts_at_next_opening():
    """Zero returns start itself; a positive duration counts from the next opening."""
    sat = msk(2026, 3, 14, 10)
    assert add_business_time(MOSCOW, sat, timedelta(0)) == sat
    assert add_business_time(MOSCOW, sat, timedelta(minutes=1)) == msk(2026, 3, 16, 5, 1)
    assert add_business_time(MOSCOW, msk(2026, 3, 13, 13), H) == msk(2026, 3, 13, 14)
    assert next_working_instant(MOSCOW, sat) == msk(2026, 3, 16, 5)


def test_between_edge_cases():
    """between() is zero for empty or reversed ranges and counts [a, b) only."""
    a, b = msk(2026, 3, 16, 6), msk(2026, 3, 16, 8)
    assert business_time_between(MOSCOW, b, a) == timedelta(0)
    assert business_time_between(MOSCOW, a, a) == timedelta(0)
    assert business_time_between(MOSCOW, a, b) == 2 * H


def test_long_holiday_season_still_works():
    """Six closed weeks are skipped day by day."""
    closed = [date(2026, 7, 1) + timedelta(days=i) for i in range(42)]
    cal = moscow(closed_dates=closed)
    assert add_business_time(cal, msk(2026, 6, 30, 13), 2 * H) == msk(2026, 8, 12, 6)


def test_no_working_time_for_years_raises():
    """A calendar whose only open date is past gives up instead of looping forever."""
    cal = Calendar.from_spec("gone", hours={}, open_dates=["2026-01-05"], open_hours="09:00-17:00")
    late = datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="no working time"):
        add_business_time(cal, late, H)
    with pytest.raises(ValueError, match="no working time"):
        add_business_days(cal, late, 1)
    assert business_time_between(cal, late, late + timedelta(days=5000)) == timedelta(0)


def test_naive_datetime_and_negative_duration_rejected():
    """Instants must be aware and durations non-negative."""
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(MOSCOW, datetime(2026, 3, 16, 10), H)
    with pytest.raises(ValueError, match="negative"):
        add_business_time(MOSCOW, msk(2026, 3, 16, 10), -H)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": ""}, "unknown time zone"),
        ({"holidays_country": "XX"}, "unknown holidays country"),
        ({"holidays_country": "DE", "holidays_subdiv": "ZZ"}, "unknown subdivision"),
        ({"holidays_subdiv": "BY"}, "needs holidays_country"),
        ({"hours": {"mon": ["9-17"]}}, "malformed interval"),
        ({"hours": {"mon": ["25:00-26:00"]}}, "out of range"),
        ({"hours": {"mon": ["09:00-24:30"]}}, "out of range"),
        ({"hours": {"mon": ["10:00-10:00"]}}, "empty"),
        ({"hours": {"monday": ["09:00-17:00"]}}, "unknown weekday"),
        ({"hours": {"mon": []}}, "no working time"),
        ({"hours": {}, "open_dates": ["2026-01-05"], "open_hours": "mon"}, "open_hours"),
        ({"closed_dates": ["2026-02-30"]}, "not a date"),
        ({"closed_dates": ["2026-03-02"], "open_dates": ["2026-03-02"]}, "both closed and open"),
    ],
)
def test_bad_spec_raises_value_error(kwargs, message):
    """Invalid plain-data specs raise ValueError naming the problem."""
    spec = {"timezone": "Europe/Moscow", "hours": {"mon": ["05:00-14:00"]}, **kwargs}
    with pytest.raises(ValueError, match=message):
        Calendar.from_spec("bad", **spec)


def test_spec_accepts_24h_days_and_sweden():
    """'00:00-24:00' is a full day and SE holidays (Midsummer Day) are closed."""
    cal = Calendar.from_spec("se", timezone="Europe/Stockholm", holidays_country="SE",
                             hours={d: "00:00-24:00" for d in WEEKDAYS})
    se = ZoneInfo("Europe/Stockholm")
    assert cal.hours[0] == ((0, 1440),)
    assert not is_working_time(cal, datetime(2026, 6, 20, 12, tzinfo=se))
    assert is_working_time(cal, datetime(2026, 6, 22, 0, tzinfo=se))


_STARTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1),
                       timezones=st.just(UTC))
_DURATIONS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=1500))


@settings(max_examples=150, deadline=None)
@given(cal=st.sampled_from([MOSCOW, NIGHT, SPLIT, ALWAYS_AMS]), start=_STARTS,
       duration=_DURATIONS)
def test_between_inverts_add(cal, start, duration):
    """business_time_between(s, add_business_time(s, d)) == d for any start and d."""
    due = add_business_time(cal, start, duration)
    assert due >= start
    assert business_time_between(cal, start, due) == duration
    if duration:
        assert is_working_time(cal, due.astimezone(UTC) - timedelta(microseconds=1))


_SWITCHES = [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)]


@settings(max_examples=150, deadline=None)
@given(switch=st.sampled_from(_SWITCHES), offset=st.integers(-3 * 86400, 86400),
       duration=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)))
def test_between_inverts_add_around_dst_switches(switch, offset, duration):
    """The add/between inverse holds for starts near Amsterdam's DST switches."""
    for cal in (DST_TRICKY, ALWAYS_AMS):
        start = switch + timedelta(seconds=offset)
        due = add_business_time(cal, start, duration)
        assert business_time_between(cal, start, due) == duration


@settings(max_examples=100, deadline=None)
@given(cal=st.sampled_from([MOSCOW, NIGHT, ALWAYS_AMS]), start=_STARTS, end=_STARTS)
def test_add_inverts_between_up_to_closed_time(cal, start, end):
    """Adding the working time in [s, e) reaches e, or the last closing before it."""
    worked = business_time_between(cal, start, end)
    due = add_business_time(cal, start, worked)
    if end > start:
        assert due <= end
        assert business_time_between(cal, due, end) == timedelta(0)
