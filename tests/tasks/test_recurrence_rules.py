"""Recurrence rules without a database: what a rule may say, and when its occurrences fall.

Expected times are written out by hand from the zones' rules; the property tests compare the
series with dateutil's own expansion of the whole rule, which our bounded walk must equal.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule as du
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.http.field_errors import FieldError
from service.tasks.recurrence import (
    RULE_MAX,
    WALK_MAX,
    check_occurs,
    next_occurrence,
    occurrences,
    parse_rule,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def series(rule: str, anchor: datetime, zone: str, limit: int = 10) -> list[datetime]:
    return occurrences(rule, anchor, zone, start=anchor, limit=limit)


# What a rule may say.


@pytest.mark.parametrize(
    ("given_rule", "stored"),
    [
        ("FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("RRULE:FREQ=DAILY", "FREQ=DAILY"),  # the property's name, as calendar libraries write it
        ("  rrule:freq=daily;count=3  ", "FREQ=DAILY;COUNT=3"),
        ("BYDAY=FR;INTERVAL=2;FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"),
        ("FREQ=DAILY;INTERVAL=1", "FREQ=DAILY"),
        ("FREQ=DAILY;INTERVAL=007", "FREQ=DAILY;INTERVAL=7"),
        ("FREQ=MONTHLY;BYDAY=+1MO,-1FR,+1MO", "FREQ=MONTHLY;BYDAY=1MO,-1FR"),
        ("FREQ=YEARLY;BYMONTHDAY=29;BYMONTH=2", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"),
        ("FREQ=DAILY;UNTIL=20261231t235959z", "FREQ=DAILY;UNTIL=20261231T235959Z"),
        ("FREQ=DAILY;UNTIL=20261231", "FREQ=DAILY;UNTIL=20261231"),
        ("FREQ=YEARLY;BYDAY=-53SU", "FREQ=YEARLY;BYDAY=-53SU"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1,31,-1", "FREQ=MONTHLY;BYMONTHDAY=-1,31"),
    ],
)
def test_a_rule_is_stored_in_one_spelling(given_rule: str, stored: str) -> None:
    assert parse_rule(given_rule) == stored
    assert parse_rule(stored) == stored


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("", "expected an RFC 5545 RRULE value"),
        ("daily", "expected an RFC 5545 RRULE value"),
        ("FREQ=DAILY;", "expected an RFC 5545 RRULE value"),
        ("FREQ=DAILY;;COUNT=2", "expected an RFC 5545 RRULE value"),
        ("FREQ=DAILY; COUNT=2", "expected an RFC 5545 RRULE value"),
        ("RRULE:RRULE:FREQ=DAILY", "expected an RFC 5545 RRULE value"),
        ("DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY", "expected an RFC 5545 RRULE value"),
        ("COUNT=3", "FREQ is required"),
        ("FREQ=SECONDLY", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=HOURLY", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=FORTNIGHTLY", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1", "BYSETPOS is not supported: a rule may have FREQ, INTERVAL, BYDAY"),
        ("FREQ=DAILY;BYHOUR=9", "BYHOUR is not supported"),
        ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY is not supported"),
        ("FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO is not supported"),
        ("FREQ=WEEKLY;WKST=SU", "WKST is not supported"),
        ("FREQ=DAILY;X-NAME=1", "X-NAME is not supported"),
        ("FREQ=DAILY;EVERY=2", "EVERY is not an RRULE part"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
        ("FREQ=DAILY;COUNT=2;COUNT=3", "COUNT is given twice"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z", "COUNT and UNTIL cannot both be given"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number from 1 to 1000"),
        ("FREQ=DAILY;INTERVAL=1001", "INTERVAL must be a whole number from 1 to 1000"),
        ("FREQ=DAILY;INTERVAL=-1", "INTERVAL must be a whole number from 1 to 1000"),
        ("FREQ=DAILY;INTERVAL=two", "INTERVAL must be a whole number from 1 to 1000"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number from 1 to 1000"),
        ("FREQ=DAILY;COUNT=1001", "COUNT must be a whole number from 1 to 1000"),
        ("FREQ=DAILY;UNTIL=20270101T000000", "UNTIL must be a date (YYYYMMDD) or a UTC time (YYYYMMDDTHHMMSSZ)"),
        ("FREQ=DAILY;UNTIL=20270230", "UNTIL must be a date"),
        ("FREQ=DAILY;UNTIL=2027-01-01", "UNTIL must be a date"),
        ("FREQ=DAILY;UNTIL=20270101T250000Z", "UNTIL must be a date"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH must list months from 1 to 12"),
        ("FREQ=YEARLY;BYMONTH=0", "BYMONTH must list months from 1 to 12"),
        ("FREQ=YEARLY;BYMONTH=1,,2", "BYMONTH must list months from 1 to 12"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY must list days from 1 to 31 or -31 to -1"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY must list days from 1 to 31 or -31 to -1"),
        ("FREQ=MONTHLY;BYMONTHDAY=-32", "BYMONTHDAY must list days from 1 to 31 or -31 to -1"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY cannot be used with FREQ=WEEKLY"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY must list weekdays (MO, TU, WE, TH, FR, SA, SU)"),
        ("FREQ=WEEKLY;BYDAY=MONDAY", "BYDAY must list weekdays"),
        ("FREQ=WEEKLY;BYDAY=1MO", "BYDAY numbers (as in 1MO) need FREQ=MONTHLY or FREQ=YEARLY"),
        ("FREQ=DAILY;BYDAY=-1FR", "BYDAY numbers (as in 1MO) need FREQ=MONTHLY or FREQ=YEARLY"),
        ("FREQ=MONTHLY;BYDAY=6MO", "BYDAY numbers count weekdays within a month: from 1 to 5 or -5 to -1"),
        ("FREQ=MONTHLY;BYDAY=0MO", "BYDAY numbers count weekdays within a month"),
        ("FREQ=YEARLY;BYMONTH=3;BYDAY=-6FR", "BYDAY numbers count weekdays within a month"),
        ("FREQ=YEARLY;BYDAY=54MO", "BYDAY numbers count weekdays within a year: from 1 to 53 or -53 to -1"),
        ("FREQ=MONTHLY;BYDAY=MO,1TU", "BYDAY cannot mix weekdays with and without a number"),
        ("FREQ=DAILY;BYMONTH=" + ",".join(["1"] * 100), f"a rule has at most {RULE_MAX} characters"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(bad: str, says: str) -> None:
    with pytest.raises(FieldError) as refused:
        parse_rule(bad)
    assert (refused.value.field, refused.value.source) == ("recurrence", "body")
    assert says in refused.value.message


def test_the_field_is_named_as_the_caller_names_it() -> None:
    with pytest.raises(FieldError) as refused:
        parse_rule("FREQ=SECONDLY", "tasks[3].recurrence")
    assert refused.value.field == "tasks[3].recurrence"
    with pytest.raises(FieldError) as never:
        check_occurs("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", utc(2026, 1, 1), "UTC", "tasks[3].recurrence")
    assert never.value.field == "tasks[3].recurrence"


def test_a_rule_of_the_longest_length_is_kept() -> None:
    longest = "FREQ=DAILY;BYMONTH=" + "1," * 90 + "1"
    assert len(longest) == RULE_MAX
    assert parse_rule(longest) == parse_rule("RRULE:" + longest) == "FREQ=DAILY;BYMONTH=1"
    with pytest.raises(FieldError, match=r"at most 200 characters, got 201"):
        parse_rule(longest + "2")


# Wall-clock time in the task's zone, across daylight-saving changes.


def test_daily_at_nine_in_paris_follows_the_wall_clock_in_march() -> None:
    # Paris moves from UTC+1 to UTC+2 at 02:00 on Sunday 29 March 2026.
    assert series("FREQ=DAILY", utc(2026, 3, 27, 8), "Europe/Paris", 4) == [
        utc(2026, 3, 27, 8),
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 3, 30, 7),
    ]


def test_daily_at_nine_in_paris_follows_the_wall_clock_in_october() -> None:
    # Back from UTC+2 to UTC+1 at 03:00 on Sunday 25 October 2026.
    assert series("FREQ=DAILY", utc(2026, 10, 24, 7), "Europe/Paris", 3) == [
        utc(2026, 10, 24, 7),
        utc(2026, 10, 25, 8),
        utc(2026, 10, 26, 8),
    ]


def test_a_time_the_clocks_skip_moves_forward_by_the_gap_in_paris() -> None:
    # 02:30 does not exist on 29 March 2026: read with the offset before the gap (UTC+1), it is 03:30 CEST.
    assert series("FREQ=DAILY", utc(2026, 3, 28, 1, 30), "Europe/Paris", 3) == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 30, 0, 30),
    ]


def test_a_time_that_occurs_twice_is_its_first_in_paris() -> None:
    # 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET) on 25 October 2026.
    assert series("FREQ=DAILY", utc(2026, 10, 24, 0, 30), "Europe/Paris", 3) == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


def test_new_york_spring_forward_moves_a_skipped_time_forward() -> None:
    # RFC 5545 3.3.5's own example: 02:30 on 11 March 2007 is read as 03:30 EDT, 07:30Z.
    assert series("FREQ=DAILY", utc(2007, 3, 10, 7, 30), "America/New_York", 3) == [
        utc(2007, 3, 10, 7, 30),
        utc(2007, 3, 11, 7, 30),
        utc(2007, 3, 12, 6, 30),
    ]


def test_new_york_fall_back_and_an_anchor_at_the_second_of_two_times() -> None:
    # 01:30 happens at 05:30Z (EDT) and 06:30Z (EST) on 1 November 2026.
    assert series("FREQ=DAILY", utc(2026, 10, 31, 5, 30), "America/New_York", 3) == [
        utc(2026, 10, 31, 5, 30),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 2, 6, 30),
    ]
    # A task first due at the second 01:30 keeps that instant; the series goes on at 01:30 each day.
    assert series("FREQ=DAILY", utc(2026, 11, 1, 6, 30), "America/New_York", 2) == [
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 2, 6, 30),
    ]


def test_lord_howe_shifts_by_thirty_minutes() -> None:
    # Lord Howe Island: UTC+10:30, and UTC+11 from 02:00 on Sunday 4 October 2026 (clocks go to 02:30).
    assert series("FREQ=DAILY", utc(2026, 10, 2, 22, 30), "Australia/Lord_Howe", 4) == [
        utc(2026, 10, 2, 22, 30),  # 09:00 +10:30 on the 3rd
        utc(2026, 10, 3, 22),  # 09:00 +11 on the 4th
        utc(2026, 10, 4, 22),
        utc(2026, 10, 5, 22),
    ]
    # 02:15 does not exist on the 4th: it moves forward by the 30-minute gap, to 02:45 +11.
    assert series("FREQ=DAILY", utc(2026, 10, 2, 15, 45), "Australia/Lord_Howe", 3) == [
        utc(2026, 10, 2, 15, 45),
        utc(2026, 10, 3, 15, 45),
        utc(2026, 10, 4, 15, 15),
    ]
    # And back to UTC+10:30 at 02:00 on Sunday 5 April 2026 (clocks go to 01:30): 01:45 happens twice.
    assert series("FREQ=DAILY", utc(2026, 4, 3, 14, 45), "Australia/Lord_Howe", 3) == [
        utc(2026, 4, 3, 14, 45),
        utc(2026, 4, 4, 14, 45),  # the first 01:45, at +11
        utc(2026, 4, 5, 15, 15),
    ]


def test_a_day_the_zone_skipped_is_not_a_second_occurrence() -> None:
    # Samoa skipped 30 December 2011 (from UTC-10 to UTC+14): that day's 09:00, read with the offset
    # before the gap, is the 31st's 09:00, which is one occurrence, not two.
    assert series("FREQ=DAILY", utc(2011, 12, 28, 19), "Pacific/Apia", 4) == [
        utc(2011, 12, 28, 19),
        utc(2011, 12, 29, 19),
        utc(2011, 12, 30, 19),
        utc(2011, 12, 31, 19),
    ]


# Month ends and leap days.


def test_the_31st_skips_shorter_months() -> None:
    assert [moment.date() for moment in series("FREQ=MONTHLY;BYMONTHDAY=31", utc(2026, 1, 31, 9), "UTC", 7)] == [
        date(2026, 1, 31),
        date(2026, 3, 31),
        date(2026, 5, 31),
        date(2026, 7, 31),
        date(2026, 8, 31),
        date(2026, 10, 31),
        date(2026, 12, 31),
    ]
    # Without BYMONTHDAY a monthly rule repeats DTSTART's day, and skips the months without it too.
    assert series("FREQ=MONTHLY", utc(2026, 1, 31, 9), "UTC", 7) == series(
        "FREQ=MONTHLY;BYMONTHDAY=31", utc(2026, 1, 31, 9), "UTC", 7
    )


def test_minus_one_is_each_months_last_day() -> None:
    assert [moment.date() for moment in series("FREQ=MONTHLY;BYMONTHDAY=-1", utc(2027, 11, 30, 9), "UTC", 5)] == [
        date(2027, 11, 30),
        date(2027, 12, 31),
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
    ]


def test_29_february_comes_in_leap_years_only() -> None:
    yearly = series("FREQ=YEARLY", utc(2092, 2, 29, 9), "UTC", 4)
    assert [moment.date() for moment in yearly] == [
        date(2092, 2, 29),
        date(2096, 2, 29),
        date(2104, 2, 29),  # 2100 is not a leap year
        date(2108, 2, 29),
    ]
    assert series("FREQ=YEARLY;INTERVAL=4", utc(2092, 2, 29, 9), "UTC", 4) == yearly
    assert series("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", utc(2092, 2, 29, 9), "UTC", 4) == yearly
    assert next_occurrence(
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29", utc(2096, 3, 1, 9), "UTC", after=utc(2096, 3, 1, 9)
    ) == (utc(2104, 2, 29, 9))
    check_occurs("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", utc(2096, 3, 1, 9), "UTC")


# Anchored at DTSTART: INTERVAL, BYDAY, COUNT and UNTIL as RFC 5545 says.


def dateutil_series(rule: str, anchor: datetime, zone: str, limit: int) -> list[datetime]:
    """The anchor, then dateutil's expansion of the whole rule from it, read in the zone as we read it."""
    tz = ZoneInfo(zone)
    first = anchor.astimezone(tz).replace(tzinfo=None)
    later: Iterator[datetime] = (
        local.replace(microsecond=first.microsecond, tzinfo=tz).astimezone(UTC)
        for local in du.rrulestr(rule, dtstart=first.replace(microsecond=0))
        if local.replace(microsecond=first.microsecond) != first
    )
    found = [anchor]
    for moment in later:
        if len(found) == limit:
            break
        if moment > found[-1]:  # a day the zone skipped reads as the next one's time
            found.append(moment)
    return found[:limit]


@pytest.mark.parametrize(
    "anchor",
    [utc(2026, 1, 5, 8), utc(2026, 1, 7, 8), utc(2026, 1, 9, 8)],
    ids=["on-a-monday", "on-a-wednesday", "on-a-friday"],
)
def test_every_other_monday_and_friday_is_dateutils_expansion_from_the_anchor(anchor: datetime) -> None:
    rule = "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR"
    ours = series(rule, anchor, "Europe/Paris", 40)
    assert ours == dateutil_series(rule, anchor, "Europe/Paris", 40)
    assert {moment.astimezone(ZoneInfo("Europe/Paris")).hour for moment in ours} == {9}
    assert (
        ours[1:3]
        == {
            utc(2026, 1, 5, 8): [utc(2026, 1, 9, 8), utc(2026, 1, 19, 8)],
            utc(2026, 1, 7, 8): [utc(2026, 1, 9, 8), utc(2026, 1, 19, 8)],
            utc(2026, 1, 9, 8): [utc(2026, 1, 19, 8), utc(2026, 1, 23, 8)],
        }[anchor]
    )


def test_count_ends_the_series_counting_its_anchor() -> None:
    assert series("FREQ=DAILY;COUNT=3", utc(2026, 1, 1, 9), "UTC") == [
        utc(2026, 1, 1, 9),
        utc(2026, 1, 2, 9),
        utc(2026, 1, 3, 9),
    ]
    assert next_occurrence("FREQ=DAILY;COUNT=3", utc(2026, 1, 1, 9), "UTC", after=utc(2026, 1, 3, 9)) is None
    # A Wednesday anchor of a Mondays rule: DTSTART is the first of the three all the same (RFC 5545 3.8.5.3).
    assert series("FREQ=WEEKLY;BYDAY=MO;COUNT=3", utc(2026, 1, 7, 9), "UTC") == [
        utc(2026, 1, 7, 9),
        utc(2026, 1, 12, 9),
        utc(2026, 1, 19, 9),
    ]


def test_until_ends_the_series_and_includes_itself() -> None:
    assert series("FREQ=DAILY;UNTIL=20260103T090000Z", utc(2026, 1, 1, 9), "UTC") == [
        utc(2026, 1, 1, 9),
        utc(2026, 1, 2, 9),
        utc(2026, 1, 3, 9),
    ]
    assert series("FREQ=DAILY;UNTIL=20260103T085959Z", utc(2026, 1, 1, 9), "UTC") == [
        utc(2026, 1, 1, 9),
        utc(2026, 1, 2, 9),
    ]
    assert (
        next_occurrence("FREQ=DAILY;UNTIL=20260103T090000Z", utc(2026, 1, 1, 9), "UTC", after=utc(2026, 1, 3, 9))
        is None
    )


def test_an_until_date_means_through_that_day_in_the_tasks_zone() -> None:
    # 23:30 in Paris is 22:30Z: the 3rd's occurrence is on the 3rd there, so it is in.
    assert series("FREQ=DAILY;UNTIL=20260103", utc(2026, 1, 1, 22, 30), "Europe/Paris") == [
        utc(2026, 1, 1, 22, 30),
        utc(2026, 1, 2, 22, 30),
        utc(2026, 1, 3, 22, 30),
    ]


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "the rule has no occurrence on or after due_at"),
        ("FREQ=MONTHLY;BYMONTH=4,6,9,11;BYMONTHDAY=31", "the rule has no occurrence on or after due_at"),
        ("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", "the rule has no occurrence on or after due_at"),
        ("FREQ=DAILY;INTERVAL=7;BYDAY=TU", "the rule has no occurrence on or after due_at"),
        ("FREQ=MONTHLY;BYMONTHDAY=1;BYDAY=2MO", "the rule has no occurrence on or after due_at"),
        ("FREQ=DAILY;UNTIL=20241231T235959Z", "UNTIL is before the rule's first occurrence"),
        ("FREQ=DAILY;UNTIL=20241231", "UNTIL is before the rule's first occurrence"),
        ("FREQ=YEARLY;COUNT=1000", "COUNT=1000 reaches too far with this rule to expand quickly"),
    ],
)
def test_a_rule_that_cannot_occur_from_due_at_on_is_refused(rule: str, says: str) -> None:
    # due_at: Monday 6 January 2025, 09:00 in Paris; INTERVAL=4 from 2025 never reaches a leap year.
    with pytest.raises(FieldError) as refused:
        check_occurs(rule, utc(2025, 1, 6, 8), "Europe/Paris")
    assert (refused.value.field, refused.value.source) == ("recurrence", "body")
    assert says in refused.value.message


def test_a_count_past_the_last_due_date_says_so() -> None:
    # 30 November and 31 December 9999: the second is past the last due date PostgreSQL keeps.
    with pytest.raises(FieldError) as refused:
        check_occurs("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3", utc(9999, 11, 14, 12), "Europe/Warsaw")
    assert refused.value.message == "COUNT=3 runs past 9999-12-30: lower it"
    check_occurs("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=1", utc(9999, 11, 14, 12), "Europe/Warsaw")


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;UNTIL=20250106T080000Z",  # UNTIL exactly at due_at
        "FREQ=DAILY;UNTIL=20250106",
        "FREQ=WEEKLY;BYDAY=TU;COUNT=1",  # DTSTART alone: a Monday, then no Tuesday
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR",
        "FREQ=YEARLY;BYMONTH=2;BYDAY=5MO",  # next in 2044
        "FREQ=WEEKLY;BYDAY=MO;COUNT=1000",
    ],
)
def test_a_rule_that_occurs_is_accepted(rule: str) -> None:
    check_occurs(rule, utc(2025, 1, 6, 8), "Europe/Paris")


# Completing an occurrence: the next is the first after both its due time and the completion.


def test_completing_late_skips_the_missed_occurrences() -> None:
    anchor = utc(2026, 1, 1, 8)  # 09:00 in Paris
    completed_at = utc(2026, 1, 10, 11)
    assert next_occurrence("FREQ=DAILY", anchor, "Europe/Paris", after=max(anchor, completed_at)) == utc(2026, 1, 11, 8)
    assert next_occurrence("FREQ=WEEKLY;BYDAY=MO,TH", anchor, "Europe/Paris", after=completed_at) == utc(2026, 1, 12, 8)


def test_completing_years_late_is_as_quick_as_on_time() -> None:
    anchor = utc(2026, 1, 1, 8)
    started = time.process_time()
    late = next_occurrence("FREQ=DAILY", anchor, "Europe/Paris", after=utc(2046, 7, 1, 12))
    assert time.process_time() - started < 0.05
    assert late == utc(2046, 7, 2, 7)  # 09:00 CEST
    assert next_occurrence("FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR", anchor, "UTC", after=utc(3026, 1, 1)) == (
        dateutil_next("FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR", anchor, utc(3026, 1, 1))
    )


def dateutil_next(rule: str, anchor: datetime, after: datetime) -> datetime:
    """The first occurrence after ``after`` of dateutil's own expansion of a UTC rule from its anchor."""
    found = du.rrulestr(rule, dtstart=anchor.replace(tzinfo=None)).after(after.replace(tzinfo=None))
    assert found is not None
    return found.replace(tzinfo=UTC)


def test_completing_early_gives_the_next_after_the_due_time() -> None:
    anchor = utc(2026, 1, 1, 8)
    due_at = utc(2026, 1, 5, 8)
    completed_at = utc(2026, 1, 3, 18)
    assert next_occurrence("FREQ=DAILY", anchor, "Europe/Paris", after=max(due_at, completed_at)) == utc(2026, 1, 6, 8)


def test_occurrences_start_with_the_tasks_own_due_time() -> None:
    assert occurrences(None, None, "UTC", start=utc(2026, 1, 1, 9), limit=5) == [utc(2026, 1, 1, 9)]
    assert occurrences("FREQ=DAILY", None, "UTC", start=utc(2026, 1, 1, 9), limit=0) == []
    # An occurrence past its series' end still lists itself.
    assert occurrences("FREQ=DAILY;COUNT=2", utc(2026, 1, 1, 9), "UTC", start=utc(2026, 1, 2, 9), limit=5) == [
        utc(2026, 1, 2, 9)
    ]
    assert occurrences("FREQ=WEEKLY", utc(2026, 1, 1, 9), "UTC", start=utc(2026, 1, 15, 9), limit=3) == [
        utc(2026, 1, 15, 9),
        utc(2026, 1, 22, 9),
        utc(2026, 1, 29, 9),
    ]


def test_the_last_storable_day_ends_a_series() -> None:
    assert series("FREQ=DAILY", utc(9999, 12, 28, 12), "UTC") == [
        utc(9999, 12, 28, 12),
        utc(9999, 12, 29, 12),
        utc(9999, 12, 30, 12),
    ]
    assert series("FREQ=DAILY", utc(9999, 12, 29, 12), "Pacific/Kiritimati") == [
        utc(9999, 12, 29, 12),
        utc(9999, 12, 30, 12),
    ]
    assert series("FREQ=DAILY", utc(9999, 12, 29, 12), "America/Adak") == [
        utc(9999, 12, 29, 12),
        utc(9999, 12, 30, 12),
    ]


# The bound: however a rule is written, dateutil's walk stays short.

WORST = [
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30,31,-30,-31",
    "FREQ=WEEKLY;INTERVAL=773;BYMONTH=2;BYDAY=MO",
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=DAILY;INTERVAL=7;BYDAY=TU",
    "FREQ=DAILY;BYMONTHDAY=31;BYMONTH=4,6,9,11;BYDAY=MO,TU,WE,TH,FR,SA,SU",
    "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=30",
    "FREQ=MONTHLY;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28;BYDAY=5MO",
    "FREQ=YEARLY;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28;BYDAY=53MO",
    "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=-1,-2,-3,-4,-5,-6,-7,-8,-9,-10,-11,-12,-13,-14,-15,-16,-17,-18;BYDAY=-1MO",
    "FREQ=YEARLY;INTERVAL=1000;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=DAILY;BYDAY=MO;COUNT=1000",
    "FREQ=YEARLY;COUNT=1000",
]


@pytest.fixture
def periods(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many periods dateutil enters: it builds each period's dates once, with one of these."""
    entered = [0]
    for name in ("ydayset", "mdayset", "wdayset", "ddayset"):
        original = getattr(du._iterinfo, name)

        def counted(*args: Any, original: Callable[..., Any] = original) -> Any:
            entered[0] += 1
            return original(*args)

        monkeypatch.setattr(du._iterinfo, name, counted)
    return entered


def test_the_period_count_sees_dateutils_own_long_walk(periods: list[int]) -> None:
    assert (
        du.rrulestr("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", dtstart=datetime(2026, 1, 1)).after(datetime(2026, 1, 1))
        is None
    )
    assert periods[0] > 7000  # every year to 9999


def refused(rule: str, due_at: datetime, zone: str) -> None:
    with contextlib.suppress(FieldError):
        check_occurs(rule, due_at, zone)


@pytest.mark.parametrize("rule", WORST)
def test_the_worst_rules_walk_a_bounded_way_quickly(rule: str, periods: list[int]) -> None:
    due_at, zone = utc(2025, 1, 6, 8), "Europe/Paris"
    calls: list[tuple[Callable[[], object], int]] = [
        (lambda: refused(rule, due_at, zone), 2),  # the first occurrence, then COUNT's
        (lambda: next_occurrence(rule, due_at, zone, after=due_at), 1),
        (lambda: next_occurrence(rule, due_at, zone, after=utc(2525, 1, 1)), 1),
        (lambda: occurrences(rule, due_at, zone, start=due_at, limit=50), 1),
    ]
    for call, walks in calls:
        periods[0] = 0
        started = time.process_time()
        call()
        assert time.process_time() - started < 0.05  # CPU time: 10 ms on a busy core
        assert periods[0] <= walks * (WALK_MAX + 1)  # every period dateutil enters costs one, but the first


# Properties, for random rules, anchors and zones.

ZONES = sorted(
    {"UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "America/Santiago"}
    | {"America/Sao_Paulo", "Asia/Kathmandu", "Pacific/Chatham", "Africa/Casablanca", "Antarctica/Troll"}
)
WEEKDAY_NAMES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw: st.DrawFn, *, ends: bool = True) -> str:
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.sampled_from([1, 2, 3, 4, 5, 7, 12, 13, 52]))}")
    if ends and draw(st.booleans()):
        if draw(st.booleans()):
            parts.append(f"COUNT={draw(st.integers(1, 30))}")
        else:
            until = draw(st.datetimes(datetime(1990, 1, 1), datetime(2110, 1, 1)))
            parts.append(f"UNTIL={until:%Y%m%d}" if draw(st.booleans()) else f"UNTIL={until:%Y%m%dT%H%M%S}Z")
    if draw(st.booleans()):
        parts.append("BYMONTH=" + ",".join(map(str, draw(st.lists(st.integers(1, 12), min_size=1, max_size=4)))))
    if freq != "WEEKLY" and draw(st.booleans()):
        days = st.integers(1, 31) | st.integers(-31, -1)
        parts.append("BYMONTHDAY=" + ",".join(map(str, draw(st.lists(days, min_size=1, max_size=4)))))
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(WEEKDAY_NAMES), min_size=1, max_size=3))
        if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
            most = 5 if freq == "MONTHLY" or any(part.startswith("BYMONTH=") for part in parts) else 53
            numbers = st.integers(1, most) | st.integers(-most, -1)
            names = [f"{draw(numbers)}{name}" for name in names]
        parts.append("BYDAY=" + ",".join(names))
    return ";".join(draw(st.permutations(parts)))


anchors = st.datetimes(datetime(1975, 1, 1), datetime(2100, 1, 1)).map(lambda moment: moment.replace(tzinfo=UTC))


def occurring(rule: str, anchor: datetime, zone: str) -> str:
    try:
        stored = parse_rule(rule)
        check_occurs(stored, anchor, zone)
    except FieldError:
        assume(False)
    return stored


@given(rules(), anchors, st.sampled_from(ZONES), st.data())
@settings(max_examples=300, deadline=None, database=None)
def test_next_occurrence_is_the_series_next_and_keeps_the_wall_clock(
    rule: str, anchor: datetime, zone: str, data: st.DataObject
) -> None:
    stored = occurring(rule, anchor, zone)
    listed = series(stored, anchor, zone, 30)
    assert listed[0] == anchor
    assert all(earlier < later for earlier, later in itertools.pairwise(listed))
    tz = ZoneInfo(zone)
    wall = anchor.astimezone(tz).time()
    for moment in listed[1:]:
        assert keeps_the_wall_clock(moment, wall, tz)
    after = data.draw(st.datetimes(anchor.replace(tzinfo=None) - timedelta(days=2), listed[-1].replace(tzinfo=None)))
    after = after.replace(tzinfo=UTC)
    if after < listed[-1]:
        assert next_occurrence(stored, anchor, zone, after=after) == next(moment for moment in listed if moment > after)
    if "COUNT=" in stored:  # check_occurs saw that all of them come within the bound
        count = int(stored.split("COUNT=")[1].split(";")[0])
        assert len(listed) == min(count, 30)
        if count <= 30:
            assert next_occurrence(stored, anchor, zone, after=listed[-1]) is None


def keeps_the_wall_clock(moment: datetime, wall: Any, tz: ZoneInfo) -> bool:
    """The anchor's wall time that day, or, where the clocks skipped it, that time moved forward by the gap."""
    local = moment.astimezone(tz)
    if local.time() == wall:
        return True
    for day in (local.date(), local.date() - timedelta(days=1)):
        meant = datetime.combine(day, wall, tzinfo=tz)
        skipped = meant.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != meant.replace(tzinfo=None)
        if skipped and meant.astimezone(UTC) == moment:
            return True
    return False


@given(rules(ends=False), anchors, st.sampled_from(ZONES))
@settings(max_examples=300, deadline=None, database=None)
def test_the_series_is_dateutils_expansion_of_the_whole_rule(rule: str, anchor: datetime, zone: str) -> None:
    stored = occurring(rule, anchor, zone)
    ours = series(stored, anchor, zone, 25)
    assert ours == dateutil_series(stored, anchor, zone, len(ours))


@given(rules(ends=False), anchors, st.sampled_from(ZONES), st.integers(1, 20_000))
@settings(max_examples=200, deadline=None, database=None)
def test_a_walk_started_near_the_time_asked_about_agrees_with_dateutil(
    rule: str, anchor: datetime, zone: str, days_later: int
) -> None:
    stored = occurring(rule, anchor, zone)
    after = anchor + timedelta(days=days_later, seconds=1)
    found = next_occurrence(stored, anchor, zone, after=after)
    assume(found is not None)
    tz = ZoneInfo(zone)
    first = anchor.astimezone(tz).replace(tzinfo=None)
    whole = du.rrulestr(stored, dtstart=first.replace(microsecond=0))
    # dateutil's first occurrence after ``after``, looked for from two days before it in local time.
    expected = next(
        moment
        for local in whole.xafter(after.astimezone(tz).replace(tzinfo=None) - timedelta(days=2))
        if (moment := local.replace(microsecond=first.microsecond, tzinfo=tz).astimezone(UTC)) > after
    )
    assert found == expected
