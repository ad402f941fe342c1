"""Recurring tasks: RFC 5545 RRULE values, checked here and expanded by python-dateutil.

A rule has FREQ (DAILY, WEEKLY, MONTHLY or YEARLY) and may have INTERVAL, BYDAY, BYMONTHDAY, BYMONTH,
and COUNT or UNTIL: the contract's list. A leading ``RRULE:``, as calendar libraries write the
property, is accepted and dropped. A rule is stored as ``parse_rule`` returns it: upper-case, parts
in the order FREQ, INTERVAL, COUNT, UNTIL, BYMONTH, BYMONTHDAY, BYDAY, without a default INTERVAL=1,
without repeated values. Beyond RFC 5545's own limits, BYDAY may not mix weekdays with and without a
number (dateutil reads ``MO,1TU`` as Mondays that are also first Tuesdays, RFC 5545 as either).

Time: a series is anchored at its first ``due_at``, RFC 5545's DTSTART, which always counts as the
first occurrence (also for COUNT). The rule is expanded in the naive wall time of the task's zone,
so INTERVAL, BYDAY, COUNT and UNTIL mean what RFC 5545 says, and each occurrence is then read in
that zone with ``fold=0``: a time that occurs twice is its first one, and a time that a
daylight-saving change skips is read with the offset before the gap, so it moves forward by the
gap (RFC 5545 3.3.5, which 3.8.5.3 applies to recurrence instances). UNTIL is a UTC time
(``...T...Z``, what RFC 5545 asks for with a zoned DTSTART) or a date, which RFC 5545 does not
allow here but people write: through that day in the task's zone (dateutil would end the series
at its midnight).

Bounds: dateutil looks for a rule's next date until year 9999, and checks UNTIL only against dates
the rule produces, so ``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30`` alone costs it seconds. So dateutil is
given a wider rule with at least one date in every period it reaches: the frequency and interval
with the parts that make dates there (BYDAY in a week; BYMONTH in a year; BYMONTHDAY in a month or
a year, with the 1st added when none of its days is in every month, or else BYDAY's weekdays). The
parts that only narrow those dates down, as RFC 5545 3.3.10's table says they do, are checked here,
and an expansion stops after ``WALK_MAX`` units of dateutil's work. A rule without COUNT starts its
walk a period before the time asked about rather than at its anchor, so a daily task completed
years late is as quick as one done on time; a rule with COUNT is walked from its anchor, so
``check_occurs`` refuses one whose COUNT occurrences do not all come within the bound.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import islice
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec
from dateutil import rrule as du

from service.http.field_errors import FieldError

RULE_MAX = 200  # characters
INTERVAL_MAX = 1000
COUNT_MAX = 1000
# dateutil's work one expansion may do, in dates it produces plus PERIOD_COST for each period it
# enters: 8 years of a daily rule (29 February, even written as FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29),
# 29 of a weekly one, 50 of a monthly one, 150 of a yearly one. Measured: 5 to 17 ms of CPU for the
# worst rules on a busy 2-core machine (tests/tasks/test_recurrence_rules.py, WORST).
WALK_MAX = 3000
# What dateutil spends entering a period of each frequency, in dates produced (measured, rounded up),
# and how many months a daily or weekly step (INTERVAL=1000) crosses for the price of one date.
PERIOD_COST = {"DAILY": 0, "WEEKLY": 1, "MONTHLY": 4, "YEARLY": 18}
MONTH_STEPS = 8

PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "BYDAY")
_UNSUPPORTED = frozenset(
    {"BYSETPOS", "BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE", "BYSECOND", "WKST", "RSCALE", "SKIP"}
)
_FREQUENCIES: dict[str, Literal[0, 1, 2, 3]] = {
    "YEARLY": du.YEARLY,
    "MONTHLY": du.MONTHLY,
    "WEEKLY": du.WEEKLY,
    "DAILY": du.DAILY,
}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The last due date PostgreSQL keeps as it is (service.tasks.schemas.DUE_DATES).
_LAST_DUE = date(9999, 12, 30)

_PART = re.compile(r"([A-Z][A-Z0-9-]*)=([^;=]+)")
_WHOLE = re.compile(r"\d{1,9}")
_SIGNED = re.compile(r"[+-]?\d{1,4}")
_DAY = re.compile(r"(?:([+-]?)(\d{1,2}))?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL = re.compile(r"(\d{4})(\d\d)(\d\d)(?:T(\d\d)(\d\d)(\d\d)(Z?))?")

_SHAPE = "expected an RFC 5545 RRULE value: NAME=VALUE parts separated by ';', such as FREQ=WEEKLY;BYDAY=MO,WE"
_ALLOWED = "a rule may have FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, and COUNT or UNTIL"


class Recurrence(msgspec.Struct, frozen=True):
    """A task's rule, as ``parse_rule`` normalised it."""

    rule: str


@dataclass(frozen=True, slots=True)
class _Rule:
    freq: str
    interval: int = 1
    count: int | None = None
    until: str | None = None  # as given, checked: YYYYMMDD or YYYYMMDDTHHMMSSZ
    ends: date | datetime | None = None  # UNTIL read: through a date in the task's zone, or a UTC time
    months: tuple[int, ...] = ()
    monthdays: tuple[int, ...] = ()
    weekdays: tuple[tuple[int, int | None], ...] = ()  # (0 for Monday, its number within the month or year)


class _Refused(ValueError):
    """What is wrong with a rule, before it is known which field carried it."""


def parse_rule(value: str, field: str = "recurrence") -> str:
    """The normalised rule, or a FieldError saying what is wrong with it."""
    text = value.strip()
    if text[:6].upper() == "RRULE:":
        text = text[6:]
    if len(text) > RULE_MAX:
        raise FieldError(field, f"a rule has at most {RULE_MAX} characters, got {len(text)}")
    return _format(_parse(text.upper(), field))


def check_occurs(rule: str, due_at: datetime, time_zone: str, field: str = "recurrence") -> None:
    """A FieldError unless the rule, anchored at ``due_at``, occurs on or after it within the bound,
    and before its UNTIL; with COUNT, unless all of its occurrences come within the bound."""
    parsed, zone = _parse(rule, field), ZoneInfo(time_zone)
    first = _local(due_at, zone)
    match = next(_matches(parsed, first, first), None)
    if match is None:
        raise FieldError(field, "the rule has no occurrence on or after due_at, or none near enough to find quickly")
    if _past_until(parsed, match, _instant(match, zone)):
        raise FieldError(field, "UNTIL is before the rule's first occurrence on or after due_at")
    if parsed.count is not None:
        walk = _Walk()
        every = _due_times(parsed, due_at, zone, since=due_at - timedelta(seconds=1), walk=walk)
        if sum(1 for _ in every) < parsed.count:
            why = "reaches too far with this rule to expand quickly" if walk.cut else f"runs past {_LAST_DUE}"
            raise FieldError(field, f"COUNT={parsed.count} {why}: lower it")


def next_occurrence(rule: str, anchor: datetime, time_zone: str, *, after: datetime) -> datetime | None:
    """The series' first due time after ``after`` (UTC), or None when COUNT or UNTIL has ended the
    series or no occurrence comes within the bound. Callers pass the later of the completed
    occurrence's due time and the moment of completion, so missed occurrences are skipped."""
    return next(_due_times(_parse(rule, "recurrence"), anchor, ZoneInfo(time_zone), since=after), None)


def occurrences(
    rule: str | None, anchor: datetime | None, time_zone: str, *, start: datetime, limit: int
) -> list[datetime]:
    """Up to ``limit`` due times of the series (UTC), from ``start``, an occurrence's own due time, on."""
    if limit <= 0:
        return []
    if rule is None:
        return [start]
    later = _due_times(_parse(rule, "recurrence"), anchor or start, ZoneInfo(time_zone), since=start)
    return [start.astimezone(UTC), *islice(later, limit - 1)]


# Reading a rule.


def _parse(text: str, field: str) -> _Rule:
    try:
        return _read(text)
    except _Refused as exc:
        raise FieldError(field, str(exc)) from None


@lru_cache(maxsize=1024)
def _read(text: str) -> _Rule:
    values: dict[str, str] = {}
    for part in text.split(";"):
        if not (named := _PART.fullmatch(part)):
            raise _Refused(_SHAPE)
        name, value = named.groups()
        if name not in PARTS:
            raise _Refused(f"{name} is {'not supported' if _unsupported(name) else 'not an RRULE part'}: {_ALLOWED}")
        if name in values:
            raise _Refused(f"{name} is given twice")
        values[name] = value
    if "FREQ" not in values:
        raise _Refused(f"FREQ is required: {_ALLOWED}")
    freq = values["FREQ"]
    if freq not in _FREQUENCIES:
        raise _Refused("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    if "COUNT" in values and "UNTIL" in values:
        raise _Refused("COUNT and UNTIL cannot both be given: a series ends one way")
    if "BYMONTHDAY" in values and freq == "WEEKLY":
        raise _Refused("BYMONTHDAY cannot be used with FREQ=WEEKLY (RFC 5545)")
    months = _numbers(values.get("BYMONTH"), "BYMONTH must list months from 1 to 12", range(1, 13))
    monthdays = _numbers(
        values.get("BYMONTHDAY"), "BYMONTHDAY must list days from 1 to 31 or -31 to -1", range(-31, 32), zero=False
    )
    return _Rule(
        freq=freq,
        interval=_whole(values.get("INTERVAL", "1"), "INTERVAL", INTERVAL_MAX),
        count=_whole(values["COUNT"], "COUNT", COUNT_MAX) if "COUNT" in values else None,
        until=values.get("UNTIL"),
        ends=_until(values["UNTIL"]) if "UNTIL" in values else None,
        months=months,
        monthdays=monthdays,
        weekdays=_weekdays(values.get("BYDAY"), freq, within_month=freq == "MONTHLY" or bool(months)),
    )


def _unsupported(name: str) -> bool:
    return name in _UNSUPPORTED or name.startswith("X-")


def _whole(value: str, name: str, most: int) -> int:
    if not _WHOLE.fullmatch(value) or not 1 <= int(value) <= most:
        raise _Refused(f"{name} must be a whole number from 1 to {most}")
    return int(value)


def _numbers(value: str | None, message: str, allowed: range, *, zero: bool = True) -> tuple[int, ...]:
    if value is None:
        return ()
    items = value.split(",")
    if not all(_SIGNED.fullmatch(item) and int(item) in allowed and (zero or int(item) != 0) for item in items):
        raise _Refused(message)
    return tuple(dict.fromkeys(int(item) for item in items))


def _until(value: str) -> date | datetime:
    message = "UNTIL must be a date (YYYYMMDD) or a UTC time (YYYYMMDDTHHMMSSZ)"
    if not (parts := _UNTIL.fullmatch(value)) or (parts[4] is not None and parts[7] != "Z"):
        raise _Refused(message)
    numbers = [int(number) for number in parts.groups()[:6] if number is not None]
    try:
        if len(numbers) == 3:
            return date(*numbers)
        year, month, day, hour, minute, second = numbers
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise _Refused(message) from None


def _weekdays(value: str | None, freq: str, *, within_month: bool) -> tuple[tuple[int, int | None], ...]:
    if value is None:
        return ()
    days: list[tuple[int, int | None]] = []
    for item in value.split(","):
        if not (day := _DAY.fullmatch(item)):
            raise _Refused(
                "BYDAY must list weekdays (MO, TU, WE, TH, FR, SA, SU), each with an optional number as in 1MO or -1FR"
            )
        sign, number, name = day.groups()
        days.append((WEEKDAYS.index(name), None if number is None else int(sign + number)))
    numbered = {number is not None for _, number in days}
    if numbered == {True, False}:
        raise _Refused("BYDAY cannot mix weekdays with and without a number")
    if True in numbered:
        if freq not in ("MONTHLY", "YEARLY"):
            raise _Refused("BYDAY numbers (as in 1MO) need FREQ=MONTHLY or FREQ=YEARLY")
        most, within = (5, "a month") if within_month else (53, "a year")
        if not all(number is not None and 1 <= abs(number) <= most for _, number in days):
            raise _Refused(f"BYDAY numbers count weekdays within {within}: from 1 to {most} or -{most} to -1")
    return tuple(dict.fromkeys(days))


def _format(rule: _Rule) -> str:
    parts = [f"FREQ={rule.freq}"]
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.count is not None:
        parts.append(f"COUNT={rule.count}")
    if rule.until is not None:
        parts.append(f"UNTIL={rule.until}")
    if rule.months:
        parts.append("BYMONTH=" + ",".join(map(str, rule.months)))
    if rule.monthdays:
        parts.append("BYMONTHDAY=" + ",".join(map(str, rule.monthdays)))
    if rule.weekdays:
        parts.append("BYDAY=" + ",".join(f"{'' if n is None else n}{WEEKDAYS[day]}" for day, n in rule.weekdays))
    return ";".join(parts)


# Expanding a rule.


@dataclass(slots=True)
class _Walk:
    """Whether WALK_MAX, rather than the end of the calendar, stopped an expansion."""

    cut: bool = False


def _due_times(
    rule: _Rule, anchor: datetime, zone: ZoneInfo, *, since: datetime, walk: _Walk | None = None
) -> Iterator[datetime]:
    """The series' due times after ``since``, in UTC and in order; the anchor is the first."""
    first = _local(anchor, zone)
    start = first if rule.count is not None else _near(rule, first, _local(since, zone))
    if anchor > since:
        yield anchor.astimezone(UTC)
    left = None if rule.count is None else rule.count - 1
    previous = anchor
    for local in _matches(rule, first, start, walk):
        if local == first:
            continue  # DTSTART: the anchor itself, counted already
        moment = _instant(local, zone)
        if moment is not None and moment <= previous:
            continue  # a day the zone skipped, read as the next one's time
        if moment is None or moment.date() > _LAST_DUE or _past_until(rule, local, moment) or left == 0:
            return
        if left is not None:
            left -= 1
        previous = moment
        if moment > since:
            yield moment


def _matches(rule: _Rule, first: datetime, start: datetime, walk: _Walk | None = None) -> Iterator[datetime]:
    """The rule's occurrences in local wall time from ``start`` on, in order, until the bound."""
    keep, spent, before = _keeps(rule, first), 0, None
    for day in _reach(rule, first, start):
        spent += _work(rule.freq, before, day)
        if spent > WALK_MAX:
            if walk is not None:
                walk.cut = True
            return
        before = day
        if keep(day):
            yield day.replace(microsecond=first.microsecond)  # dateutil keeps whole seconds


def _work(freq: str, before: datetime | None, day: datetime) -> int:
    """dateutil's work to produce ``day`` after ``before``, in dates produced: this one, PERIOD_COST
    more on entering a period, and one for every MONTH_STEPS months a daily or weekly step crosses,
    since it goes through those one by one."""
    if before is not None and _period(freq, before) == _period(freq, day):
        return 1
    if before is None or freq in ("MONTHLY", "YEARLY"):
        return 1 + PERIOD_COST[freq]
    return 1 + PERIOD_COST[freq] + ((day.year - before.year) * 12 + day.month - before.month) // MONTH_STEPS


def _reach(rule: _Rule, first: datetime, start: datetime) -> du.rrule:
    """dateutil's expansion of a superset of the rule with a date in every period it reaches, so
    that it never searches far for one (see the module's docstring)."""
    monthdays = _monthdays(rule, first)
    plain = tuple(dict.fromkeys(day for day, _ in rule.weekdays))
    if rule.freq == "WEEKLY":
        byweekday: tuple[int, ...] | None = plain or (first.weekday(),)
    else:
        byweekday = plain if plain and not monthdays and rule.freq != "DAILY" else None
    always = any(abs(day) <= 28 for day in monthdays)
    bymonthday = (*monthdays, *(() if always else (1,))) if monthdays and rule.freq != "DAILY" else None
    # A yearly rule without BYMONTH covers the whole year, unless it has no days either (the default).
    defaulted = not (rule.months or rule.monthdays or rule.weekdays)
    bymonth = (rule.months or None) if not defaulted else (first.month,)
    if rule.freq != "YEARLY":
        bymonth = None
    return du.rrule(
        _FREQUENCIES[rule.freq],
        dtstart=start.replace(microsecond=0),
        interval=rule.interval,
        wkst=du.MO,
        bymonth=bymonth,
        bymonthday=bymonthday,
        byweekday=byweekday,
    )


def _monthdays(rule: _Rule, first: datetime) -> tuple[int, ...]:
    """BYMONTHDAY, or RFC 5545's default from DTSTART: a monthly or yearly rule without days repeats its day."""
    if rule.monthdays or rule.freq not in ("MONTHLY", "YEARLY") or rule.weekdays:
        return rule.monthdays
    return (first.day,)


def _keeps(rule: _Rule, first: datetime) -> Callable[[datetime], bool]:
    """Whether a date that ``_reach`` produced is one of the rule's: BYMONTH, BYMONTHDAY and BYDAY
    as filters, which is what they are wherever dateutil was not given them (RFC 5545 3.3.10)."""
    months, monthdays = frozenset(rule.months), frozenset(_monthdays(rule, first))
    from_end = any(day < 0 for day in monthdays)
    plain = frozenset(weekday for weekday, number in rule.weekdays if number is None)
    numbered = tuple((weekday, number) for weekday, number in rule.weekdays if number is not None)
    in_month = rule.freq == "MONTHLY" or bool(rule.months)

    def keep(day: datetime) -> bool:
        if months and day.month not in months:
            return False
        if monthdays and day.day not in monthdays and not (from_end and day.day - _days_in_month(day) - 1 in monthdays):
            return False
        if plain:
            return day.weekday() in plain
        return not numbered or any(_is_numbered(day, *wanted, in_month=in_month) for wanted in numbered)

    return keep


def _is_numbered(day: datetime, weekday: int, number: int, *, in_month: bool) -> bool:
    """Whether ``day`` is the ``number``th such weekday of its month, or else of its year (-1: the last)."""
    if day.weekday() != weekday:
        return False
    if in_month:
        position, length = day.day, _days_in_month(day)
    else:
        position, length = day.timetuple().tm_yday, 365 + calendar.isleap(day.year)
    return number == ((position - 1) // 7 + 1 if number > 0 else -((length - position) // 7 + 1))


def _days_in_month(day: datetime) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _period(freq: str, day: datetime) -> int:
    if freq == "YEARLY":
        return day.year
    if freq == "MONTHLY":
        return day.year * 12 + day.month
    if freq == "WEEKLY":
        return (day.toordinal() - day.weekday()) // 7
    return day.toordinal()


def _near(rule: _Rule, first: datetime, since: datetime) -> datetime:
    """Where a walk to the first occurrence after ``since`` may start, for a rule without COUNT
    (which counts from the anchor): the beginning of a period the series reaches, a period or two
    before the one holding ``since``. ``_reach`` and ``_keeps`` take every default from DTSTART,
    so only the time of day and INTERVAL's phase come from here, and both are kept."""
    interval, monday = rule.interval, first.date() - timedelta(days=first.weekday())
    periods = {
        "DAILY": (since.date() - first.date()).days,
        "WEEKLY": (since.date() - monday).days // 7,
        "MONTHLY": (since.year - first.year) * 12 + since.month - first.month,
        "YEARLY": since.year - first.year,
    }[rule.freq]
    steps = periods // interval - 1
    if steps <= 0:
        return first
    if rule.freq == "DAILY":
        start = first.date() + timedelta(days=steps * interval)
    elif rule.freq == "WEEKLY":
        start = monday + timedelta(weeks=steps * interval)
    elif rule.freq == "MONTHLY":
        year, month = divmod(first.year * 12 + first.month - 1 + steps * interval, 12)
        start = date(year, month + 1, 1)
    else:
        start = date(first.year + steps * interval, 1, 1)
    return datetime.combine(start, first.time())


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _instant(local: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC time of a local wall time, read with fold=0 (see the module's docstring); None past
    the last datetime Python has."""
    try:
        return local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    except OverflowError:
        return None


def _past_until(rule: _Rule, local: datetime, moment: datetime | None) -> bool:
    if isinstance(rule.ends, datetime):
        return moment is None or moment > rule.ends
    return rule.ends is not None and local.date() > rule.ends
