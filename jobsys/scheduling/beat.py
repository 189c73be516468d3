"""``DatabaseScheduler``: celery beat reading jobsys's schedules from the store.

The shape of django-celery-beat's scheduler: ``Entry`` (one per firing schedule),
``Model`` (the table it reads) and ``Changes`` (one change-stamp row, bumped by every
write of a schedule or archive of a template). Each tick:

1. if the change stamp moved (``schedule_changed()``), reload every ENABLED schedule
   whose template is active, so a schedule created, changed, disabled or deleted while
   beat runs takes effect within ``beat_max_loop_interval`` seconds;
2. for the entries whose ``next_trigger_at`` has come, in random order and chunks of
   ``CHUNK`` (up to ``FIRING_THREADS`` chunks at once), decide what fires
   (``jobsys.scheduling.cron.plan_firing``: misfire policy),
   then **claim** them with a compare-and-set UPDATE of ``next_trigger_at``
   (``jobsys.store.schedules.claim_many``: ``... WHERE id IN (...) AND next_trigger_at =
   :due RETURNING id``). Only the beat whose UPDATE matched a row fires it, through
   ``Client.fire_schedules``; a beat that lost marks the entry ``_dirty`` and ``sync()``
   re-reads it from the store;
3. sleep until the next instant due, at most ``beat_max_loop_interval``.

Beside the schedules, each tick pokes the daily history prune
(``jobsys.scheduling.housekeeping``, setting ``history_retention``), which runs in a
thread of its own, claimed by one beat only.

Two beats, or a restarted beat, therefore never fire one instant twice: the store row
decides, not any beat's memory. The claim commits before the run is created, so a beat
killed between the two loses that one firing (at most once, never twice).

Overlap policy ``queue`` holds a due firing while the schedule's previous run is open
(the claim waits too, so no other beat fires it) and fires it, as on time, once that
run has ended. ``skip`` fires a run whose jobs are recorded SKIPPED with the reason.

Entry point: ``jobsys beat`` (``bind(client)`` gives the class), or
``celery -A jobsys beat -S jobsys.scheduling.beat:DatabaseScheduler``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from celery.beat import ScheduleEntry as CeleryEntry
from celery.beat import Scheduler
from celery.utils.log import get_logger

from jobsys.errors import JobsysError
from jobsys.lifecycle import GROUP_TERMINAL
from jobsys.scheduling.cron import Firing, MisfirePolicy, OverlapPolicy, Timing, plan_firing
from jobsys.scheduling.housekeeping import HistoryPruner
from jobsys.store import schedules
from jobsys.store.models import Schedule, ScheduleChange
from jobsys.store.session import store_errors

if TYPE_CHECKING:
    from jobsys.client import Client

logger = get_logger("jobsys.beat")
#: seconds between looks at a held (overlap ``queue``) schedule's previous run
HOLD_POLL = 0.5
#: due schedules claimed and fired together (one claim statement, one run transaction)
CHUNK = 50
#: chunks fired at once (each claims and writes on its own connection)
FIRING_THREADS = 4
_ENDED = {s.value for s in GROUP_TERMINAL}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ScheduleEntry(CeleryEntry):  # type: ignore[misc]
    """One firing schedule as beat holds it: its row, timing and next instant."""

    def __init__(self, row: Any, app: Any) -> None:
        super().__init__(
            name=row.name,
            task=f"template:{row.template_name}",
            last_run_at=row.last_triggered_at,
            schedule=None,
            app=app,
        )
        self.row = row
        self.timing = Timing(row.cron_expression, row.interval_seconds, row.timezone)
        self.next_at: datetime = row.next_trigger_at
        #: overlap ``queue``: due, waiting for the previous run to end
        self.held = False

    def __repr__(self) -> str:
        return f"<ScheduleEntry {self.name} {self.timing.describe()} next={self.next_at}>"


class DatabaseScheduler(Scheduler):  # type: ignore[misc]
    """A celery beat scheduler whose source of truth is jobsys's ``schedules`` table."""

    Entry: ClassVar[type[ScheduleEntry]] = ScheduleEntry
    Model = Schedule
    Changes = ScheduleChange
    #: the client firings go through (``bind()`` sets it; else one from ``load_settings()``)
    client: ClassVar[Client | None] = None
    #: the scheduler's clock (tests pass a controllable one to ``bind()``)
    clock_fn: ClassVar[Callable[[], datetime] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._entries: dict[str, ScheduleEntry] = {}
        self._stamp: int | None = None
        self._dirty: set[str] = set()
        self._client: Client | None = None
        self._pruner: HistoryPruner | None = None
        super().__init__(*args, **kwargs)

    @property
    def jobsys(self) -> Client:
        """The client this scheduler fires through."""
        if self._client is None:
            if type(self).client is not None:
                self._client = type(self).client
            else:
                from jobsys.client import Client
                from jobsys.settings import load_settings

                self._client = Client(load_settings())
        assert self._client is not None
        return self._client

    # --- the schedule ------------------------------------------------------------------

    def setup_schedule(self) -> None:
        """Load every firing schedule from the store."""
        self._reload()

    def schedule_changed(self) -> bool:
        """Whether the change stamp moved since the last load."""
        with self.jobsys.runtime.engine.connect() as conn:
            return schedules.stamp(conn) != self._stamp

    def _reload(self) -> None:
        with self.jobsys.runtime.engine.connect() as conn:
            # The stamp first: a change committed after it is seen on the next tick.
            self._stamp = schedules.stamp(conn)
            rows = schedules.firing_schedules(conn)
        held = {k for k, e in self._entries.items() if e.held}
        self._entries = {r.id: self.Entry(r, self.app) for r in rows}
        for key in held & set(self._entries):
            self._entries[key].held = True
        self._dirty.clear()
        logger.info("beat: %d schedule(s) to fire", len(self._entries))

    @property
    def schedule(self) -> dict[str, ScheduleEntry]:
        """The entries by schedule name (what ``celery beat`` shows)."""
        return {e.name: e for e in self._entries.values()}

    def sync(self) -> None:
        """Re-read the entries another beat fired (``_dirty``) from the store, in one query."""
        if not self._dirty:
            return
        with self.jobsys.runtime.engine.connect() as conn:
            rows = {r.id: r for r in schedules.firing_schedules(conn, sorted(self._dirty))}
        for key in self._dirty:
            if key in rows:
                self._entries[key] = self.Entry(rows[key], self.app)
            else:
                self._entries.pop(key, None)
        self._dirty.clear()

    def should_sync(self) -> bool:
        """Sync whenever an entry is dirty (one query for all of them)."""
        return bool(self._dirty)

    def close(self) -> None:
        """Stop the history prune (after its batch); release the store and broker connections."""
        if self._pruner is not None:
            self._pruner.stop()
        if self._client is not None and type(self).client is None:
            self._client.close()

    # --- firing ------------------------------------------------------------------------

    def now(self) -> datetime:
        """Now, aware UTC, by the scheduler's clock."""
        return (type(self).clock_fn or _utcnow)()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Reload if changed, fire what is due, return the seconds to sleep.

        A store or broker that does not answer is logged and tried again next tick.
        """
        settings = self.jobsys.settings
        try:
            with store_errors(settings):
                if self.schedule_changed():
                    self._reload()
        except JobsysError as exc:
            logger.error("beat: cannot read the schedules: %s", exc)
            return float(self.max_interval)
        now = self.now()
        due = [e for e in self._entries.values() if e.next_at <= now]
        # Two beats walk the due entries in different orders, a chunk at a time, so they
        # share the firing instead of both contending for the same rows first.
        random.shuffle(due)
        chunks = [due[start : start + CHUNK] for start in range(0, len(due), CHUNK)]
        if len(chunks) > 1:
            # Firing waits on the store and the broker: chunks overlap those waits.
            self.jobsys.runtime.app.producer_pool  # noqa: B018 - made once, before the threads
            with ThreadPoolExecutor(FIRING_THREADS, thread_name_prefix="beat-fire") as pool:
                list(pool.map(lambda chunk: self._fire_chunk(chunk, now), chunks))
        elif chunks:
            self._fire_chunk(chunks[0], now)
        try:
            with store_errors(settings):
                self.sync()
        except JobsysError as exc:
            logger.error("beat: cannot re-read the schedules another beat fired: %s", exc)
        self.history_pruner.poke(now)
        return self._sleep(self.now())

    @property
    def history_pruner(self) -> HistoryPruner:
        """The daily history prune this beat pokes each tick (it runs in its own thread)."""
        if self._pruner is None:
            self._pruner = HistoryPruner(self.jobsys.runtime)
        return self._pruner

    def _fire_chunk(self, chunk: list[ScheduleEntry], now: datetime) -> None:
        try:
            with store_errors(self.jobsys.settings):
                self._fire(chunk, now)
        except JobsysError as exc:
            logger.error("beat: %d schedule(s) did not fire: %s", len(chunk), exc)

    def _sleep(self, now: datetime) -> float:
        waits = [float(self.max_interval)]
        for entry in self._entries.values():
            waits.append(HOLD_POLL if entry.held else (entry.next_at - now).total_seconds())
        return max(0.0, min(waits))

    def _fire(self, entries: list[ScheduleEntry], now: datetime) -> None:
        """Plan, claim (one compare-and-set statement per shared instant), then fire."""
        planned = [(e, f) for e in entries if (f := self._plan(e, now)) is not None]
        won = self._claim(planned)
        firings: list[tuple[Any, datetime]] = []
        for entry, firing in planned:
            if entry.row.id not in won:
                self._dirty.add(entry.row.id)
                continue
            entry.next_at = firing.next_at
            entry.last_run_at = firing.fire[-1] if firing.fire else entry.last_run_at
            if firing.missed:
                logger.warning(
                    "beat: schedule %s missed %d instant(s) (misfire policy %s)",
                    entry.name,
                    firing.missed,
                    entry.row.misfire_policy,
                )
            firings += [(entry.row, instant) for instant in firing.fire]
        for fired in self.jobsys.fire_schedules(firings):
            if fired.error is None:
                logger.info(
                    "beat: schedule %s fired for %s: run %s",
                    fired.schedule,
                    fired.instant,
                    fired.run_id,
                )
            else:
                logger.error("beat: schedule %s did not fire: %s", fired.schedule, fired.error)

    def _plan(self, entry: ScheduleEntry, now: datetime) -> Firing | None:
        """What fires for a due entry; None while overlap ``queue`` holds it."""
        row, settings = entry.row, self.jobsys.settings
        grace = settings.beat_misfire_grace
        if row.overlap_policy == OverlapPolicy.QUEUE.value:
            with self.jobsys.runtime.engine.connect() as conn:
                previous = schedules.last_run(conn, row.id)
            if previous is not None and previous.status not in _ENDED:
                entry.held = True
                return None
            if entry.held or _ended_after(previous, entry.next_at):
                grace = float("inf")  # held, not missed: it fires as on time
            entry.held = False
        return plan_firing(
            entry.timing,
            entry.next_at,
            now,
            policy=MisfirePolicy(row.misfire_policy),
            grace=grace,
            max_catchup=settings.beat_max_catchup,
        )

    def _claim(self, planned: list[tuple[ScheduleEntry, Firing]]) -> set[str]:
        """The schedule ids this beat won, claimed in one transaction."""
        shared: dict[tuple[datetime, datetime, datetime | None], list[str]] = defaultdict(list)
        for entry, firing in planned:
            fired = firing.fire[-1] if firing.fire else None
            shared[(entry.next_at, firing.next_at, fired)].append(entry.row.id)
        won: set[str] = set()
        with self.jobsys.runtime.engine.begin() as conn:
            for (due, next_at, fired), ids in shared.items():
                won |= schedules.claim_many(conn, ids, due, next_at, fired)
        return won


def _ended_after(previous: Any, due: datetime) -> bool:
    """Whether the previous run ended after ``due``: a queued firing waited for it."""
    ended = None if previous is None else previous.finished_at
    return ended is not None and ended > due


def bind(client: Client, clock: Callable[[], datetime] | None = None) -> type[DatabaseScheduler]:
    """A ``DatabaseScheduler`` class firing through ``client`` (what ``jobsys beat`` runs)."""
    attrs: dict[str, Any] = {"client": client}
    if clock is not None:
        attrs["clock_fn"] = staticmethod(clock)
    return type("BoundDatabaseScheduler", (DatabaseScheduler,), attrs)
