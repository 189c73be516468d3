"""A DAG → a Celery canvas: a sequence becomes a chain, fan-out a group, fan-in a chord. Pure.

``plan(graph)`` decomposes the graph into ``Series`` / ``Parallel`` / ``Node`` parts
(no Celery, no database, no broker) and says whether the decomposition is exact.
``to_canvas(plan, signature, barrier)`` turns a plan into chains and groups; Celery
makes a chord of every group followed by a step in a chain.

How a DAG that is not series-parallel still runs with exact dependency semantics:
a canvas can only say "after all of these", so for a graph such as A→C, B→C, B→D
(D depends on B alone) the planner falls back, for that part of the graph, to its
topological levels: ``group(A, B) | group(C, D)``. That adds *ordering* (D waits for
A too), never *semantics*: whether a step runs, is skipped or sees which outputs is
decided when it starts, from its declared predecessors' outcomes in the store
(``jobsys.workflows.runs.gate``). So A failing skips C and still runs D.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobsys.workflows.graph import Graph


@dataclass(frozen=True)
class Node:
    """One step."""

    name: str


@dataclass(frozen=True)
class Series:
    """Parts that run one after another: each waits for all of the previous part."""

    parts: tuple[Plan, ...]


@dataclass(frozen=True)
class Parallel:
    """Parts that run side by side."""

    parts: tuple[Plan, ...]


Plan = Node | Series | Parallel


@dataclass(frozen=True)
class Compiled:
    """A plan, and whether it waits exactly for each step's predecessors (no extra ordering)."""

    plan: Plan
    exact: bool


def plan(graph: Graph) -> Compiled:
    """Decompose ``graph`` into series and parallel parts (levels where not series-parallel)."""
    if not graph.nodes:
        raise ValueError("an empty graph has no plan")
    graph.topological_order()  # raises on a cycle
    reach = _reachability(graph)
    exact = [True]
    result = _decompose(graph, list(graph.nodes), reach, exact)
    return Compiled(result, exact[0])


def _reachability(graph: Graph) -> dict[str, frozenset[str]]:
    """For each node, every node downstream of it."""
    out: dict[str, frozenset[str]] = {}
    for node in reversed(graph.topological_order()):
        below: set[str] = set()
        for succ in graph.successors(node):
            below.add(succ)
            below |= out[succ]
        out[node] = frozenset(below)
    return out


def _components(graph: Graph, nodes: list[str]) -> list[list[str]]:
    """Weakly connected components of the subgraph on ``nodes``, in declaration order."""
    inside, seen, parts = set(nodes), set[str](), []
    for start in nodes:
        if start in seen:
            continue
        part, stack = [], [start]
        seen.add(start)
        while stack:
            n = stack.pop()
            part.append(n)
            for m in [*graph.successors(n), *graph.predecessors(n)]:
                if m in inside and m not in seen:
                    seen.add(m)
                    stack.append(m)
        order = {n: i for i, n in enumerate(nodes)}
        parts.append(sorted(part, key=order.__getitem__))
    return parts


def _decompose(
    graph: Graph, nodes: list[str], reach: dict[str, frozenset[str]], exact: list[bool]
) -> Plan:
    if len(nodes) == 1:
        return Node(nodes[0])
    parts = _components(graph, nodes)
    if len(parts) > 1:
        return Parallel(tuple(_decompose(graph, p, reach, exact) for p in parts))
    order = [n for n in graph.topological_order() if n in set(nodes)]
    # A series split after k nodes is exact when every node before it reaches every node after.
    for k in range(1, len(order)):
        head, tail = order[:k], order[k:]
        if all(set(tail) <= reach[h] for h in head):
            return _series(
                _decompose(graph, head, reach, exact), _decompose(graph, tail, reach, exact)
            )
    exact[0] = False
    return _levels(graph, order)


def _series(first: Plan, rest: Plan) -> Series:
    parts: list[Plan] = []
    for part in (first, rest):
        parts += part.parts if isinstance(part, Series) else [part]
    return Series(tuple(parts))


def _levels(graph: Graph, order: list[str]) -> Plan:
    """Topological levels (longest path from a root), each level a parallel part."""
    inside = set(order)
    level: dict[str, int] = {}
    for n in order:
        level[n] = max((level[p] + 1 for p in graph.predecessors(n) if p in inside), default=0)
    by_level: dict[int, list[str]] = {}
    for n in order:
        by_level.setdefault(level[n], []).append(n)
    steps: list[Plan] = []
    for _, names in sorted(by_level.items()):
        group = [Node(n) for n in names]
        steps.append(group[0] if len(group) == 1 else Parallel(tuple(group)))
    return steps[0] if len(steps) == 1 else Series(tuple(steps))


def to_canvas(
    compiled: Plan,
    signature: Callable[[str], Any],
    barrier: Callable[[Plan], Any],
) -> Any:
    """Celery signatures for a plan: ``Series`` → chain, ``Parallel`` → group.

    ``signature(name)`` gives a step's signature (a task, or a group of items);
    ``barrier(next_part)`` a no-op joining two consecutive parallel parts (Celery
    would otherwise make a chord whose body is a group). Celery turns each group
    followed by a step in a chain into a chord.
    """
    from celery import chain, group

    if isinstance(compiled, Node):
        return signature(compiled.name)
    if isinstance(compiled, Parallel):
        return group([to_canvas(p, signature, barrier) for p in compiled.parts])
    items: list[Any] = []
    previous: Plan | None = None
    for part in compiled.parts:
        if isinstance(previous, Parallel) and isinstance(part, Parallel):
            items.append(barrier(part))
        items.append(to_canvas(part, signature, barrier))
        previous = part
    return chain(*items)


def first_step(part: Plan) -> str:
    """The first step of a part in declaration order (where a barrier before it is routed)."""
    while not isinstance(part, Node):
        part = part.parts[0]
    return part.name


def describe(compiled: Plan) -> str:
    """A plan as text: ``a -> (b | c) -> d``."""
    if isinstance(compiled, Node):
        return compiled.name
    inner = [describe(p) for p in compiled.parts]
    if isinstance(compiled, Parallel):
        return "(" + " | ".join(inner) + ")"
    return " -> ".join(inner)
