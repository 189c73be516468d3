"""The DAG compiler: plans by shape, and the Celery canvas each plan becomes (no broker)."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery, group
from celery.canvas import Signature, _chain, _chord

from jobsys.workflows.compile import Node, Parallel, Series, describe, plan, to_canvas
from jobsys.workflows.graph import Graph


def compiled(nodes: str, edges: str) -> tuple[str, bool]:
    graph = Graph.build(nodes.split(), [tuple(e.split(">")) for e in edges.split()])  # type: ignore[misc]
    result = plan(graph)
    return describe(result.plan), result.exact


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"),
    [
        ("a", "", "a"),
        ("a b c", "a>b b>c", "a -> b -> c"),
        ("a b c", "", "(a | b | c)"),
        ("a b c d", "a>b a>c b>d c>d", "a -> (b | c) -> d"),
        ("a b c", "a>c b>c", "(a | b) -> c"),
        ("a b c", "a>b a>c", "a -> (b | c)"),
        # two independent chains side by side
        ("a b c d", "a>b c>d", "(a -> b | c -> d)"),
        # fan-out, a chain inside one branch, fan-in
        ("s a1 a2 b j", "s>a1 a1>a2 s>b a2>j b>j", "s -> (a1 -> a2 | b) -> j"),
        # a diamond followed by a fan-out
        ("a b c d e f", "a>b a>c b>d c>d d>e d>f", "a -> (b | c) -> d -> (e | f)"),
        # nested parallel parts joined twice
        (
            "a b c d e",
            "a>b a>c b>d c>d a>e d>e",
            "a -> (b | c) -> d -> e",
        ),
    ],
)
def test_series_parallel_graphs_compile_exactly(nodes: str, edges: str, expected: str) -> None:
    assert compiled(nodes, edges) == (expected, True)


def test_a_transitive_edge_adds_no_ordering() -> None:
    """a→b→c plus a→c is still the chain a, b, c."""
    assert compiled("a b c", "a>b b>c a>c") == ("a -> b -> c", True)


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"),
    [
        # the N shape: d depends on b alone
        ("a b c d", "a>c b>c b>d", "(a | b) -> (c | d)"),
        # an N inside a chain
        ("s a b c d t", "s>a s>b a>c b>c b>d c>t d>t", "s -> (a | b) -> (c | d) -> t"),
    ],
)
def test_graphs_that_are_not_series_parallel_fall_back_to_levels(
    nodes: str, edges: str, expected: str
) -> None:
    assert compiled(nodes, edges) == (expected, False)


def test_a_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        plan(Graph.build(["a", "b"], [("a", "b"), ("b", "a")]))


@pytest.fixture
def app() -> Celery:
    return Celery("compile-test", set_as_current=False)


def canvas_of(app: Celery, p: Any) -> Any:
    return to_canvas(
        p,
        lambda name: app.signature(f"step.{name}", args=[name], immutable=True),
        lambda part: app.signature("barrier", immutable=True),
    )


def names(sig: Any) -> Any:
    """A canvas as nested lists/tuples of task names: chain → list, group → tuple."""
    if isinstance(sig, _chord):
        return ("chord", tuple(names(t) for t in sig.tasks), names(sig.body))
    if isinstance(sig, _chain):
        return [names(t) for t in sig.tasks]
    if isinstance(sig, group):
        return tuple(names(t) for t in sig.tasks)
    assert isinstance(sig, Signature)
    return sig.task


def test_a_sequence_becomes_a_chain(app: Celery) -> None:
    canvas = canvas_of(app, Series((Node("a"), Node("b"), Node("c"))))
    assert isinstance(canvas, _chain)
    assert names(canvas) == ["step.a", "step.b", "step.c"]


def test_fan_out_becomes_a_group_and_fan_in_a_chord(app: Celery) -> None:
    p = plan(Graph.build("a b c d".split(), [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))
    canvas = canvas_of(app, p.plan)
    assert isinstance(canvas, _chain)
    assert isinstance(canvas.tasks[1], _chord)
    assert names(canvas) == ["step.a", ("chord", ("step.b", "step.c"), "step.d")]


def test_a_trailing_fan_out_stays_a_group(app: Celery) -> None:
    canvas = canvas_of(app, Series((Node("a"), Parallel((Node("b"), Node("c"))))))
    assert names(canvas) == ["step.a", ("step.b", "step.c")]


def test_two_parallel_parts_in_a_row_are_joined_by_a_barrier(app: Celery) -> None:
    canvas = canvas_of(
        app,
        Series((Parallel((Node("a"), Node("b"))), Parallel((Node("c"), Node("d"))))),
    )
    assert names(canvas) == [("chord", ("step.a", "step.b"), "barrier"), ("step.c", "step.d")]


def test_every_signature_is_immutable_so_results_never_flow_through_celery(app: Celery) -> None:
    canvas = canvas_of(app, Series((Node("a"), Parallel((Node("b"), Node("c"))), Node("d"))))
    first, joined = canvas.tasks
    assert all(s.immutable for s in [first, *joined.tasks, joined.body])
