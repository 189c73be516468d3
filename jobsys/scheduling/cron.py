"""When a schedule fires: pure calendar logic, no I/O, every clock passed in as ``now``.

A schedule is a cron expression read in an IANA timezone, or a fixed interval in
seconds. Every instant is returned as an aware UTC ``datetime``.

Daylight-saving changes (cron, via cronsim, which follows Debian cron):

- spring forward: an instant inside the skipped hour fires once, right after the jump
  (``30 2 * * *`` in Europe/Paris on 2026-03-29 fires at 03:00 CEST = 01:00 UTC);
- fall back: an instant with a fixed hour inside the repeated hour fires once, at its
  first occurrence (``30 2 * * *`` on 2026-10-25 fires at 02:30 CEST = 00:30 UTC, not
  again at 02:30 CET); wildcard-hour expressions (``*/30 * * * *``) fire in both hours,
  because both are distinct real instants.

Misfires (``plan_firing``): when beat looks at a schedule whose ``next_trigger_at`` is
due, every instant from it up to ``now`` is due. Only the latest may be on time, and
only if it is at most ``grace`` seconds old; the others were missed (beat was down or
late). The schedule's misfire policy decides what fires:

- ``skip`` (default): the on-time instant only; missed ones fire nothing;
- ``once``: one catch-up firing for all the missed instants (at the latest of them),
  then the on-time instant;
- ``all``: each missed instant, at most ``max_catchup`` of them (the latest), then the
  on-time one.

``next_trigger_at`` then moves to the first instant after ``now``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from jobsys.errors import InputError

#: cron instants examined at most when beat comes back after a long outage
MAX_SCAN = 100_000


class MisfirePolicy(StrEnum):
    """What fires for instants beat missed."""

    #: nothing for missed instants; resume at the next one
    SKIP = "skip"
    #: one catch-up firing for all the missed instants
    ONCE = "once"
    #: each missed instant, bounded by ``max_catchup``
    ALL = "all"


class OverlapPolicy(StrEnum):
    """What a firing does while the previous firing's run has not ended."""

    #: start another run anyway
    ALLOW = "allow"
    #: record a run whose job is SKIPPED, with the reason
    SKIP = "skip"
    #: wait, and start when the previous run ends (one firing waits; later ones join it)
    QUEUE = "queue"


@dataclass(frozen=True)
class Timing:
    """A validated cron expression in a timezone, or an interval."""

    cron: str | None
    interval_seconds: int | None
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        """The timezone cron is read in."""
        return ZoneInfo(self.timezone)

    def describe(self) -> str:
        """``cron 0 9 * * * (Europe/Paris)`` or ``every 30s``."""
        if self.cron is not None:
            return f"cron {self.cron} ({self.timezone})"
        return f"every {self.interval_seconds}s"


def timing(
    cron: str | None, interval_seconds: int | None, timezone: str = "UTC", *, subject: str = ""
) -> Timing:
    """A ``Timing``, or ``InputError`` naming the field: exactly one of cron and interval,
    a cron expression cronsim accepts, a known IANA timezone, a positive interval."""
    where = subject or "schedule"
    if (cron is None) == (interval_seconds is None):
        raise InputError(where, "cron", "give exactly one of a cron expression and an interval")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(where, "timezone", f"unknown IANA timezone {timezone!r}") from exc
    if cron is not None:
        try:
            CronSim(cron, datetime.now(zone))
        except CronSimError as exc:
            raise InputError(where, "cron", f"{cron!r}: {exc}") from exc
    elif interval_seconds is not None and interval_seconds < 1:
        raise InputError(where, "interval", "must be at least 1 second")
    return Timing(cron, interval_seconds, timezone)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass aware datetimes")
    return value.astimezone(UTC)


def following(t: Timing, instant: datetime) -> datetime:
    """The first instant of ``t`` strictly after ``instant`` (an interval counts from it)."""
    if t.cron is None:
        assert t.interval_seconds is not None
        return _utc(instant) + timedelta(seconds=t.interval_seconds)
    local = _utc(instant).astimezone(t.zone)
    return _utc(next(CronSim(t.cron, local)))


def first_after(t: Timing, now: datetime) -> datetime:
    """Where a new (or re-enabled) schedule starts: its first instant after ``now`` (an
    interval's first instant is on a whole second, so its instants are too)."""
    if t.cron is None:
        return following(t, _utc(now).replace(microsecond=0))
    return following(t, now)


def due_instants(t: Timing, due: datetime, now: datetime, keep: int) -> tuple[list[datetime], int]:
    """The instants from ``due`` up to ``now`` (the last ``keep``, oldest first) and their count.

    Intervals are counted arithmetically; cron instants are walked, at most ``MAX_SCAN``.
    """
    due, now = _utc(due), _utc(now)
    if due > now:
        return [], 0
    if t.cron is None:
        assert t.interval_seconds is not None
        step = timedelta(seconds=t.interval_seconds)
        count = int((now - due) // step) + 1
        first = max(0, count - keep)
        return [due + step * i for i in range(first, count)], count
    last: deque[datetime] = deque(maxlen=keep)
    count, instant = 0, due
    while instant <= now and count < MAX_SCAN:
        last.append(instant)
        count += 1
        instant = following(t, instant)
    return list(last), count


@dataclass(frozen=True)
class Firing:
    """What beat does with a due schedule: the instants to fire now and where to go next."""

    #: scheduled instants to fire now, oldest first (empty: nothing fires)
    fire: tuple[datetime, ...]
    #: the schedule's next ``next_trigger_at`` (after ``now``)
    next_at: datetime
    #: instants that passed and do not fire (the misfire policy skipped them)
    missed: int


def plan_firing(
    t: Timing,
    due: datetime,
    now: datetime,
    *,
    policy: MisfirePolicy = MisfirePolicy.SKIP,
    grace: float = 60.0,
    max_catchup: int = 100,
) -> Firing:
    """Decide what fires for a schedule due at ``due``, seen at ``now`` (see the module doc)."""
    instants, count = due_instants(t, due, now, keep=max_catchup + 1)
    if not instants:
        return Firing((), _utc(due), 0)
    latest = instants[-1]
    on_time = [latest] if (_utc(now) - latest).total_seconds() <= grace else []
    missed = instants[:-1] if on_time else instants
    missed_count = count - len(on_time)
    if policy is MisfirePolicy.SKIP:
        catchup: list[datetime] = []
    elif policy is MisfirePolicy.ONCE:
        catchup = missed[-1:]
    else:
        catchup = missed[-max_catchup:] if max_catchup > 0 else []
    fire = tuple(catchup + on_time)
    next_at = following(t, latest)
    if next_at <= _utc(now):  # a cron walk cut short by MAX_SCAN
        next_at = first_after(t, now)
    return Firing(fire, next_at, missed_count - len(catchup))
