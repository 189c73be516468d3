"""``jobsys run`` as a user runs it on the embedded default: a worker process, a manifest
applied, the run waited for and shown, then retried from its failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobsys.testing import worker_process

from ._cli import Run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PIPELINE = Path(__file__).parents[2] / "config" / "manifests" / "demo-pipeline.job.yaml"
FAILING = """apiVersion: jobsys/v1
kind: Job
metadata: {name: fails-once}
params: {bad: 2}
steps:
  - name: count
    type: demo.count
    with: {n: 4}
  - name: square
    type: demo.square
    dependsOn: [count]
    forEach: "${{ steps.count.outputs.items }}"
    with: {x: "${{ item }}", fail_on: "${{ params.bad }}"}
  - name: report
    type: jobsys.noop
    dependsOn: [square]
"""


def test_run_a_manifest_on_the_embedded_default_and_retry_it(
    jobsys: Run, workdir: Path, tmp_path: Path
) -> None:
    home = workdir / ".jobsys"
    env = {"JOBSYS_HOME": str(home)}
    with worker_process(env, ["demo.basic@1", "jobsys.noop@1"], log_dir=tmp_path):
        assert jobsys("apply", "-f", str(PIPELINE), JOBSYS_HOME=str(home)).code == 0
        shown = jobsys("run", "demo-pipeline", "--wait", "--timeout", "60", JOBSYS_HOME=str(home))
        assert shown.code == 0, shown
        assert "demo-pipeline: COMPLETED" in shown.stdout
        for step in ("greet", "left", "right", "join"):
            assert step in shown.stdout

        (workdir / "fails.job.yaml").write_text(FAILING)
        assert jobsys("apply", "-f", "fails.job.yaml", JOBSYS_HOME=str(home)).code == 0
        failed = jobsys("run", "fails-once", "--wait", JOBSYS_HOME=str(home))
        assert failed.code == 7, failed
        assert "fails-once: PARTIAL" in failed.stdout
        assert "step 'square' failed: refusing to square 2" in failed.stdout
        run_id = failed.stdout.split()[1]

        dag = jobsys("dag", "fails-once", JOBSYS_HOME=str(home))
        assert "canvas: count -> square -> report" in dag.stdout

        # With a parameter that no item hits, only the failed item and `report` run again.
        retried = jobsys("runs", "retry", run_id[:8], JOBSYS_HOME=str(home))
        assert retried.code == 0, retried
        assert "2 job(s) re-queued" in retried.stdout
        shown = jobsys("runs", "show", run_id[:8], JOBSYS_HOME=str(home))
        assert "square" in shown.stdout
