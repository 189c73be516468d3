"""A mixed workload of 1,000 jobs, and what a scenario's store says about it afterwards.

The mix (``submit_mix``): a DAG run of seed 000's pipeline (SCAN → forEach PARSE →
EXPORT) over small FIX logs; ``data.parse`` jobs of their own; ``generate_audio_waveform``
jobs on a tiny generated clip (one asset each); ``demo.echo`` jobs (each publishes a
file); a few ``demo.sleep`` jobs (long enough to be killed mid-job); ``jobsys.noop`` for
the rest.

``Outcome.of`` reads every job the scenario created (``created_at`` after it began) and
its runs: terminal or not, COMPLETED runs per job, published files written after the
job's completion was recorded (a second execution's visible effect), lost attempts
(FAILED runs ``WorkerLost``) and duplicate deliveries (SKIPPED runs
``DuplicateDelivery``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from jobsys.client import Client
from jobsys.lifecycle import GROUP_TERMINAL, JOB_TERMINAL
from jobsys.store.writes import groups, jobs, runs
from jobsys.testing import wait_until
from tasks.data import samples

N = 1_000
MANIFEST = Path(__file__).parents[2] / "config" / "manifests" / "fix-pipeline.job.yaml"
DAG_FILES = 20
#: jobs in a DAG run of DAG_FILES files: scan, the forEach step, its items, export
DAG_JOBS = DAG_FILES + 3
MIX = {"data.parse": 30, "generate_audio_waveform": 30, "demo.echo": 200, "demo.sleep": 8}
_TERMINAL = [s.value for s in JOB_TERMINAL]
_COMPLETED = ("COMPLETED", "COMPLETED_WITH_WARNINGS")


@dataclass
class Workload:
    """What one scenario submitted."""

    since: datetime
    job_ids: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    by_type: dict[str, list[str]] = field(default_factory=dict)


def prepare_inputs(root: Path) -> dict[str, Any]:
    """The files the mix reads: FIX logs for the DAG and the parses, one tiny clip."""
    from tests.jobtypes.media.synth import make_clip

    dag_logs = root / "dag_logs"
    for i in range(DAG_FILES):
        samples.write_fix_log(dag_logs / f"venue_{i}.log", 10, seed=i, delimiter="|")
    logs = [
        samples.write_fix_log(root / "logs" / f"log_{i}.log", 10, seed=100 + i, delimiter="|")
        for i in range(MIX["data.parse"])
    ]
    clip = make_clip(root / "clip.mp4")
    return {"dag_root": str(dag_logs), "logs": [str(p) for p in logs], "clip": str(clip)}


def submit_mix(client: Client, inputs: dict[str, Any], since: datetime) -> Workload:
    """Submit the 1,000 jobs (the DAG's items appear once its scan has run)."""
    work = Workload(since)
    items: dict[str, list[dict[str, Any]]] = {
        # first: the long jobs run while the kill scenario strikes
        "demo.sleep": [{"seconds": 2.0}] * MIX["demo.sleep"],
        "data.parse": [{"path": p, "parser": "fix"} for p in inputs["logs"]],
        "generate_audio_waveform": [
            {"asset_uuid": str(uuid.uuid4()), "source_path": inputs["clip"]}
            for _ in range(MIX["generate_audio_waveform"])
        ],
        "demo.echo": [{"message": f"m{i}", "times": 1} for i in range(MIX["demo.echo"])],
    }
    items["jobsys.noop"] = [{}] * (N - DAG_JOBS - sum(MIX.values()))
    for job_type, batch in items.items():
        handles = client.submit_many(job_type, batch)
        work.by_type[job_type] = [h.id for h in handles]
        work.job_ids += work.by_type[job_type]
    # The DAG run last: its forEach items queue behind the rest, so a fault finds it mid-run.
    work.group_ids.append(
        client.run_template("fix-pipeline", {"root": inputs["dag_root"], "bates_prefix": "F"})
    )
    return work


@dataclass
class Outcome:
    """What the store says about a scenario's jobs."""

    submitted: int
    terminal: int
    open_jobs: list[str]
    #: (id, job type, status, attempt, worker) of each job that has not ended
    open_detail: list[tuple[Any, ...]]
    completed_twice: list[str]
    rewritten: list[str]
    lost_attempts: list[Any]
    duplicate_deliveries: list[Any]
    runs_by_job: dict[str, list[Any]]
    groups_open: list[str]

    @property
    def lost(self) -> int:
        """Jobs (or runs) that never ended."""
        return len(self.open_jobs) + len(self.groups_open)

    @property
    def duplicates(self) -> int:
        """Jobs whose work took visible effect twice."""
        return len(set(self.completed_twice) | set(self.rewritten))

    @classmethod
    def of(cls, client: Client, work: Workload) -> Outcome:
        """Read the scenario's jobs and runs from the store."""
        with client.runtime.engine.connect() as conn:
            rows = conn.execute(select(jobs).where(jobs.c.created_at >= work.since)).all()
            ids = [r.id for r in rows]
            run_rows = conn.execute(
                select(runs).where(runs.c.job_id.in_(ids)).order_by(runs.c.attempt)
            ).all()
            group_rows = conn.execute(
                select(groups.c.id, groups.c.status).where(groups.c.id.in_(work.group_ids))
            ).all()
        by_job: dict[str, list[Any]] = {}
        for r in run_rows:
            by_job.setdefault(r.job_id, []).append(r)
        done = Counter(r.job_id for r in run_rows if r.status in _COMPLETED)
        return cls(
            submitted=len(rows),
            terminal=sum(r.status in _TERMINAL for r in rows),
            open_jobs=[r.id for r in rows if r.status not in _TERMINAL],
            open_detail=[
                (r.id, r.job_type, r.status, r.attempt, r.worker_id, r.step)
                for r in rows
                if r.status not in _TERMINAL
            ],
            completed_twice=[j for j, n in done.items() if n > 1],
            rewritten=[r.id for r in rows if _rewritten(r, by_job.get(r.id, []))],
            lost_attempts=[r for r in run_rows if r.error_type == "WorkerLost"],
            duplicate_deliveries=[r for r in run_rows if r.error_type == "DuplicateDelivery"],
            runs_by_job=by_job,
            groups_open=[
                g.id for g in group_rows if g.status not in {s.value for s in GROUP_TERMINAL}
            ],
        )


def _rewritten(job: Any, job_runs: list[Any]) -> bool:
    """Whether a published file of the job was written after its completion was recorded."""
    finished = [r.finished_at for r in job_runs if r.status in _COMPLETED]
    if not finished or not job.output_path or not Path(job.output_path).is_dir():
        return False
    recorded = min(finished).timestamp() + 1.0  # the rename precedes the record
    return any(
        f.stat().st_mtime > recorded for f in Path(job.output_path).rglob("*") if f.is_file()
    )


HEADER = (
    "scenario",
    "faults injected",
    "jobs submitted",
    "jobs terminal",
    "jobs lost",
    "duplicates with visible effect",
    "lost attempts recorded",
    "deliveries SKIPPED",
)


@dataclass
class FaultRow:
    """One line of the fault table."""

    scenario: str
    faults: str
    outcome: Outcome

    def cells(self) -> tuple[str, ...]:
        """The line's cells, as text."""
        o = self.outcome
        return (
            self.scenario,
            self.faults,
            str(o.submitted),
            str(o.terminal),
            str(o.lost),
            str(o.duplicates),
            str(len(o.lost_attempts)),
            str(len(o.duplicate_deliveries)),
        )


ROWS: list[FaultRow] = []


def record(scenario: str, faults: str, outcome: Outcome) -> None:
    """Add a scenario's line to the fault table."""
    ROWS.append(FaultRow(scenario, faults, outcome))


def table() -> list[str]:
    """The fault table, aligned: a header, a rule, one line per scenario."""
    cells = [HEADER, *(r.cells() for r in ROWS)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return lines


def wait_all_terminal(client: Client, work: Workload, timeout: float, extra: int = 0) -> Outcome:
    """Wait until every job the scenario created (the mix, and ``extra`` others), and its
    DAG run, has ended."""

    def settled() -> Outcome | None:
        outcome = Outcome.of(client, work)
        return outcome if outcome.submitted >= N + extra and outcome.lost == 0 else None

    try:
        return wait_until(settled, timeout, 0.5, "every job of the scenario to end")
    except AssertionError:
        return Outcome.of(client, work)


def wait_progress(client: Client, work: Workload, ended: int, timeout: float = 60) -> None:
    """Wait until ``ended`` of the scenario's jobs have ended (the fault then hits mid-run)."""

    def count() -> bool:
        with client.runtime.engine.connect() as conn:
            rows = conn.execute(
                select(jobs.c.status).where(jobs.c.created_at >= work.since)
            ).scalars()
            return sum(s in _TERMINAL for s in rows) >= ended

    wait_until(count, timeout, 0.2, f"{ended} jobs to end")


def ago(seconds: float) -> timedelta:
    """A duration (for readability at call sites)."""
    return timedelta(seconds=seconds)
