"""The DAG of a manifest as a value: predecessors, successors, stable topological order,
and the cycle when there is one. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Graph:
    """Nodes in declaration order and directed edges (upstream, downstream)."""

    nodes: tuple[str, ...]
    edges: frozenset[tuple[str, str]]

    @classmethod
    def build(cls, nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> Graph:
        """A graph from node names and edges (duplicates collapse)."""
        return cls(tuple(dict.fromkeys(nodes)), frozenset(edges))

    @cached_property
    def _adjacency(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        pred: dict[str, list[str]] = {n: [] for n in self.nodes}
        succ: dict[str, list[str]] = {n: [] for n in self.nodes}
        for a, b in sorted(self.edges, key=self._edge_order):
            pred[b].append(a)
            succ[a].append(b)
        return pred, succ

    @property
    def _pred(self) -> dict[str, list[str]]:
        return self._adjacency[0]

    @property
    def _succ(self) -> dict[str, list[str]]:
        return self._adjacency[1]

    def _edge_order(self, edge: tuple[str, str]) -> tuple[int, int]:
        index = {n: i for i, n in enumerate(self.nodes)}
        return index[edge[0]], index[edge[1]]

    def predecessors(self, node: str) -> list[str]:
        """Direct upstream nodes, in declaration order."""
        return self._pred[node]

    def successors(self, node: str) -> list[str]:
        """Direct downstream nodes, in declaration order."""
        return self._succ[node]

    def roots(self) -> list[str]:
        """Nodes with no predecessor."""
        return [n for n in self.nodes if not self._pred[n]]

    def ancestors(self, node: str) -> set[str]:
        """Every node upstream of ``node``."""
        seen: set[str] = set()
        stack = list(self._pred[node])
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack += self._pred[n]
        return seen

    def find_cycle(self) -> list[str] | None:
        """A cycle as ``[a, b, ..., a]``, or None for a DAG."""
        state: dict[str, int] = {}
        path: list[str] = []

        def visit(n: str) -> list[str] | None:
            state[n] = 1
            path.append(n)
            for m in self._succ[n]:
                if state.get(m) == 1:
                    return path[path.index(m) :] + [m]
                if m not in state:
                    found = visit(m)
                    if found:
                        return found
            state[n] = 2
            path.pop()
            return None

        for node in self.nodes:
            if node not in state:
                found = visit(node)
                if found:
                    return found
        return None

    def topological_order(self) -> list[str]:
        """Kahn's order, ties broken by declaration order; ValueError on a cycle."""
        indegree = {n: len(self._pred[n]) for n in self.nodes}
        ready = [n for n in self.nodes if indegree[n] == 0]
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for m in self._succ[n]:
                indegree[m] -= 1
                if indegree[m] == 0:
                    ready.append(m)
        if len(order) != len(self.nodes):
            raise ValueError(f"cycle: {' -> '.join(self.find_cycle() or [])}")
        return order
