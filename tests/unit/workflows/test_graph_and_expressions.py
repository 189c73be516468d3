"""The DAG value type and the expression syntax."""

from __future__ import annotations

import pytest

from jobsys.workflows import expressions
from jobsys.workflows.expressions import ExpressionError, Scope, resolve
from jobsys.workflows.graph import Graph


def test_topological_order_breaks_ties_by_declaration_order() -> None:
    g = Graph.build("abcd", [("a", "c"), ("b", "c"), ("b", "d")])
    assert g.topological_order() == ["a", "b", "c", "d"]
    assert g.roots() == ["a", "b"]
    assert g.predecessors("c") == ["a", "b"]
    assert g.ancestors("d") == {"b"}


def test_a_cycle_is_found_and_refuses_an_order() -> None:
    g = Graph.build("abc", [("a", "b"), ("b", "c"), ("c", "b")])
    assert g.find_cycle() == ["b", "c", "b"]
    with pytest.raises(ValueError, match="b -> c -> b"):
        g.topological_order()


SCOPE = Scope(outputs={"scan": {"files": ["x.csv", "y.csv"], "n": 2}}, params={"who": "you"})


def test_a_whole_value_expression_keeps_its_type() -> None:
    assert resolve("${{ steps.scan.outputs.files }}", SCOPE) == ["x.csv", "y.csv"]
    assert resolve({"n": "${{ steps.scan.outputs.n }}"}, SCOPE) == {"n": 2}


def test_expressions_inside_text_are_interpolated() -> None:
    assert resolve("hi ${{ params.who }}, ${{ steps.scan.outputs.n }} files", SCOPE) == (
        "hi you, 2 files"
    )


def test_item_is_only_defined_in_a_for_each() -> None:
    item_scope = Scope(outputs={}, params={}, item={"path": "x.csv"}, has_item=True)
    assert resolve("${{ item.path }}", item_scope) == "x.csv"
    with pytest.raises(ExpressionError, match="only defined in a forEach"):
        resolve("${{ item }}", SCOPE)


@pytest.mark.parametrize(
    "text", ["${{ steps.nope.outputs.x }}", "${{ steps.scan.outputs.missing }}", "${{ params.x }}"]
)
def test_unresolvable_references_say_what_is_missing(text: str) -> None:
    with pytest.raises(ExpressionError):
        resolve(text, SCOPE)


def test_nothing_but_references_is_evaluated() -> None:
    with pytest.raises(ExpressionError, match="expected steps.NAME.outputs.FIELD"):
        list(expressions.refs("${{ __import__('os').system('true') }}"))
