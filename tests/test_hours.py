"""Business hours as pure rules: open or closed at a moment, and the next opening (no HTTP, no database)."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from webapp.bots import hours
from webapp.bots.hours import FRIDAY, MONDAY, SATURDAY, SUNDAY, Interval, WeeklySchedule, is_open, next_opening

UTC = dt.timezone.utc
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
NEW_YORK = ZoneInfo("America/New_York")


def clock(text):
    return hours.parse_clock(text)


def week(time_zone="America/Sao_Paulo", holidays=(), **days):
    """week(monday=["08:00-12:00", "13:00-18:00"], ...) -> WeeklySchedule."""
    names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    triples = []
    for name, spans in days.items():
        for span in spans:
            start, end = span.split("-")
            triples.append((names.index(name), hours.parse_clock(start), hours.parse_clock(end, end=True)))
    return hours.schedule_from(time_zone, triples, holidays)


BUSINESS = week(**{d: ["08:00-18:00"] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
                saturday=["08:00-12:00"])


def test_friday_1759_is_open_and_1800_is_closed_in_sao_paulo_given_utc():
    # 2026-11-27 is a Friday; São Paulo is UTC-3 (no DST since 2019).
    assert is_open(BUSINESS, dt.datetime(2026, 11, 27, 20, 59, 59, tzinfo=UTC))  # 17:59:59 local
    assert not is_open(BUSINESS, dt.datetime(2026, 11, 27, 21, 0, tzinfo=UTC))  # 18:00 local: end excluded
    assert is_open(BUSINESS, dt.datetime(2026, 11, 27, 11, 0, tzinfo=UTC))  # 08:00 local: start included
    assert not is_open(BUSINESS, dt.datetime(2026, 11, 27, 10, 59, tzinfo=UTC))  # 07:59 local


def test_the_local_weekday_counts_not_the_utc_one():
    # Saturday 01:00 UTC is still Friday 22:00 in São Paulo: closed, though Saturday morning is open.
    assert not is_open(BUSINESS, dt.datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    # Friday 23:30 in Tokyo is Friday 11:30 in São Paulo: open.
    assert is_open(BUSINESS, dt.datetime(2026, 11, 27, 23, 30, tzinfo=ZoneInfo("Asia/Tokyo")))


def test_saturday_morning_and_closed_sunday():
    assert is_open(BUSINESS, dt.datetime(2026, 11, 28, 11, 59, tzinfo=SAO_PAULO))
    assert not is_open(BUSINESS, dt.datetime(2026, 11, 28, 12, 0, tzinfo=SAO_PAULO))
    assert not is_open(BUSINESS, dt.datetime(2026, 11, 29, 10, 0, tzinfo=SAO_PAULO))


def test_several_intervals_a_day_leave_the_lunch_break_closed():
    lunch = week(monday=["08:00-12:00", "13:00-18:00"])
    assert is_open(lunch, dt.datetime(2026, 11, 23, 11, 59, tzinfo=SAO_PAULO))
    assert not is_open(lunch, dt.datetime(2026, 11, 23, 12, 30, tzinfo=SAO_PAULO))
    assert is_open(lunch, dt.datetime(2026, 11, 23, 13, 0, tzinfo=SAO_PAULO))


def test_a_holiday_closes_the_whole_day():
    christmas = week(holidays=[dt.date(2026, 12, 25)], friday=["08:00-18:00"])
    assert not is_open(christmas, dt.datetime(2026, 12, 25, 10, 0, tzinfo=SAO_PAULO))
    assert is_open(christmas, dt.datetime(2027, 1, 1, 10, 0, tzinfo=SAO_PAULO))  # also a Friday, no holiday
    # The holiday is a local date: 02:00 UTC on the 26th is still the 25th in São Paulo.
    assert not is_open(christmas, dt.datetime(2026, 12, 26, 2, 0, tzinfo=UTC))


def test_a_night_shift_is_two_intervals_and_midnight_ends_a_day():
    night = week(monday=["22:00-00:00"], tuesday=["00:00-02:00"])
    assert night.intervals_on(MONDAY) == [Interval(MONDAY, 22 * 60, 24 * 60)]
    assert is_open(night, dt.datetime(2026, 11, 23, 23, 59, tzinfo=SAO_PAULO))
    assert is_open(night, dt.datetime(2026, 11, 24, 0, 0, tzinfo=SAO_PAULO))
    assert is_open(night, dt.datetime(2026, 11, 24, 1, 59, tzinfo=SAO_PAULO))
    assert not is_open(night, dt.datetime(2026, 11, 24, 2, 0, tzinfo=SAO_PAULO))
    assert not is_open(night, dt.datetime(2026, 11, 23, 21, 59, tzinfo=SAO_PAULO))


def test_an_interval_cannot_cross_midnight_or_run_backwards():
    with pytest.raises(ValueError):
        Interval(MONDAY, 22 * 60, 2 * 60)
    with pytest.raises(ValueError):
        Interval(MONDAY, 8 * 60, 8 * 60)
    with pytest.raises(ValueError):
        Interval(7, 0, 60)


def test_new_york_keeps_its_wall_clock_across_daylight_saving():
    ny = week("America/New_York", **{d: ["09:00-17:00"] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")})
    # Friday 2026-03-06, EST (UTC-5): 09:00 local is 14:00 UTC.
    assert is_open(ny, dt.datetime(2026, 3, 6, 14, 0, tzinfo=UTC))
    assert not is_open(ny, dt.datetime(2026, 3, 6, 13, 59, tzinfo=UTC))
    # Monday 2026-03-09, after the switch to EDT (UTC-4): 09:00 local is 13:00 UTC.
    assert is_open(ny, dt.datetime(2026, 3, 9, 13, 0, tzinfo=UTC))
    assert not is_open(ny, dt.datetime(2026, 3, 9, 12, 59, tzinfo=UTC))
    assert not is_open(ny, dt.datetime(2026, 3, 9, 21, 0, tzinfo=UTC))  # 17:00 EDT


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        is_open(BUSINESS, dt.datetime(2026, 11, 27, 10, 0))


def test_next_opening_is_now_when_open():
    moment = dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert next_opening(BUSINESS, moment) == moment


def test_next_opening_after_friday_closing_is_saturday_morning():
    opening = next_opening(BUSINESS, dt.datetime(2026, 11, 27, 21, 0, tzinfo=UTC))  # Friday 18:00 local
    assert opening == dt.datetime(2026, 11, 28, 8, 0, tzinfo=SAO_PAULO)
    assert opening.utcoffset() == dt.timedelta(hours=-3)
    assert next_opening(BUSINESS, dt.datetime(2026, 11, 28, 12, 0, tzinfo=SAO_PAULO)) == dt.datetime(2026, 11, 30, 8, 0, tzinfo=SAO_PAULO)


def test_next_opening_later_the_same_day_and_after_lunch():
    lunch = week(monday=["08:00-12:00", "13:00-18:00"])
    assert next_opening(lunch, dt.datetime(2026, 11, 23, 6, 0, tzinfo=SAO_PAULO)) == dt.datetime(2026, 11, 23, 8, 0, tzinfo=SAO_PAULO)
    assert next_opening(lunch, dt.datetime(2026, 11, 23, 12, 0, tzinfo=SAO_PAULO)) == dt.datetime(2026, 11, 23, 13, 0, tzinfo=SAO_PAULO)


def test_next_opening_skips_holidays():
    schedule = week(holidays=[dt.date(2026, 12, 25), dt.date(2027, 1, 1)], friday=["08:00-18:00"])
    assert next_opening(schedule, dt.datetime(2026, 12, 24, 20, 0, tzinfo=SAO_PAULO)) == dt.datetime(2027, 1, 8, 8, 0, tzinfo=SAO_PAULO)


def test_next_opening_across_daylight_saving_in_new_york():
    ny = week("America/New_York", monday=["09:00-17:00"])
    # Friday evening before the switch (EST) -> Monday 09:00 EDT, which is 13:00 UTC.
    opening = next_opening(ny, dt.datetime(2026, 3, 6, 23, 0, tzinfo=UTC))
    assert opening == dt.datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert opening.hour == 9 and opening.utcoffset() == dt.timedelta(hours=-4)


def test_an_opening_inside_the_spring_forward_gap_starts_after_the_gap():
    # 2026-03-08 (Sunday): New York's clocks jump from 02:00 to 03:00.
    gap = week("America/New_York", sunday=["02:30-04:00"])
    opening = next_opening(gap, dt.datetime(2026, 3, 8, 0, 0, tzinfo=NEW_YORK))
    assert opening == dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT, the first real minute after 02:30 EST
    assert is_open(gap, opening)
    # An interval that lies wholly inside the gap never opens that day: the next Sunday it does.
    lost = week("America/New_York", sunday=["02:00-03:00"])
    assert next_opening(lost, dt.datetime(2026, 3, 8, 0, 0, tzinfo=NEW_YORK)) == dt.datetime(2026, 3, 15, 2, 0, tzinfo=NEW_YORK)


def test_a_schedule_that_never_opens_has_no_next_opening():
    assert next_opening(WeeklySchedule(), dt.datetime(2026, 11, 27, tzinfo=UTC)) is None


def test_reading_times_of_day():
    assert clock("08:00") == 480 and clock("8:05") == 485 and clock("18:00:00") == 1080
    assert hours.parse_clock("00:00", end=True) == 24 * 60 and hours.parse_clock("24:00", end=True) == 24 * 60
    assert clock("24:00") is None and clock("12:60") is None and clock("25:00") is None and clock("noon") is None
    assert hours.format_clock(1080) == "18:00" and hours.format_clock(24 * 60) == "24:00"


def test_overlaps_are_found_and_touching_intervals_are_fine():
    assert hours.overlapping([(480, 720), (720, 1080)]) == []
    assert hours.overlapping([(480, 720), (700, 1080)]) == [0, 1]
    assert hours.overlapping([(780, 1080), (480, 720), (600, 660)]) == [1, 2]  # the second lies inside the first
    assert hours.overlapping([(480, 1080), (540, 600), (900, 960)]) == [0, 1, 2]


def test_time_zone_names_are_checked_against_the_iana_database():
    assert hours.is_time_zone("America/Sao_Paulo") and hours.is_time_zone("UTC")
    assert not hours.is_time_zone("Brasil/Recife") and not hours.is_time_zone("../../etc/passwd")
    assert not hours.is_time_zone("") and not hours.is_time_zone(None)


def test_weekday_constants_follow_python():
    assert (MONDAY, FRIDAY, SATURDAY, SUNDAY) == (0, 4, 5, 6)
    assert dt.date(2026, 11, 27).weekday() == FRIDAY
