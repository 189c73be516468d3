"""When schedules fire: cron in timezones, DST days, intervals and misfire policies.

Every clock is passed in (``now``); nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobsys.errors import InputError
from jobsys.scheduling.cron import (
    MisfirePolicy,
    Timing,
    first_after,
    following,
    plan_firing,
    timing,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def walk(t: Timing, start: datetime, end: datetime) -> list[datetime]:
    """Every instant of ``t`` after ``start`` up to ``end``."""
    out, instant = [], following(t, start)
    while instant <= end:
        out.append(instant)
        instant = following(t, instant)
    return out


@pytest.mark.parametrize(
    ("cron", "zone", "now", "expected"),
    [
        ("0 9 * * *", "UTC", utc(2026, 1, 10, 8, 0), utc(2026, 1, 10, 9, 0)),
        # Paris is UTC+1 in winter, UTC+2 in summer: 09:00 local moves in UTC.
        ("0 9 * * *", "Europe/Paris", utc(2026, 1, 10, 8, 30), utc(2026, 1, 11, 8, 0)),
        ("0 9 * * *", "Europe/Paris", utc(2026, 7, 10, 6, 0), utc(2026, 7, 10, 7, 0)),
        ("0 9 * * *", "America/New_York", utc(2026, 1, 10, 0, 0), utc(2026, 1, 10, 14, 0)),
        ("30 5 * * 1", "Asia/Kolkata", utc(2026, 11, 23, 0, 0), utc(2026, 11, 30, 0, 0)),
        # exactly at an instant: the next one, never the same one again
        ("*/15 * * * *", "UTC", utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30)),
    ],
)
def test_cron_fires_at_the_local_time_of_its_timezone(
    cron: str, zone: str, now: datetime, expected: datetime
) -> None:
    assert first_after(timing(cron, None, zone), now) == expected


def test_spring_forward_a_0230_schedule_fires_once_at_0300_after_the_jump() -> None:
    # Europe/Paris skips 02:00-03:00 local on 2026-03-29 (01:00 UTC).
    t = timing("30 2 * * *", None, "Europe/Paris")
    fired = walk(t, utc(2026, 3, 27, 12, 0), utc(2026, 3, 30, 12, 0))
    assert fired == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # no 02:30 that day: 03:00 CEST, right after the jump
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]


def test_fall_back_a_0230_schedule_fires_once_not_twice() -> None:
    # Europe/Paris repeats 02:00-03:00 local on 2026-10-25.
    t = timing("30 2 * * *", None, "Europe/Paris")
    fired = walk(t, utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 12, 0))
    assert fired == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, the first of the two 02:30s
        utc(2026, 10, 26, 1, 30),  # 02:30 CET the next day
    ]


def test_fall_back_a_wildcard_hour_schedule_fires_in_both_real_hours() -> None:
    t = timing("0 * * * *", None, "Europe/Paris")
    fired = walk(t, utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 2, 30))
    # 02:00 CEST (00:00 UTC) and 02:00 CET (01:00 UTC) are different instants an hour apart
    assert fired == [utc(2026, 10, 25, h, 0) for h in (0, 1, 2)]


def test_new_york_spring_forward_fires_each_day_once() -> None:
    t = timing("30 2 * * *", None, "America/New_York")
    fired = walk(t, utc(2026, 3, 7, 12, 0), utc(2026, 3, 10, 12, 0))
    # 2026-03-08 has no 02:30 in New York: 03:00 EDT; then 02:30 EDT (06:30 UTC) daily
    assert fired == [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]


def test_interval_counts_from_the_previous_instant_on_whole_seconds() -> None:
    t = timing(None, 90, "UTC")
    start = first_after(t, datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC))
    assert start == utc(2026, 1, 1, 0, 1, 30)
    assert following(t, start) == utc(2026, 1, 1, 0, 3, 0)


@pytest.mark.parametrize(
    ("cron", "interval", "zone", "field"),
    [
        ("61 * * * *", None, "UTC", "cron"),
        ("not cron", None, "UTC", "cron"),
        ("0 9 * * *", None, "Mars/Base", "timezone"),
        (None, None, "UTC", "cron"),
        ("0 9 * * *", 60, "UTC", "cron"),
        (None, 0, "UTC", "interval"),
    ],
)
def test_invalid_timing_names_the_field(
    cron: str | None, interval: int | None, zone: str, field: str
) -> None:
    with pytest.raises(InputError) as info:
        timing(cron, interval, zone, subject="schedule nightly")
    assert info.value.field == field
    assert "schedule nightly" in str(info.value)


# --- misfires ------------------------------------------------------------------------------

MINUTE = timing("* * * * *", None, "UTC")
DUE = utc(2026, 1, 1, 10, 0)


def test_an_instant_seen_on_time_fires_and_moves_to_the_next() -> None:
    firing = plan_firing(MINUTE, DUE, DUE + timedelta(seconds=0.2))
    assert firing.fire == (DUE,)
    assert firing.next_at == utc(2026, 1, 1, 10, 1)
    assert firing.missed == 0


def test_not_yet_due_fires_nothing() -> None:
    firing = plan_firing(MINUTE, DUE, DUE - timedelta(seconds=1))
    assert firing.fire == () and firing.next_at == DUE


def test_misfire_skip_fires_nothing_for_missed_instants_and_resumes_at_the_next() -> None:
    # beat was down 10:00-10:05:30; the grace is 10 s, so even 10:05 is missed
    now = utc(2026, 1, 1, 10, 5, 30)
    firing = plan_firing(MINUTE, DUE, now, policy=MisfirePolicy.SKIP, grace=10)
    assert firing.fire == ()
    assert firing.missed == 6
    assert firing.next_at == utc(2026, 1, 1, 10, 6)


def test_misfire_skip_still_fires_the_latest_instant_within_grace() -> None:
    now = utc(2026, 1, 1, 10, 5, 3)
    firing = plan_firing(MINUTE, DUE, now, policy=MisfirePolicy.SKIP, grace=10)
    assert firing.fire == (utc(2026, 1, 1, 10, 5),)
    assert firing.missed == 5


def test_misfire_once_fires_one_catch_up() -> None:
    now = utc(2026, 1, 1, 10, 5, 30)
    firing = plan_firing(MINUTE, DUE, now, policy=MisfirePolicy.ONCE, grace=10)
    assert firing.fire == (utc(2026, 1, 1, 10, 5),)
    assert firing.missed == 5
    assert firing.next_at == utc(2026, 1, 1, 10, 6)


def test_misfire_once_catch_up_comes_before_the_on_time_instant() -> None:
    now = utc(2026, 1, 1, 10, 5, 3)
    firing = plan_firing(MINUTE, DUE, now, policy=MisfirePolicy.ONCE, grace=10)
    assert firing.fire == (utc(2026, 1, 1, 10, 4), utc(2026, 1, 1, 10, 5))


def test_misfire_all_fires_each_missed_instant() -> None:
    now = utc(2026, 1, 1, 10, 5, 30)
    firing = plan_firing(MINUTE, DUE, now, policy=MisfirePolicy.ALL, grace=10)
    assert firing.fire == tuple(utc(2026, 1, 1, 10, m) for m in range(6))
    assert firing.missed == 0


def test_misfire_all_is_bounded_to_the_latest_instants() -> None:
    now = utc(2026, 1, 2, 10, 0, 30)  # a day down: 1,441 instants
    firing = plan_firing(MINUTE, DUE, now, policy=MisfirePolicy.ALL, grace=10, max_catchup=3)
    assert firing.fire == tuple(utc(2026, 1, 2, 9, 58) + timedelta(minutes=i) for i in range(3))
    assert firing.missed == 1441 - 3
    assert firing.next_at == utc(2026, 1, 2, 10, 1)


def test_misfire_of_an_interval_is_counted_without_walking() -> None:
    t = timing(None, 1, "UTC")
    now = DUE + timedelta(days=30, seconds=0.5)
    firing = plan_firing(t, DUE, now, policy=MisfirePolicy.ALL, grace=0, max_catchup=2)
    assert len(firing.fire) == 2
    assert firing.missed == 30 * 86400 + 1 - 2
    assert firing.next_at == DUE + timedelta(days=30, seconds=1)


def test_misfire_across_spring_forward_counts_the_real_instants() -> None:
    t = timing("30 2 * * *", None, "Europe/Paris")
    due = utc(2026, 3, 28, 1, 30)
    now = utc(2026, 3, 30, 12, 0)  # down three days: 28th, 29th (03:00), 30th
    firing = plan_firing(t, due, now, policy=MisfirePolicy.ALL, grace=60)
    assert firing.fire == (due, utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30))
    assert firing.next_at == utc(2026, 3, 31, 0, 30)
