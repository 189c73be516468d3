"""History retention on the embedded store (SQLite): what ``prune`` removes and what it keeps.

Rows are inserted as the store's writers leave them (terminal jobs with their runs, sink
figures, log files; groups with their jobs and callbacks), at chosen ages. The 1,000,000-run
PostgreSQL test is tests/integration/test_retention_postgres.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, insert, select
from sqlalchemy.exc import DBAPIError

from jobsys.cli import main
from jobsys.client import Client
from jobsys.durations import format_duration, parse_duration
from jobsys.errors import ConfigError
from jobsys.lifecycle import JOB_TERMINAL, RunStatus
from jobsys.scheduling.beat import bind
from jobsys.settings import Settings, load_settings
from jobsys.store import maintenance
from jobsys.store.retention import PruneReport, callbacks, groups, jobs, prune, runs, sink_stats

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)
CUTOFF = NOW - timedelta(days=30)


class Store:
    """A client's store, with helpers inserting history rows at chosen ages."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.engine: Engine = client.runtime.engine
        self.logs = client.runtime.logs_root
        self.logs.mkdir(parents=True, exist_ok=True)

    def job(
        self,
        status: str,
        at: datetime,
        *,
        group: str | None = None,
        attempts: int = 1,
        sink_rows: int = 0,
        log: bool = False,
        run_log: Path | None = None,
        **fields: Any,
    ) -> str:
        """A job last changed at ``at`` with ``attempts`` runs (the last one decides it)."""
        job_id = str(uuid.uuid4())
        ended = status in {s.value for s in JOB_TERMINAL}
        row = {
            "id": job_id,
            "job_type": "demo.echo",
            "capability": "demo.basic@1",
            "status": status,
            "params": {"message": "hi"},
            "group_id": group,
            "attempt": attempts,
            "max_attempts": max(attempts, 1),
            "created_at": at - timedelta(minutes=5),
            "queued_at": at - timedelta(minutes=5),
            "started_at": at - timedelta(minutes=1) if attempts else None,
            "finished_at": at if ended else None,
            "updated_at": at,
            **fields,
        }
        log_path = self.logs / f"{job_id}.log"
        done = attempts if ended else attempts - 1  # a running attempt has no run yet
        run_rows = [
            {
                "id": str(uuid.uuid4()),
                "job_id": job_id,
                "attempt": n,
                "job_type": "demo.echo",
                "params_snapshot": {"message": "hi"},
                "status": _run_status(status) if n == attempts else RunStatus.FAILED.value,
                "started_at": at - timedelta(minutes=2),
                "finished_at": at,
                "duration_ms": 1000,
                "artifacts": {},
                "log_path": str(run_log or log_path) if log or run_log else None,
            }
            for n in range(1, done + 1)
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(jobs).values(row))
            if run_rows:
                conn.execute(insert(runs), run_rows)
            for _ in range(sink_rows):
                conn.execute(
                    insert(sink_stats).values(
                        job_id=job_id, sink_uri="file:///out", output="t", recorded_at=at, rows=5
                    )
                )
        if log:
            log_path.write_text("a log line\n")
        return job_id

    def group(self, status: str, at: datetime, *, callback: bool = False) -> str:
        """A group (batch or DAG run) whose last change was at ``at``."""
        group_id = str(uuid.uuid4())
        ended = status in ("COMPLETED", "PARTIAL", "CANCELLED")
        with self.engine.begin() as conn:
            conn.execute(
                insert(groups).values(
                    id=group_id,
                    name="run",
                    mode="parallel",
                    status=status,
                    created_at=at - timedelta(minutes=5),
                    started_at=at - timedelta(minutes=5),
                    finished_at=at if ended else None,
                    updated_at=at,
                )
            )
            if callback:
                conn.execute(
                    insert(callbacks).values(
                        id=str(uuid.uuid4()),
                        group_id=group_id,
                        event="completed",
                        kind="url",
                        target="http://127.0.0.1:1/hook",
                        spec={},
                        status="DELIVERED",
                        created_at=at,
                        updated_at=at,
                    )
                )
        return group_id

    def count(self, table: Table, **where: Any) -> int:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def ids(self, table: Table) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(table.c.id)).scalars())

    def prune(self, keep_failed: bool = False, **kwargs: Any) -> PruneReport:
        return prune(self.engine, CUTOFF, keep_failed, logs_root=self.logs, **kwargs)


def _run_status(job_status: str) -> str:
    return job_status if job_status in RunStatus.__members__ else RunStatus.FAILED.value


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Client(Settings(home=tmp_path / "home")) as client:
        yield Store(client)


def test_old_ended_jobs_go_with_their_runs_sink_figures_and_logs(
    store: Store, tmp_path: Path
) -> None:
    output = tmp_path / "outputs" / "report.csv"
    output.parent.mkdir()
    output.write_text("the user's data\n")
    outside = tmp_path / "elsewhere.log"
    outside.write_text("not in logs_root\n")
    gone = {
        store.job("COMPLETED", OLD, attempts=2, sink_rows=3, log=True, output_path=str(output)),
        store.job("FAILED", OLD, attempts=3, log=True),
        store.job("CANCELLED", OLD),
        store.job("SKIPPED", OLD),
        store.job("COMPLETED_WITH_WARNINGS", OLD, sink_rows=1),
    }
    gone.add(store.job("COMPLETED", OLD, run_log=outside))  # a log named outside logs_root
    recent = store.job("COMPLETED", RECENT, sink_rows=1, log=True)
    kept = {
        store.job("RUNNING", OLD, attempts=2),  # a stuck attempt: never touched
        store.job("QUEUED", OLD, attempts=0),
        store.job("PENDING", OLD, attempts=0),
        store.job("FAILED", CUTOFF + timedelta(seconds=1)),
        recent,
    }

    report = store.prune()

    assert store.ids(jobs) == kept and not gone & kept
    assert (report.jobs, report.runs, report.sink_stats, report.log_files) == (6, 9, 4, 2)
    assert store.count(runs) == 1 + 1 + 1  # RUNNING's first attempt, the two recent jobs
    assert store.count(sink_stats) == 1
    assert [p.stem for p in store.logs.glob("*.log")] == [recent]
    assert output.read_text() == "the user's data\n"  # published outputs are the user's
    assert outside.exists()


def test_keep_failed_keeps_failed_jobs_with_their_runs(store: Store) -> None:
    failed = store.job("FAILED", OLD, attempts=3, log=True)
    store.job("COMPLETED", OLD)
    store.job("CANCELLED", OLD)

    report = store.prune(keep_failed=True)

    assert store.ids(jobs) == {failed}
    assert store.count(runs, job_id=failed) == 3
    assert (store.logs / f"{failed}.log").exists()
    assert (report.jobs, report.keep_failed) == (2, True)
    assert store.prune().jobs == 1  # without the flag it goes


def _group_of(store: Store, status: str, at: datetime, members: list[tuple[str, datetime]]) -> str:
    group = store.group(status, at, callback=True)
    for job_status, job_at in members:
        store.job(job_status, job_at, group=group, sink_rows=1)
    return group


def test_a_group_goes_whole_or_not_at_all(store: Store) -> None:
    done = _group_of(store, "COMPLETED", OLD, [("COMPLETED", OLD)] * 3)
    partial = _group_of(store, "PARTIAL", OLD, [("COMPLETED", OLD), ("FAILED", OLD)])
    one_recent = _group_of(store, "PARTIAL", OLD, [("COMPLETED", OLD), ("FAILED", RECENT)])
    running = _group_of(store, "RUNNING", OLD, [("COMPLETED", OLD), ("RUNNING", OLD)])
    unsettled = _group_of(store, "RUNNING", OLD, [("COMPLETED", OLD), ("COMPLETED", OLD)])
    reopened = _group_of(store, "QUEUED", OLD, [("COMPLETED", OLD), ("QUEUED", RECENT)])
    empty = store.group("CANCELLED", OLD)
    lonely = store.job("COMPLETED", OLD)
    sizes = {g: store.count(jobs, group_id=g) for g in store.ids(groups)}

    report = store.prune(keep_failed=True)

    kept = {partial, one_recent, running, unsettled, reopened}
    assert store.ids(groups) == kept
    assert lonely not in store.ids(jobs)
    for group in kept:  # every remaining group still has all its jobs, callbacks, figures
        assert store.count(jobs, group_id=group) == sizes[group]
        assert store.count(callbacks, group_id=group) == 1
    assert store.count(jobs, group_id=done) == 0
    assert (report.groups, report.jobs, report.callbacks) == (2, 3 + 1, 1)
    assert report.sink_stats == 3 and empty not in store.ids(groups)

    assert store.prune().groups == 1  # without --keep-failed the partial run goes too
    assert partial not in store.ids(groups)


def test_batch_boundaries_lose_nothing_and_keep_each_batch_small(store: Store) -> None:
    tied = [store.job("COMPLETED", OLD) for _ in range(7)]  # one updated_at: keyset ties
    kept = [store.job("FAILED", OLD) for _ in range(4)]  # interleaved with what goes
    spread = [store.job("COMPLETED", OLD + timedelta(hours=h)) for h in range(3)]
    small = [_group_of(store, "COMPLETED", OLD, [("COMPLETED", OLD)] * 2) for _ in range(4)]
    large = _group_of(store, "COMPLETED", OLD, [("SKIPPED", OLD)] * 5)

    report = store.prune(keep_failed=True, batch_size=3)

    assert store.ids(jobs) == set(kept)
    assert not store.ids(groups) & {large, *small}
    assert report.jobs == len(tied) + len(spread) + 4 * 2 + 5
    # 10 lone jobs in 3+3+3+1; groups of 2 one by one (2+2 > 3), the group of 5 alone
    assert report.batches == 4 + 5
    assert store.prune(keep_failed=True, batch_size=1).jobs == 0


def test_a_dry_run_reports_what_a_prune_removes_and_removes_nothing(store: Store) -> None:
    for status in ("COMPLETED", "FAILED", "CANCELLED"):
        store.job(status, OLD, attempts=2, sink_rows=2, log=True)
    store.job("RUNNING", OLD, attempts=2)
    _group_of(store, "COMPLETED", OLD, [("COMPLETED", OLD)] * 3)
    _group_of(store, "PARTIAL", OLD, [("FAILED", RECENT)])
    before = {t.name: store.count(t) for t in (jobs, runs, groups, sink_stats, callbacks)}
    logs = sorted(store.logs.glob("*.log"))

    dry = store.prune(dry_run=True, batch_size=2)

    assert {t.name: store.count(t) for t in (jobs, runs, groups, sink_stats, callbacks)} == before
    assert sorted(store.logs.glob("*.log")) == logs
    assert dry.summary().startswith("would remove 6 jobs, 9 runs, 1 groups")
    real = store.prune(batch_size=2)
    compared = ("jobs", "runs", "groups", "sink_stats", "callbacks", "log_files")
    assert [getattr(dry, k) for k in compared] == [getattr(real, k) for k in compared]
    assert real.log_files == 3 and not list(store.logs.glob("*.log"))


def test_remaining_runs_stay_append_only(store: Store) -> None:
    store.job("COMPLETED", OLD)
    kept = store.job("COMPLETED", RECENT)
    store.prune()
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(runs.update().where(runs.c.job_id == kept).values(status="FAILED"))
    assert store.count(runs, job_id=kept, status="COMPLETED") == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [("90m", timedelta(minutes=90)), ("12h", timedelta(hours=12)), ("30d", timedelta(days=30)),
     ("2W", timedelta(weeks=2)), (" 45s ", timedelta(seconds=45))],
)  # fmt: skip
def test_durations(given: str, expected: timedelta) -> None:
    assert parse_duration(given) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("bad", ["30", "d", "30x", "-3d", "1.5h", "0d", "30 days", ""])
def test_a_bad_duration_is_refused_by_the_cli_with_exit_2(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["history", "prune", "--older-than", bad])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--older-than'" in err and "Traceback" not in err
    assert not Path(".jobsys").exists()  # refused before the store was opened


def test_the_cli_prunes_and_says_what_it_removed(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBSYS_HOME", str(store.client.settings.home))
    store.job("COMPLETED", OLD, attempts=2, log=True)
    kept = store.job("FAILED", OLD)
    for args, said in (
        (["--dry-run"], "would remove 2 jobs, 3 runs"),
        (["--keep-failed", "--batch-size", "1"], "removed 1 jobs, 2 runs, 0 groups"),
    ):
        with pytest.raises(SystemExit) as exited:
            main(["history", "prune", "--older-than", "30d", *args])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(said) and "1 log files" in out
    assert store.ids(jobs) == {kept}
    with pytest.raises(SystemExit):
        main(["history", "stats"])
    out = capsys.readouterr().out
    assert "job_runs" in out and "oldest ended job" in out


def test_the_retention_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().retention_period == timedelta(days=30)
    assert Settings(history_retention="0").retention_period is None
    assert Settings(history_retention="").retention_period is None
    monkeypatch.setenv("JOBSYS_HISTORY_RETENTION", "a month")
    with pytest.raises(ConfigError, match="JOBSYS_HISTORY_RETENTION.*not a duration"):
        load_settings()


# --- the daily prune in beat -----------------------------------------------------------------


def test_only_one_claim_of_the_daily_prune_wins_per_day(store: Store) -> None:
    day = timedelta(days=1)
    engine = store.engine
    assert maintenance.claim(engine, "history_prune", NOW, day, "beat-a") is True
    assert maintenance.claim(engine, "history_prune", NOW, day, "beat-b") is False
    assert maintenance.claim(engine, "history_prune", NOW + day / 2, day, "beat-b") is False
    assert maintenance.claim(engine, "history_prune", NOW + day, day, "beat-b") is True
    assert maintenance.last(engine, "history_prune").owner == "beat-b"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_beat_prunes_once_a_day_and_two_beats_prune_once(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", history_retention="30d")
    clock = Clock(NOW)
    with Client(settings) as one, Client(settings) as other:
        store = Store(one)
        first = store.job("COMPLETED", OLD)
        a = bind(one, clock)(app=one.runtime.app)
        b = bind(other, clock)(app=other.runtime.app)
        try:
            a.tick()
            a.history_pruner.join(30)
            assert first not in store.ids(jobs)
            report = maintenance.last(store.engine, "history_prune").report
            assert report["jobs"] == 1 and report["summary"].startswith("removed 1 jobs")

            second = store.job("COMPLETED", OLD)
            b.tick()  # the other beat: today's prune is claimed already
            b.history_pruner.join(30)
            clock.now += timedelta(hours=12)
            a.tick()
            a.history_pruner.join(30)
            assert second in store.ids(jobs)

            clock.now += timedelta(hours=12)
            b.tick()  # a day after the first: due again, and b wins it
            b.history_pruner.join(30)
            assert second not in store.ids(jobs)
            assert maintenance.last(store.engine, "history_prune").owner == b.history_pruner.owner
        finally:
            a.close()
            b.close()


def test_beat_does_not_prune_when_retention_is_off(tmp_path: Path) -> None:
    with Client(Settings(home=tmp_path / "home", history_retention="0")) as client:
        store = Store(client)
        old = store.job("COMPLETED", OLD)
        scheduler = bind(client, Clock(NOW))(app=client.runtime.app)
        scheduler.tick()
        scheduler.history_pruner.join(30)
        scheduler.close()
        assert old in store.ids(jobs)
        assert maintenance.last(store.engine, "history_prune") is None
