"""Faults jobsys survives, each with 1,000 mixed jobs in flight on the loopback cluster.

Given a cluster (two beats, a data worker, a media worker) on a Redis of its own and a
store behind a proxy, when 1,000 jobs (a DAG run with a forEach, data parses, media
waveforms, echo, sleep and no-op jobs) are submitted and a fault strikes while they
run, then every job ends, none is lost, none takes visible effect twice, and the JobRun
history shows each lost attempt. Each scenario adds a line to the fault table.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from jobsys.client import Client
from jobsys.execution import dispatch
from jobsys.execution.sequencing import message_for
from jobsys.store.writes import groups, jobs
from tests.faults import harness
from tests.faults.conftest import STORE_PASSWORD, kill_9, logs, wait_for
from tests.faults.harness import record
from tests.faults.services import BlockableProxy, OwnRedis

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

#: seconds every scenario's jobs get to end after the fault
DEADLINE = 120


def _start(observer: Client, cluster: Any) -> harness.Workload:
    since = datetime.now(UTC)
    return harness.submit_mix(observer, cluster.inputs, since)


def _assert_survived(outcome: harness.Outcome, extra: int = 0) -> None:
    """Every job ended, none lost, none with visible effect twice (``extra``: jobs the
    scenario created besides the mix, such as a schedule's)."""
    assert outcome.submitted == harness.N + extra
    assert outcome.open_jobs == [], f"never ended: {outcome.open_detail[:5]}"
    assert outcome.groups_open == [], "a DAG run never ended"
    assert outcome.terminal == harness.N + extra
    assert outcome.completed_twice == [], "a job was recorded COMPLETED twice"
    assert outcome.rewritten == [], "a job's published files were written again"


def test_kill_9_of_worker_pool_processes_mid_job_loses_nothing(
    cluster: Any, observer: Client
) -> None:
    work = _start(observer, cluster)
    killed: list[tuple[str, int]] = []  # (job id, pid of the pool process that ran it)
    for _ in range(6):
        victim = wait_for(lambda: _running_child(observer, cluster, work), 30, "a job to run")
        kill_9(victim[1])
        killed.append((victim[0], victim[1].pid))
        time.sleep(1.0)  # let the pool replace the process; then strike again
    outcome = harness.wait_all_terminal(observer, work, DEADLINE)
    record("kill -9 of a pool process mid-job", f"{len(killed)} kills", outcome)
    _assert_survived(outcome)
    for job_id, pid in killed:  # each killed attempt is in the history, as lost
        history = [(r.status, r.error_type, r.worker_id) for r in outcome.runs_by_job[job_id]]
        lost = [h for h in history if h[1] == "WorkerLost" and h[2].endswith(f":{pid}")]
        finished_first = [h for h in history if h[0] != "FAILED" and h[2].endswith(f":{pid}")]
        assert lost or finished_first, f"job {job_id} killed on pid {pid}: {history}"
    assert outcome.lost_attempts, "no lost attempt recorded"


def _running_child(observer: Client, cluster: Any, work: harness.Workload) -> Any:
    """A pool process running one of the scenario's jobs right now, and that job.

    A long job (``demo.sleep``) is preferred: a kill then lands mid-job, not after it."""
    children = {
        p.pid: p for s in ("worker-data", "worker-media") for p in cluster.worker_children(s)
    }
    with observer.runtime.engine.connect() as conn:
        running = conn.execute(
            select(jobs.c.id, jobs.c.worker_id)
            .where(jobs.c.created_at >= work.since, jobs.c.status == "RUNNING")
            .order_by((jobs.c.job_type == "demo.sleep").desc())
        ).all()
    for job_id, worker_id in running:
        pid = int(worker_id.rsplit(":", 1)[1])
        if pid in children:
            return job_id, children[pid]
    return None


def test_redis_restarted_mid_run_loses_nothing(
    cluster: Any, observer: Client, own_redis: OwnRedis
) -> None:
    work = _start(observer, cluster)
    # Mid-run: the DAG's forEach has just expanded (its items and its chord are on Redis).
    wait_for(lambda: _expanded(observer, work.group_ids[0]), 60, "the forEach to expand")
    own_redis.restart(down_for=1.0)  # comes back empty: the queued messages are gone
    outcome = harness.wait_all_terminal(observer, work, DEADLINE)
    # A beat saw the broker come back empty and published the store's open jobs again.
    recovery = re.search(
        r"the broker lost its messages: published ([1-9]\d*) job\(s\) and (\d+) DAG step",
        logs(cluster, "beat"),
    )
    again = f"{recovery[1]} jobs, {recovery[2]} DAG steps republished" if recovery else "none"
    record("Redis restarted (empty) mid-run", f"1 restart ({again})", outcome)
    _assert_survived(outcome)
    assert recovery is not None, "no beat published the lost jobs again"


def _expanded(observer: Client, group_id: str) -> bool:
    with observer.runtime.engine.connect() as conn:
        return bool(
            conn.execute(
                select(func.count()).where(
                    jobs.c.group_id == group_id, jobs.c.item_index.is_not(None)
                )
            ).scalar_one()
        )


def test_postgresql_blocked_for_5_s_loses_nothing(
    cluster: Any, observer: Client, pg_proxy: BlockableProxy
) -> None:
    work = _start(observer, cluster)
    harness.wait_progress(observer, work, 150)
    pg_proxy.block(5.0)
    outcome = harness.wait_all_terminal(observer, work, DEADLINE)
    record("PostgreSQL unreachable for 5 s", "1 block (5 s)", outcome)
    _assert_survived(outcome)
    text = logs(cluster, "worker-data") + logs(cluster, "worker-media")
    # Said clearly, naming the write retried: a job's start or its JobRun.
    assert re.search(r"store unavailable, retrying the (start|JobRun) of job [0-9a-f-]{36}", text)
    assert STORE_PASSWORD not in text  # the store URL's password is never logged


def test_two_beats_never_fire_an_instant_twice(cluster: Any, observer: Client) -> None:
    observer.create_template("faults-tick", "jobsys.noop", {})
    schedule = observer.create_schedule("faults-every-second", "faults-tick", interval_seconds=1)
    work = _start(observer, cluster)
    assert len(cluster.processes("beat")) == 2

    def fired() -> list[Any]:
        with observer.runtime.engine.connect() as conn:
            return list(
                conn.execute(
                    select(groups.c.scheduled_for, func.count())
                    .where(groups.c.schedule_id == schedule.id)
                    .group_by(groups.c.scheduled_for)
                ).all()
            )

    wait_for(lambda: len(fired()) >= 3, 30, "the schedule to fire 3 times")
    kill_9(cluster.processes("beat")[0])  # one beat dies mid-run; both then restart
    cluster.restart("beat")
    before = len(fired())
    wait_for(lambda: len(fired()) >= before + 3, 30, "3 more firings after the restart")
    observer.disable_schedule(schedule.id)
    outcome = harness.wait_all_terminal(observer, work, DEADLINE, extra=len(fired()))
    instants = fired()
    fired_twice = [i for i, n in instants if n > 1]
    outcome.completed_twice += [str(i) for i in fired_twice]
    record(
        "two beats, a schedule every second", f"1 beat killed ({len(instants)} instants)", outcome
    )
    assert fired_twice == []
    _assert_survived(outcome, extra=sum(n for _, n in instants))


def test_a_duplicated_message_runs_once_and_is_recorded_skipped(
    cluster: Any, observer: Client
) -> None:
    work = _start(observer, cluster)
    echo = work.by_type["demo.echo"]
    early, late = echo[:100], echo[100:200]
    _publish_again(observer, early)  # while they are queued or running
    harness.wait_progress(observer, work, harness.N - 50)
    wait_for(lambda: _all_ended(observer, late), 60, "the late batch to end")
    _publish_again(observer, late)  # after they ended
    wait_for(lambda: len(_skipped(observer, early + late)) == 200, 60, "200 SKIPPED deliveries")
    outcome = harness.wait_all_terminal(observer, work, DEADLINE)
    record("same message delivered twice", "200 extra messages", outcome)
    _assert_survived(outcome)
    for job_id in early + late:
        history = [(r.status, r.error_type) for r in outcome.runs_by_job[job_id]]
        assert history == [("COMPLETED", None), ("SKIPPED", "DuplicateDelivery")], history
        assert observer.status(job_id).value == "COMPLETED"  # as the first delivery left it


def _publish_again(observer: Client, job_ids: list[str]) -> None:
    with observer.runtime.engine.connect() as conn:
        rows = conn.execute(select(jobs).where(jobs.c.id.in_(job_ids))).all()
    dispatch.publish(observer.runtime, [message_for(r) for r in rows])


def _all_ended(observer: Client, job_ids: list[str]) -> bool:
    with observer.runtime.engine.connect() as conn:
        states = conn.execute(select(jobs.c.status).where(jobs.c.id.in_(job_ids))).scalars()
        return all(s == "COMPLETED" for s in states)


def _skipped(observer: Client, job_ids: list[str]) -> list[Any]:
    from jobsys.store.writes import runs

    with observer.runtime.engine.connect() as conn:
        return list(
            conn.execute(
                select(runs.c.id).where(
                    runs.c.job_id.in_(job_ids), runs.c.error_type == "DuplicateDelivery"
                )
            ).all()
        )
