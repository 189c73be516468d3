"""DAG run semantics over rows (no database): outcomes, trigger rules, branches, expressions,
forEach items and retry selection."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from jobsys.errors import InputError
from jobsys.jobtypes import discover
from jobsys.workflows import runs
from jobsys.workflows.manifest import Manifest

REGISTRY = discover([])


def manifest(*steps: dict[str, Any], params: dict[str, Any] | None = None) -> Manifest:
    return Manifest.model_validate(
        {
            "apiVersion": "jobsys/v1",
            "kind": "Job",
            "metadata": {"name": "t"},
            "params": params or {},
            "steps": list(steps),
        }
    )


def row(step: str, status: str, outputs: Any = None, **more: Any) -> SimpleNamespace:
    values = {
        "id": f"{step}-{more.get('item_index')}",
        "step": step,
        "status": status,
        "outputs": outputs,
        "job_type": more.pop("job_type", "jobsys.noop"),
        "item_index": None,
        "params": {},
        "error": None,
    }
    values.update(more)
    return SimpleNamespace(**values)


NOOP = {"type": "jobsys.noop"}


def test_outcome_of_a_foreach_step_aggregates_its_items() -> None:
    parent = row("s", "COMPLETED", job_type=runs.FOREACH)
    item = lambda i, status: row("s", status, item_index=i)  # noqa: E731
    assert runs.outcome([parent]) == runs.SUCCESS  # no items: vacuously done
    assert runs.outcome([parent, item(0, "COMPLETED"), item(1, "RUNNING")]) == runs.PENDING
    assert runs.outcome([parent, item(0, "COMPLETED"), item(1, "FAILED")]) == runs.FAILED
    assert runs.outcome([parent, item(0, "SKIPPED")]) == runs.SKIPPED
    assert runs.outcome([row("s", "SKIPPED", job_type=runs.FOREACH)]) == runs.SKIPPED
    assert runs.outcome([row("s", "QUEUED", job_type=runs.FOREACH)]) == runs.PENDING


@pytest.mark.parametrize(
    ("rule", "upstream", "expected"),
    [
        ("all_success", ["COMPLETED", "COMPLETED"], None),
        ("all_success", ["COMPLETED", "FAILED"], "upstream step 'b' failed"),
        ("all_success", ["SKIPPED", "COMPLETED"], "upstream step 'a' was skipped"),
        ("all_done", ["FAILED", "SKIPPED"], None),
        ("one_success", ["FAILED", "COMPLETED"], None),
        ("one_success", ["FAILED", "FAILED"], "no upstream step succeeded (one_success)"),
        ("all_failed", ["FAILED", "CANCELLED"], None),
        ("all_failed", ["FAILED", "COMPLETED"], "not every upstream step failed (all_failed)"),
    ],
)
def test_trigger_rules(rule: str, upstream: list[str], expected: str | None) -> None:
    m = manifest(
        {"name": "a", **NOOP},
        {"name": "b", **NOOP},
        {"name": "c", **NOOP, "dependsOn": ["a", "b"], "triggerRule": rule},
    )
    rows = {
        "a": [row("a", upstream[0])],
        "b": [row("b", upstream[1])],
        "c": [row("c", "QUEUED")],
    }
    decision = runs.gate(m, {}, rows, "c", REGISTRY)
    assert decision == (runs.Ready({}) if expected is None else runs.Skip(expected))


def test_a_step_waits_while_a_predecessor_is_unfinished() -> None:
    m = manifest({"name": "a", **NOOP, "next": "b"}, {"name": "b", **NOOP})
    decision = runs.gate(
        m, {}, {"a": [row("a", "RUNNING")], "b": [row("b", "QUEUED")]}, "b", REGISTRY
    )
    assert decision == runs.Wait("upstream step 'a' has not finished")


def test_continue_on_failure_lets_successors_run() -> None:
    m = manifest(
        {"name": "a", **NOOP, "next": "b", "continueOnFailure": True}, {"name": "b", **NOOP}
    )
    rows = {"a": [row("a", "FAILED")], "b": [row("b", "QUEUED")]}
    assert runs.gate(m, {}, rows, "b", REGISTRY) == runs.Ready({})


def test_inputs_resolve_from_upstream_outputs_and_params_and_are_validated() -> None:
    m = manifest(
        {"name": "a", **NOOP, "next": "b"},
        {"name": "b", "type": "demo.echo", "with": {"message": "${{ params.p }}"}},
        params={"p": "x"},
    )
    b = row("b", "QUEUED", params={"message": "${{ steps.a.outputs.word }}", "times": 2})
    rows = {"a": [row("a", "COMPLETED", {"word": "hi"})], "b": [b]}
    assert runs.gate(m, {"p": "x"}, rows, "b", REGISTRY) == runs.Ready(
        {"message": "hi", "times": 2}
    )

    bad = row("b", "QUEUED", params={"message": "${{ steps.a.outputs.nope }}"})
    decision = runs.gate(m, {}, {"a": rows["a"], "b": [bad]}, "b", REGISTRY)
    assert decision == runs.Fail("step 'b': step 'a' has no field 'nope'")

    wrong = row("b", "QUEUED", params={"message": "x", "times": "${{ steps.a.outputs.word }}"})
    decision = runs.gate(m, {}, {"a": rows["a"], "b": [wrong]}, "b", REGISTRY)
    assert isinstance(decision, runs.Fail) and "input 'times'" in decision.reason


def test_a_branch_runs_only_the_successors_it_names() -> None:
    m = manifest(
        {
            "name": "pick",
            "type": "demo.choose",
            "with": {"choose": ["x"]},
            "branch": True,
            "next": ["x", "y"],
        },
        {"name": "x", **NOOP},
        {"name": "y", **NOOP},
    )
    rows = {
        "pick": [row("pick", "COMPLETED", {"next": ["x"]})],
        "x": [row("x", "QUEUED")],
        "y": [row("y", "QUEUED")],
    }
    assert runs.gate(m, {}, rows, "x", REGISTRY) == runs.Ready({})
    assert runs.gate(m, {}, rows, "y", REGISTRY) == runs.Skip("branch 'pick' chose x")


def test_for_each_items_resolve_each_element() -> None:
    m = manifest(
        {"name": "count", "type": "demo.count", "with": {"n": 2}, "next": "sq"},
        {
            "name": "sq",
            "type": "demo.square",
            "forEach": "${{ steps.count.outputs.items }}",
            "with": {"x": "${{ item }}", "fail_on": "${{ params.bad }}"},
        },
        params={"bad": 7},
    )
    rows = {
        "count": [row("count", "COMPLETED", {"items": [3, 4]})],
        "sq": [row("sq", "QUEUED", job_type=runs.FOREACH)],
    }
    assert runs.gate(m, {"bad": 7}, rows, "sq", REGISTRY) == runs.Ready({"items": [3, 4]})
    assert runs.expand(m, {"bad": 7}, rows, "sq", [3, 4]) == [
        {"x": 3, "fail_on": 7},
        {"x": 4, "fail_on": 7},
    ]
    not_a_list = {"count": [row("count", "COMPLETED", {"items": 5})], "sq": rows["sq"]}
    assert runs.gate(m, {}, not_a_list, "sq", REGISTRY) == runs.Fail(
        "forEach of step 'sq' must give a list, not int"
    )


def test_new_run_rows_validate_static_inputs_and_refuse_unknown_params() -> None:
    m = manifest({"name": "a", "type": "demo.echo", "with": {"times": 3}})
    with pytest.raises(InputError, match="step a \\(demo.echo\\): input 'message'"):
        runs.new_run_rows(m, REGISTRY, {}, {}, lambda: "id")
    with pytest.raises(InputError, match="unknown run parameter"):
        runs.run_params(manifest({"name": "a", **NOOP}), {"nope": 1}, "t")


def test_retry_selects_failed_steps_and_their_descendants_only() -> None:
    m = manifest(
        {"name": "a", **NOOP, "next": ["b", "c"]},
        {
            "name": "b",
            "type": "demo.square",
            "forEach": [1, 2],
            "with": {"x": "${{ item }}"},
            "next": "d",
        },
        {"name": "c", **NOOP},
        {"name": "d", **NOOP},
    )
    rows = {
        "a": [row("a", "COMPLETED")],
        "b": [
            row("b", "COMPLETED", job_type=runs.FOREACH),
            row("b", "COMPLETED", item_index=0),
            row("b", "FAILED", item_index=1),
        ],
        "c": [row("c", "COMPLETED")],
        "d": [row("d", "SKIPPED")],
    }
    selection = runs.retry_selection(m, rows)
    assert selection.steps == ["b", "d"]
    assert selection.job_ids == ["b-1", "d-None"]
    assert selection.items_only == {"b"}
    assert selection.reexpand == set()


def test_retries_and_timeout_overrides_reach_the_job_and_its_signature() -> None:
    from celery import Celery

    from jobsys.execution.dag import run_canvas
    from jobsys.settings import Settings

    m = manifest(
        {"name": "a", "type": "demo.echo", "with": {"message": "x"}, "retries": 4, "timeout": 7},
    )
    rows = runs.new_run_rows(m, REGISTRY, {}, {"group_id": "g", "priority": 5}, lambda: "job-a")
    assert rows[0]["max_attempts"] == 5  # the first attempt and four retries
    as_rows = {"a": [SimpleNamespace(**{**rows[0], "item_index": None})]}
    app = Celery("t", set_as_current=False)
    sig, compiled = run_canvas(app, Settings(broker_url="redis://x/0"), m, as_rows)
    assert compiled.exact
    assert sig.task == "demo.echo"
    assert list(sig.args) == ["job-a"]
    assert sig.options["soft_time_limit"] == 7
    assert sig.options["time_limit"] == 37
    assert sig.options["queue"] == "demo.basic@1"
    assert sig.immutable
