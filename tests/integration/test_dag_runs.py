"""DAG runs on real workers (Redis + PostgreSQL): fan-out, fan-in, forEach, failure
short-circuit, trigger rules, branches, a non-series-parallel DAG, retry from failure."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobsys.client import Client
from jobsys.lifecycle import GroupState
from jobsys.testing import WorkerProcess

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]
CAPS = ["demo.basic@1", "jobsys.noop@1"]


def manifest(name: str, steps: str, params: str = "") -> str:
    """A manifest document (steps given as YAML, indented by two spaces)."""
    return f"apiVersion: jobsys/v1\nkind: Job\nmetadata:\n  name: {name}\n{params}steps:\n{steps}"


def run(client: Client, text: str, name: str, **params: object) -> tuple[str, dict[str, list]]:
    report = client.apply(text=text)
    assert all(c.verb in ("created", "updated", "unchanged") for c in report.changes), report
    group_id = client.run_template(name, params)
    client.wait_group(group_id, 60)
    steps: dict[str, list] = {}
    for row in client.run_tasks(group_id):
        steps.setdefault(row.step, []).append(row)
    return group_id, steps


def status(steps: dict[str, list], name: str) -> str:
    return steps[name][0].status


def test_fan_out_then_fan_in_passes_outputs_downstream(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker(CAPS, concurrency=2)
    text = manifest(
        "diamond",
        """  - name: greet
    type: demo.echo
    with: {message: "${{ params.word }}"}
    next: [left, right]
  - name: left
    type: demo.echo
    with: {message: "left saw ${{ steps.greet.outputs.file }}"}
  - name: right
    type: demo.echo
    with: {message: "right", times: "${{ steps.greet.outputs.lines }}"}
  - name: join
    type: jobsys.noop
    dependsOn: [left, right]
""",
        "params:\n  word: hello\n",
    )
    group_id, steps = run(client, text, "diamond", word="bonjour")
    group, _ = client.group(group_id)
    assert group.status == GroupState.COMPLETED
    assert {n: status(steps, n) for n in steps} == dict.fromkeys(
        ["greet", "left", "right", "join"], "COMPLETED"
    )
    assert steps["greet"][0].params == {"message": "bonjour", "times": 1}
    assert steps["left"][0].params["message"] == "left saw echo.txt"
    assert steps["right"][0].params["times"] == 1
    join, left, right = steps["join"][0], steps["left"][0], steps["right"][0]
    assert join.started_at >= max(left.finished_at, right.finished_at)


def test_for_each_fans_out_over_a_produced_list_and_joins(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker(CAPS, concurrency=2)
    text = manifest(
        "squares",
        """  - name: count
    type: demo.count
    with: {n: 100}
  - name: square
    type: demo.square
    dependsOn: [count]
    forEach: "${{ steps.count.outputs.items }}"
    with: {x: "${{ item }}"}
  - name: done
    type: jobsys.noop
    dependsOn: [square]
""",
    )
    group_id, steps = run(client, text, "squares")
    assert client.group(group_id)[0].status == GroupState.COMPLETED
    items = steps["square"][1:]
    assert len(items) == 100
    assert [r.outputs["square"] for r in items] == [i * i for i in range(100)]
    assert steps["square"][0].outputs == {"items": 100}
    assert steps["done"][0].started_at >= max(r.finished_at for r in items)


def test_a_failure_skips_everything_downstream_and_the_run_ends_partial(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker(CAPS, concurrency=2)
    text = manifest(
        "short-circuit",
        """  - name: count
    type: demo.count
    with: {n: 5}
  - name: square
    type: demo.square
    dependsOn: [count]
    forEach: "${{ steps.count.outputs.items }}"
    with: {x: "${{ item }}", fail_on: 3}
  - name: join
    type: jobsys.noop
    dependsOn: [square]
  - name: after
    type: jobsys.noop
    dependsOn: [join]
  - name: cleanup
    type: jobsys.noop
    dependsOn: [join]
    triggerRule: all_done
""",
    )
    group_id, steps = run(client, text, "short-circuit")
    group, _ = client.group(group_id)
    assert group.status == GroupState.PARTIAL
    assert [r.status for r in steps["square"][1:]] == ["COMPLETED"] * 3 + ["FAILED", "COMPLETED"]
    assert status(steps, "join") == "SKIPPED"
    assert steps["join"][0].error == "upstream step 'square' failed"
    assert status(steps, "after") == "SKIPPED"
    assert status(steps, "cleanup") == "COMPLETED"  # all_done runs whatever happened upstream
    assert "step 'square' failed: refusing to square 3" in group.error
    (skip_run,) = client.runs(steps["join"][0].id)
    assert skip_run.status == "SKIPPED"

    failed_item, ok_item = steps["square"][4], steps["square"][2]  # x=3 and x=1
    reopened = client.retry_group(group_id)
    assert set(reopened) == {failed_item.id, steps["join"][0].id, steps["after"][0].id}
    assert client.wait_group(group_id, 60) == GroupState.PARTIAL  # x=3 fails again
    after = {r.id: r for r in client.run_tasks(group_id)}
    assert after[ok_item.id].finished_at == ok_item.finished_at  # kept, not re-run
    assert len(client.runs(failed_item.id)) == 2
    assert len(client.runs(steps["join"][0].id)) == 2  # skipped again, a second record


def test_continue_on_failure_and_branches(client: Client, start_worker: StartWorker) -> None:
    start_worker(CAPS, concurrency=2)
    text = manifest(
        "branchy",
        """  - name: flaky
    type: demo.explode
    continueOnFailure: true
    next: [pick]
  - name: pick
    type: demo.choose
    branch: true
    with: {choose: [yes-path]}
    next: [yes-path, no-path]
  - name: yes-path
    type: jobsys.noop
  - name: no-path
    type: jobsys.noop
""",
    )
    group_id, steps = run(client, text, "branchy")
    assert status(steps, "flaky") == "FAILED"
    assert status(steps, "pick") == "COMPLETED"
    assert status(steps, "yes-path") == "COMPLETED"
    assert status(steps, "no-path") == "SKIPPED"
    assert steps["no-path"][0].error == "branch 'pick' chose yes-path"
    assert client.group(group_id)[0].status == GroupState.PARTIAL  # a step failed


def test_a_dag_that_is_not_series_parallel_keeps_exact_dependencies(
    client: Client, start_worker: StartWorker
) -> None:
    """A→C, B→C, B→D: A failing skips C but not D, which depends on B alone."""
    start_worker(CAPS, concurrency=2)
    text = manifest(
        "not-sp",
        """  - name: a
    type: demo.explode
    next: [c]
  - name: b
    type: demo.echo
    with: {message: b}
    next: [c, d]
  - name: c
    type: jobsys.noop
  - name: d
    type: demo.echo
    with: {message: "d after ${{ steps.b.outputs.file }}"}
""",
    )
    _, steps = run(client, text, "not-sp")
    assert client.dag("not-sp").plan == "(a | b) -> (c | d)"  # levels: d waits for a too
    assert client.dag("not-sp").exact is False
    assert status(steps, "a") == "FAILED"
    assert status(steps, "c") == "SKIPPED"
    assert status(steps, "d") == "COMPLETED"
    assert steps["d"][0].params["message"] == "d after echo.txt"
