"""History retention: remove old ended jobs with their runs, sink figures, groups and logs.

What goes (``prune``):

- a job outside any group, once it is terminal and its last activity (``updated_at``,
  which every write of a job row sets) is older than the cutoff; with ``keep_failed``,
  FAILED jobs stay;
- with each job: its runs (``job_runs``), its sink figures (``sink_stats``) and its log
  files under ``logs_root`` (``<job_id>.log`` and each run's ``log_path`` inside it);
- a group (a batch or a DAG run) with all its jobs and callback deliveries, once the group
  is ended (COMPLETED, PARTIAL or CANCELLED), its own last change is older than the
  cutoff and every one of its jobs may go. A group is never left with part of its jobs,
  so its counts and derived state stay true for what remains, and no job of a group
  that is still running is touched.

Never touched: non-terminal jobs, templates, schedules, and published outputs (the
user's data: ``output_path`` files stay where they are).

Batches: each batch is one short transaction of at most ``batch_size`` jobs (or, for
groups, whole groups up to about that many jobs). Rows are selected by keyset (the
``updated_at`` index, then group ids), locked and re-checked in the same transaction
(PostgreSQL ``FOR UPDATE SKIP LOCKED``, SQLite ``BEGIN IMMEDIATE``), so a job retried
while the prune runs is either removed before the retry (which then finds no job) or
kept, and a row another transaction holds is skipped, not waited for. Readers are never
blocked: PostgreSQL readers see the rows until the batch commits, SQLite readers in WAL
mode likewise; SQLite writers wait at most one batch.

``job_runs`` stays append-only: its triggers refuse UPDATE, not DELETE, and prune only
deletes whole runs of whole jobs, never changes one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from jobsys.lifecycle import GROUP_TERMINAL, JOB_TERMINAL, JobState
from jobsys.store.models import CallbackDelivery, Job, JobGroup, JobRun, SinkStat

jobs = cast(Table, Job.__table__)
runs = cast(Table, JobRun.__table__)
groups = cast(Table, JobGroup.__table__)
sink_stats = cast(Table, SinkStat.__table__)
callbacks = cast(Table, CallbackDelivery.__table__)

log = logging.getLogger(__name__)

#: jobs per batch: a few thousand keeps each transaction well under a second
DEFAULT_BATCH_SIZE = 2000
_GROUP_ENDED = [s.value for s in GROUP_TERMINAL]


@dataclass
class PruneReport:
    """What a prune removed (or, with ``dry_run``, would remove)."""

    cutoff: datetime
    keep_failed: bool
    dry_run: bool
    jobs: int = 0
    runs: int = 0
    groups: int = 0
    #: ``sink_stats`` rows (the sink figures the jobs view and /metrics read)
    sink_stats: int = 0
    callbacks: int = 0
    log_files: int = 0
    batches: int = 0
    seconds: float = 0.0
    #: log files that could not be removed (permission, I/O), with the reason
    log_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        data = asdict(self)
        data["cutoff"] = self.cutoff.isoformat()
        data["seconds"] = round(self.seconds, 3)
        return data

    def summary(self) -> str:
        """One line: ``removed 12 jobs, 30 runs, ... in 0.4 s``."""
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{verb} {self.jobs} jobs, {self.runs} runs, {self.groups} groups, "
            f"{self.sink_stats} metric rows (sink_stats), {self.callbacks} callback deliveries, "
            f"{self.log_files} log files in {self.seconds:.1f} s ({self.batches} batches; "
            f"last activity before {self.cutoff.isoformat(timespec='seconds')}"
            f"{', FAILED jobs kept' if self.keep_failed else ''})"
        )


@dataclass(frozen=True)
class _Rule:
    """Which jobs may go: the statuses and the cutoff."""

    cutoff: datetime
    statuses: frozenset[str]

    def job_ok(self) -> ColumnElement[bool]:
        return and_(jobs.c.status.in_(sorted(self.statuses)), jobs.c.updated_at < self.cutoff)

    def row_ok(self, row: Any) -> bool:
        return bool(row.status in self.statuses and row.updated_at < self.cutoff)

    def group_ok(self) -> ColumnElement[bool]:
        blocker = select(jobs.c.id).where(jobs.c.group_id == groups.c.id, not_(self.job_ok()))
        return and_(
            groups.c.status.in_(_GROUP_ENDED),
            groups.c.updated_at < self.cutoff,
            or_(groups.c.finished_at.is_(None), groups.c.finished_at < self.cutoff),
            not_(exists(blocker)),
        )


@dataclass
class _Batch:
    """One batch's removals, and the log files to delete once it commits."""

    report: PruneReport
    logs_root: Path | None
    files: set[Path] = field(default_factory=set)


def prune(
    engine: Engine,
    cutoff: datetime,
    keep_failed: bool = False,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    logs_root: Path | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PruneReport:
    """Remove the history whose last activity is older than ``cutoff`` (see the module doc).

    ``logs_root``: where per-job logs live (None: leave log files alone). ``should_stop``
    is asked between batches (beat stopping): what is done so far stays done.
    """
    if cutoff.tzinfo is None:
        raise ValueError("cutoff must be timezone-aware")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    statuses = {s.value for s in JOB_TERMINAL}
    if keep_failed:
        statuses.discard(JobState.FAILED.value)
    rule = _Rule(cutoff, frozenset(statuses))
    report = PruneReport(cutoff, keep_failed, dry_run)
    # No logs directory (logs kept elsewhere, or none written yet): no files to look for.
    root = logs_root.resolve() if logs_root is not None and logs_root.is_dir() else None
    stop = should_stop or (lambda: False)
    started = time.monotonic()
    with engine.connect() as conn:
        for step in (_standalone_batches, _group_batches):
            for _ in step(conn, rule, batch_size, _Batch(report, root)):
                report.batches += 1
                if stop():
                    break
            if stop():
                break
    report.seconds = time.monotonic() - started
    return report


# --- batches -------------------------------------------------------------------------------


@contextmanager
def _transaction(conn: Connection, write: bool) -> Iterator[None]:
    """One short transaction; on SQLite a writing one takes the write lock first."""
    if write and conn.dialect.name == "sqlite":
        # Locks first, then reads: nothing can change what was selected before it goes.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def _standalone_batches(
    conn: Connection, rule: _Rule, batch_size: int, batch: _Batch
) -> Iterator[None]:
    """Jobs outside groups, oldest first, ``batch_size`` per transaction."""
    after: tuple[datetime, str] | None = None
    while True:
        query = select(jobs.c.id, jobs.c.updated_at).where(jobs.c.group_id.is_(None), rule.job_ok())
        if after is not None:
            # ">=" apart from the OR, so that the index scan starts at the last batch's end
            query = query.where(
                jobs.c.updated_at >= after[0],
                or_(jobs.c.updated_at > after[0], jobs.c.id > after[1]),
            )
        query = query.order_by(jobs.c.updated_at, jobs.c.id).limit(batch_size)
        if not batch.report.dry_run:
            query = query.with_for_update(skip_locked=True)
        with _transaction(conn, not batch.report.dry_run):
            rows = conn.execute(query).all()
            if rows:
                _remove_jobs(conn, [r.id for r in rows], batch)
        _unlink(batch)
        if len(rows) < batch_size:
            if rows:
                yield
            return
        after = (rows[-1].updated_at, rows[-1].id)
        yield


def _group_batches(conn: Connection, rule: _Rule, batch_size: int, batch: _Batch) -> Iterator[None]:
    """Whole groups, by id, up to about ``batch_size`` jobs per transaction."""
    after = ""
    while True:
        with _transaction(conn, not batch.report.dry_run):
            candidates = list(
                conn.execute(
                    select(groups.c.id)
                    .where(rule.group_ok(), groups.c.id > after)
                    .order_by(groups.c.id)
                    .limit(batch_size)
                ).scalars()
            )
            if not candidates:
                return
            chosen = _fill(conn, candidates, batch_size)
            after = chosen[-1]
            members = _lock_groups(conn, rule, chosen, batch.report.dry_run)
            if members:
                job_ids = [j for ids in members.values() for j in ids]
                _remove_jobs(conn, job_ids, batch)
                gids = sorted(members)
                batch.report.callbacks += _remove(
                    conn, callbacks, callbacks.c.group_id.in_(gids), batch
                )
                batch.report.groups += _remove(conn, groups, groups.c.id.in_(gids), batch)
        _unlink(batch)
        yield


def _fill(conn: Connection, candidates: Sequence[str], batch_size: int) -> list[str]:
    """The first candidates whose jobs add up to at most ``batch_size`` (at least one)."""
    sizes = _sizes(conn, candidates)
    chosen: list[str] = []
    total = 0
    for gid in candidates:
        total += sizes.get(gid, 0)
        if chosen and total > batch_size:
            break
        chosen.append(gid)
    return chosen


def _sizes(conn: Connection, group_ids: Sequence[str]) -> dict[str, int]:
    """How many jobs each group has."""
    query = (
        select(jobs.c.group_id, func.count())
        .where(jobs.c.group_id.in_(list(group_ids)))
        .group_by(jobs.c.group_id)
    )
    return {gid: int(n) for gid, n in conn.execute(query).all()}


def _lock_groups(
    conn: Connection, rule: _Rule, chosen: Sequence[str], dry_run: bool
) -> dict[str, list[str]]:
    """The groups (with their job ids) that may still go, locked with their jobs.

    A group or job another transaction holds is skipped (retried by the next prune), and
    a group with any job that may not go any more (a retry re-queued it) is kept.
    """
    group_query = select(groups.c.id).where(groups.c.id.in_(list(chosen)), rule.group_ok())
    job_query = select(jobs.c.id, jobs.c.group_id, jobs.c.status, jobs.c.updated_at)
    if not dry_run:
        group_query = group_query.with_for_update(skip_locked=True)
        job_query = job_query.with_for_update(skip_locked=True)
    locked = list(conn.execute(group_query).scalars())
    if not locked:
        return {}
    sizes = _sizes(conn, locked)
    members: dict[str, list[str]] = {gid: [] for gid in locked}
    bad: set[str] = set()
    for row in conn.execute(job_query.where(jobs.c.group_id.in_(locked))):
        members[row.group_id].append(row.id)
        if not rule.row_ok(row):
            bad.add(row.group_id)
    return {
        gid: ids for gid, ids in members.items() if gid not in bad and len(ids) == sizes.get(gid, 0)
    }


def _remove_jobs(conn: Connection, job_ids: Sequence[str], batch: _Batch) -> None:
    """Remove jobs with their sink figures and runs (children first), noting their logs."""
    report = batch.report
    report.sink_stats += _remove(
        conn, sink_stats, _among(conn, sink_stats.c.job_id, job_ids), batch
    )
    of_jobs = _among(conn, runs.c.job_id, job_ids)
    if batch.logs_root is None:
        report.runs += _remove(conn, runs, of_jobs, batch)
    else:
        if report.dry_run:
            report.runs += _remove(conn, runs, of_jobs, batch)
            named = conn.execute(select(runs.c.log_path).where(of_jobs)).scalars().all()
        else:
            named = (
                conn.execute(delete(runs).where(of_jobs).returning(runs.c.log_path)).scalars().all()
            )
            report.runs += len(named)
        _note_logs(job_ids, named, batch)
    report.jobs += _remove(conn, jobs, _among(conn, jobs.c.id, job_ids), batch)


def _among(conn: Connection, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL one array parameter instead of thousands."""
    if conn.dialect.name == "postgresql":
        return cast(
            ColumnElement[bool], column == any_(bindparam(None, list(values), ARRAY(String)))
        )
    return cast(ColumnElement[bool], column.in_(list(values)))


def _remove(conn: Connection, table: Table, where: ColumnElement[bool], batch: _Batch) -> int:
    """Delete the matching rows and return how many; in a dry run only count them."""
    if batch.report.dry_run:
        return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())
    return int(conn.execute(delete(table).where(where)).rowcount)


# --- log files -----------------------------------------------------------------------------


def _note_logs(job_ids: Sequence[str], named: Sequence[str | None], batch: _Batch) -> None:
    """Remember the log files of these jobs (``<id>.log`` and their runs' own) in logs_root."""
    root = batch.logs_root
    assert root is not None
    inside: dict[Path, bool] = {root: True}
    paths = {root / f"{job_id}.log" for job_id in job_ids}
    paths.update(Path(p) for p in named if p)
    for path in paths:
        # Only inside logs_root, and the entry itself (a symlink is removed, not followed).
        parent = path.parent
        if parent not in inside:
            inside[parent] = parent.resolve().is_relative_to(root)
        if inside[parent] and path.is_file():
            batch.files.add(path)


def _unlink(batch: _Batch) -> None:
    """Delete (or, in a dry run, count) the noted log files, once their rows are gone."""
    for path in sorted(batch.files):
        if batch.report.dry_run:
            batch.report.log_files += 1
            continue
        try:
            path.unlink()
            batch.report.log_files += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            batch.report.log_errors.append(f"{path}: {exc.strerror or exc}")
            log.warning("history prune: cannot remove log file %s: %s", path, exc)
    batch.files.clear()
