"""Manifest v1: the schema, the loader's locations, and every lint rule (valid and invalid)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jobsys.jobtypes import discover
from jobsys.workflows.lint import lint
from jobsys.workflows.loader import Problem, load_paths, load_text
from jobsys.workflows.manifest import SCHEMA_ID, json_schema

REPO = Path(__file__).resolve().parents[3]
REGISTRY = discover()

HEAD = """\
apiVersion: jobsys/v1
kind: Job
metadata: {name: t}
"""


def problems(body: str, *, head: str = HEAD) -> list[Problem]:
    text = head + textwrap.dedent(body)
    return [p for doc in load_text(text, "t.job.yaml") for p in lint(doc, REGISTRY)]


def rules(body: str, **kw: str) -> set[str]:
    return {p.rule for p in problems(body, **kw)}


VALID = """\
params: {who: world}
steps:
  - name: a
    type: demo.echo
    with: {message: "hello ${{ params.who }}"}
    next: [b, c]
  - name: b
    type: demo.echo
    with: {message: "${{ steps.a.outputs.file }}"}
  - name: c
    type: demo.flaky
  - name: d
    type: jobsys.noop
    dependsOn: [b, c]
"""


def test_a_valid_manifest_has_no_problems() -> None:
    assert problems(VALID) == []


def test_the_shipped_manifests_lint_clean_and_name_the_schema() -> None:
    docs = load_paths([REPO / "config" / "manifests"])
    assert docs, "config/manifests holds example manifests"
    for doc in docs:
        assert lint(doc, REGISTRY) == []
        assert doc.manifest is not None and doc.manifest.schema_ == SCHEMA_ID


def test_the_json_schema_is_generated_from_the_models() -> None:
    schema = json_schema()
    assert schema["$id"] == SCHEMA_ID
    assert {"apiVersion", "kind", "metadata", "steps"} <= set(schema["required"])
    assert "dependsOn" in schema["$defs"]["Step"]["properties"]


@pytest.mark.parametrize(
    ("rule", "body", "head"),
    [
        (
            "unknown-api-version",
            "steps: [{name: a, type: jobsys.noop}]\n",
            "apiVersion: jobsys/v9\nkind: Job\nmetadata: {name: t}\n",
        ),
        (
            "unknown-kind",
            "steps: [{name: a, type: jobsys.noop}]\n",
            "apiVersion: jobsys/v1\nkind: Pipeline\nmetadata: {name: t}\n",
        ),
        ("unknown-field", "steps: [{name: a, type: jobsys.noop, colour: red}]\n", HEAD),
        ("missing-field", "steps: [{name: a}]\n", HEAD),
        ("duplicate-key", "steps: [{name: a, type: jobsys.noop, type: demo.echo}]\n", HEAD),
        ("yaml-syntax", "steps: [{name: a\n", HEAD),
        ("unknown-job-type", "steps: [{name: a, type: demo.nope}]\n", HEAD),
        (
            "params-mismatch",
            "steps: [{name: a, type: demo.echo, with: {message: hi, times: x}}]\n",
            HEAD,
        ),
        ("params-mismatch", "steps: [{name: a, type: demo.echo, with: {mesage: hi}}]\n", HEAD),
        (
            "duplicate-step",
            "steps: [{name: a, type: jobsys.noop}, {name: a, type: jobsys.noop}]\n",
            HEAD,
        ),
        ("missing-dependency", "steps: [{name: a, type: jobsys.noop, dependsOn: [zz]}]\n", HEAD),
        (
            "duplicate-edge",
            "steps: [{name: a, type: jobsys.noop, next: b},"
            " {name: b, type: jobsys.noop, dependsOn: [a]}]\n",
            HEAD,
        ),
        (
            "cycle",
            "steps: [{name: a, type: jobsys.noop, next: b},"
            " {name: b, type: jobsys.noop, next: a}]\n",
            HEAD,
        ),
        (
            "invalid-cron",
            "trigger: {type: cron, cron: '61 * * * *'}\nsteps: [{name: a, type: jobsys.noop}]\n",
            HEAD,
        ),
        (
            "invalid-timezone",
            "trigger: {type: cron, cron: '0 9 * * *', timezone: Mars/Base}\n"
            "steps: [{name: a, type: jobsys.noop}]\n",
            HEAD,
        ),
        (
            "unknown-secret-scheme",
            "steps: [{name: a, type: demo.echo, with: {message: 'secret://vault/x'}}]\n",
            HEAD,
        ),
        (
            "bad-expression",
            "steps: [{name: a, type: demo.echo, with: {message: '${{ os.system }}'}}]\n",
            HEAD,
        ),
        (
            "expression-scope",
            "steps: [{name: a, type: demo.echo, with: {message: '${{ item }}'}}]\n",
            HEAD,
        ),
        (
            "expression-scope",
            "steps: [{name: a, type: demo.echo,"
            " with: {message: '${{ steps.b.outputs.file }}'}}, {name: b, type: demo.echo,"
            " with: {message: x}}]\n",
            HEAD,
        ),
        ("branch-output", "steps: [{name: a, type: jobsys.noop, branch: true}]\n", HEAD),
    ],
)
def test_each_rule_is_reported(rule: str, body: str, head: str) -> None:
    assert rule in rules(body, head=head)


def test_problems_carry_file_line_and_column() -> None:
    body = """\
steps:
  - name: a
    type: demo.echo
    with: {message: hi, times: x}
"""
    (problem,) = problems(body)
    assert (problem.file, problem.line, problem.rule) == ("t.job.yaml", 7, "params-mismatch")
    assert str(problem).startswith("t.job.yaml:7:")


def test_a_cycle_is_printed() -> None:
    (problem,) = [
        p
        for p in problems(
            "steps: [{name: a, type: jobsys.noop, next: b}, {name: b, type: jobsys.noop, next: c},"
            " {name: c, type: jobsys.noop, next: a}]\n"
        )
        if p.rule == "cycle"
    ]
    assert problem.message == "a -> b -> c -> a"


def test_a_bad_document_does_not_hide_the_others() -> None:
    text = HEAD + "steps: [{name: a, type: nope.nope}]\n---\n" + HEAD + VALID
    docs = load_text(text, "multi.job.yaml")
    assert [bool(lint(d, REGISTRY)) for d in docs] == [True, False]
    assert docs[1].line == 6  # the line after the separator
