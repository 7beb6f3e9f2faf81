"""Business hours as plain rules: is this moment inside them, and when do they open next?

No ORM and no Flask here: a schedule is plain data (`WeeklySchedule`), so the bot, the tests and the admin
screen's validation share one implementation. Wall-clock rules: an interval "08:00–18:00" means 08:00 to
18:00 local time in the schedule's zone, whatever the UTC offset is that day (DST included). Intervals are
end-exclusive (open at 17:59, closed at 18:00) and never cross midnight: a night shift is two intervals,
22:00–24:00 on one day and 00:00–02:00 on the next.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_TIME_ZONE = "America/Sao_Paulo"
MINUTES_PER_DAY = 24 * 60
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
# How far next_opening looks: a year of holidays plus a week is more than any real schedule closes for.
LOOKAHEAD_DAYS = 366 + 7

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::\d{2}(?:\.\d+)?)?\s*$")


@dataclass(frozen=True, order=True)
class Interval:
    """Open on `weekday` (0 = Monday) from `start` to `end`, in minutes after local midnight, end excluded."""

    weekday: int
    start: int
    end: int

    def __post_init__(self):
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday {self.weekday} is not 0..6")
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(f"interval {self.start}..{self.end} is not within one day, start before end")

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end


@dataclass(frozen=True)
class WeeklySchedule:
    time_zone: str = DEFAULT_TIME_ZONE
    intervals: tuple[Interval, ...] = ()
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @property
    def zone(self) -> ZoneInfo:
        return time_zone(self.time_zone)

    def intervals_on(self, weekday: int) -> list[Interval]:
        return sorted(i for i in self.intervals if i.weekday == weekday)


# ---- reading what people type ------------------------------------------------------------------------


def is_time_zone(name: str | None) -> bool:
    """An IANA zone name this machine knows ("America/Sao_Paulo"); no paths, no abbreviations."""
    return bool(name) and name in _known_zones()


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=64)
def time_zone(name: str) -> ZoneInfo:
    if not is_time_zone(name):
        raise ZoneInfoNotFoundError(name)
    return ZoneInfo(name)


def parse_clock(text: str | None, *, end: bool = False) -> int | None:
    """Minutes after midnight for "08:00" (or "8:00"); None when it is not a time of day.

    For the end of an interval, "00:00" and "24:00" both mean midnight at the end of the day (1440): a
    browser's time input cannot say 24:00.
    """
    match = _CLOCK.match(text or "")
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        return None
    value = hours * 60 + minutes
    if end and value in (0, MINUTES_PER_DAY):
        return MINUTES_PER_DAY
    return None if value == MINUTES_PER_DAY else value


def format_clock(minutes: int) -> str:
    """1080 -> "18:00"; the end of the day is "24:00"."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def overlapping(intervals: Sequence[tuple[int, int]]) -> list[int]:
    """Indices (in the given order) of the intervals of one day that overlap another one.

    Touching intervals (08:00–12:00 and 12:00–18:00) do not overlap: ends are excluded.
    """
    order = sorted(range(len(intervals)), key=lambda i: intervals[i])
    clashing: set[int] = set()
    latest_end, latest_index = -1, None
    for index in order:
        start, end = intervals[index]
        if latest_index is not None and start < latest_end:
            clashing.update((index, latest_index))
        if end > latest_end:
            latest_end, latest_index = end, index
    return sorted(clashing)


# ---- the rules -----------------------------------------------------------------------------------------


def _local(schedule: WeeklySchedule, moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("business hours need an aware datetime (a moment, not a wall-clock time)")
    return moment.astimezone(schedule.zone)


def is_open(schedule: WeeklySchedule, moment: dt.datetime) -> bool:
    """True when `moment` (any zone) falls inside an interval of its local weekday and is no holiday."""
    local = _local(schedule, moment)
    if local.date() in schedule.holidays:
        return False
    minute = local.hour * 60 + local.minute
    return any(interval.contains(minute) for interval in schedule.intervals_on(local.weekday()))


def next_opening(schedule: WeeklySchedule, moment: dt.datetime) -> dt.datetime | None:
    """The first moment at or after `moment` when the schedule is open (`moment` itself if open now).

    The answer is in the schedule's zone. None when it never opens (no intervals, or only on days that
    are all holidays for the next year). An opening that falls in a DST gap (a wall-clock time that does
    not exist that day) begins at the first real minute after the gap if it is still inside the interval.
    """
    if is_open(schedule, moment):
        return _local(schedule, moment)
    local = _local(schedule, moment)
    zone = schedule.zone
    for offset in range(LOOKAHEAD_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        if day in schedule.holidays:
            continue
        for interval in schedule.intervals_on(day.weekday()):
            wall = dt.datetime.combine(day, dt.time(), tzinfo=zone) + dt.timedelta(minutes=interval.start)
            # Adding minutes to an aware datetime keeps the wall clock; round-trip through UTC to get
            # a real instant (a time inside a spring-forward gap moves past it).
            candidate = wall.astimezone(dt.timezone.utc).astimezone(zone)
            if candidate >= local and is_open(schedule, candidate):
                return candidate
    return None


def schedule_from(time_zone_name: str, intervals: Iterable[tuple[int, int, int]],
                  holidays: Iterable[dt.date] = ()) -> WeeklySchedule:
    """Build a schedule from (weekday, start minute, end minute) triples."""
    return WeeklySchedule(
        time_zone=time_zone_name,
        intervals=tuple(sorted(Interval(*triple) for triple in intervals)),
        holidays=frozenset(holidays),
    )
