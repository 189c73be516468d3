"""The expression syntax of ``with`` and ``forEach`` values.

``${{ steps.NAME.outputs.FIELD[.FIELD...] }}`` — an output of an upstream step;
``${{ item }}`` / ``${{ item.FIELD }}`` — the current element of a ``forEach``;
``${{ params.NAME }}`` — a run parameter. A value that is exactly one expression
keeps the referenced value's type; expressions inside a longer string are
interpolated as text. Nothing else is evaluated: no code, no operators.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_REF = re.compile(
    r"^(?:steps\.(?P<step>[a-z][a-z0-9_-]*)\.outputs(?P<spath>(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<item>item)(?P<ipath>(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|params\.(?P<param>[A-Za-z_][A-Za-z0-9_]*))$"
)


class ExpressionError(ValueError):
    """An expression that does not parse or does not resolve."""


@dataclass(frozen=True)
class Ref:
    """A parsed reference."""

    kind: str  # "step" | "item" | "param"
    name: str
    path: tuple[str, ...]


def parse(expr: str) -> Ref:
    """Parse the inside of ``${{ ... }}``."""
    match = _REF.match(expr)
    if match is None:
        raise ExpressionError(
            f"cannot read ${{{{ {expr} }}}}: "
            "expected steps.NAME.outputs.FIELD, item, or params.NAME"
        )
    if match["step"]:
        return Ref("step", match["step"], tuple(p for p in match["spath"].split(".") if p))
    if match["item"]:
        return Ref("item", "item", tuple(p for p in match["ipath"].split(".") if p))
    return Ref("param", match["param"], ())


def refs(value: Any) -> Iterator[Ref]:
    """Every reference inside a value (nested dicts/lists included)."""
    return (parse(text) for text in iter_exprs(value))


def has_expression(value: Any) -> bool:
    """Whether a value holds any ``${{ }}``."""
    return next(iter_exprs(value), None) is not None


def iter_exprs(value: Any) -> Iterator[str]:
    """The raw expression texts in a value."""
    if isinstance(value, str):
        yield from (m.group(1) for m in EXPR.finditer(value))
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from iter_exprs(v)
    elif isinstance(value, list):
        for v in value:
            yield from iter_exprs(v)


@dataclass(frozen=True)
class Scope:
    """What references resolve against."""

    outputs: Mapping[str, Any]
    params: Mapping[str, Any]
    item: Any = None
    has_item: bool = False


def _lookup(ref: Ref, scope: Scope) -> Any:
    if ref.kind == "param":
        if ref.name not in scope.params:
            raise ExpressionError(f"no run parameter {ref.name!r}")
        return scope.params[ref.name]
    if ref.kind == "item":
        if not scope.has_item:
            raise ExpressionError("${{ item }} is only defined in a forEach step")
        value = scope.item
    else:
        if ref.name not in scope.outputs:
            raise ExpressionError(f"step {ref.name!r} has no outputs (yet)")
        value = scope.outputs[ref.name]
    for part in ref.path:
        if not isinstance(value, Mapping) or part not in value:
            raise ExpressionError(f"{ref.kind} {ref.name!r} has no field {part!r}")
        value = value[part]
    return value


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every expression replaced by what it references."""
    if isinstance(value, str):
        whole = EXPR.fullmatch(value.strip())
        if whole:
            return _lookup(parse(whole.group(1)), scope)
        return EXPR.sub(lambda m: str(_lookup(parse(m.group(1)), scope)), value)
    if isinstance(value, Mapping):
        return {k: resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    return value
