"""YAML → ``Manifest`` models, with ``file:line:col`` and a rule id on every problem.

Multi-document files are split into documents, each validated on its own: a bad
document is reported and the others still load. Duplicate keys (which YAML
loaders silently merge) are problems too.

Hostile input is a problem, never a crash or a hang: characters YAML refuses (NUL,
lone surrogates), keys that cannot be keys, tags of the full loader, nesting deeper
than ``MAX_DEPTH``, and documents whose aliases expand past ``MAX_NODES`` nodes (the
"billion laughs") are each reported with their line and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from jobsys.jobtypes import first_nul
from jobsys.workflows.manifest import Manifest

Loc = tuple[str | int, ...]
#: the files a directory of manifests contributes
DEFAULT_GLOB = "**/*.job.yaml"
#: nodes a document may hold once its aliases are expanded (a manifest has hundreds)
MAX_NODES = 100_000
#: how deeply a document's mappings and lists may nest
MAX_DEPTH = 64


class _TooLarge(Exception):
    """A document nests too deeply or expands past MAX_NODES (a YAML alias bomb)."""

    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.line, self.col = node.start_mark.line + 1, node.start_mark.column + 1


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a manifest, where it is, and the rule it breaks."""

    file: str
    line: int
    col: int
    rule: str
    message: str

    def __str__(self) -> str:
        return (
            f"{printable(self.file)}:{self.line}:{self.col}: {self.rule}: {printable(self.message)}"
        )


def printable(text: str) -> str:
    """``text`` on one line: control and other unprintable characters escaped (``\\x1e``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass
class Document:
    """One YAML document of a file: its manifest if it validated, else its problems."""

    file: str
    index: int
    line: int
    data: Any
    manifest: Manifest | None = None
    problems: list[Problem] = field(default_factory=list)
    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: Iterable[str | int]) -> tuple[int, int]:
        """Line and column of the deepest known part of ``loc``."""
        path = tuple(loc)
        while path and path not in self.marks:
            path = path[:-1]
        return self.marks.get(path, (self.line, 1))

    def problem(self, loc: Iterable[str | int], rule: str, message: str) -> Problem:
        """A problem located at ``loc`` in this document."""
        line, col = self.where(loc)
        return Problem(self.file, line, col, rule, message)


def _walk(node: yaml.Node, path: Loc, marks: dict[Loc, tuple[int, int]], dups: list[Loc]) -> None:
    if len(path) > MAX_DEPTH:
        raise _TooLarge(f"nested deeper than {MAX_DEPTH} levels", node)
    if len(marks) >= MAX_NODES:
        raise _TooLarge(
            f"expands to more than {MAX_NODES} nodes (aliases repeating aliases?)", node
        )
    marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                dups.append(path + (key,))
                marks[path + (key, "__dup__")] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            seen.add(key)
            marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, path + (key,), marks, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), marks, dups)


def _message(error: Any) -> str:
    msg = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "literal_error" and error["loc"] == ("apiVersion",):
        return f"unknown apiVersion {error['input']!r} (expected jobsys/v1)"
    if error["type"] == "literal_error" and error["loc"] == ("kind",):
        return f"unknown kind {error['input']!r} (expected Job)"
    return msg


def _rule(error: Any) -> str:
    loc = error["loc"]
    if loc[:1] == ("apiVersion",):
        return "unknown-api-version"
    if loc[:1] == ("kind",):
        return "unknown-kind"
    if error["type"] == "extra_forbidden":
        return "unknown-field"
    if error["type"] == "missing":
        return "missing-field"
    return "schema"


def validate_document(doc: Document) -> Document:
    """Validate ``doc.data`` against the manifest model, locating every error."""
    if not isinstance(doc.data, dict):
        doc.problems.append(doc.problem((), "schema", "a manifest document must be a mapping"))
        return doc
    try:
        doc.manifest = Manifest.model_validate(doc.data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not isinstance(p, str) or "[" not in p)
            name = ".".join(str(p) for p in error["loc"])
            doc.problems.append(doc.problem(loc, _rule(error), f"{name}: {_message(error)}"))
    return doc


def _position(text: str, offset: int) -> tuple[int, int]:
    """Line and column (1-based) of a character offset."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _syntax_problem(text: str, file: str, exc: Exception) -> Problem:
    """A YAML error (or a nesting too deep for the parser) as a located problem."""
    line, col = 1, 1
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = str(exc.problem or exc)
        if exc.context and exc.problem:
            message = f"{exc.context}: {exc.problem}"
    elif isinstance(exc, yaml.reader.ReaderError):
        line, col = _position(text, exc.position)
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        message = f"character {shown} is not allowed in YAML"
    elif isinstance(exc, RecursionError):
        message = "nested too deeply for the YAML parser"
    else:
        message = str(exc)
    return Problem(file, line, col, "yaml-syntax", message)


def _construct(node: yaml.Node) -> Any:
    """The Python value of a composed node (safe tags only)."""
    return yaml.SafeLoader("").construct_document(node)


def load_text(text: str, file: str = "<stdin>") -> list[Document]:
    """Every document of a YAML text, validated (problems located, never raised)."""
    docs: list[Document] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError) as exc:
        problem = _syntax_problem(text, file, exc)
        return [Document(file, 0, problem.line, None, problems=[problem])]
    for index, node in enumerate(nodes):
        if node is None:
            continue
        marks: dict[Loc, tuple[int, int]] = {}
        dups: list[Loc] = []
        try:
            _walk(node, (), marks, dups)
            data = _construct(node)
        except _TooLarge as exc:
            problem = Problem(file, exc.line, exc.col, "too-large", str(exc))
            docs.append(Document(file, index, exc.line, None, problems=[problem]))
            continue
        except (yaml.YAMLError, RecursionError) as exc:  # an unhashable key, an unsafe tag
            problem = _syntax_problem(text, file, exc)
            docs.append(Document(file, index, problem.line, None, problems=[problem]))
            continue
        doc = Document(file, index, node.start_mark.line + 1, data, marks=marks)
        nul = first_nul(data)
        if nul is not None:  # "\0" in a quoted string: no store can keep it as text
            doc.problems.append(
                doc.problem(nul, "nul-character", f"{'.'.join(map(str, nul))}: contains U+0000")
            )
        for dup in dups:
            line, col = marks[dup + ("__dup__",)]
            key = ".".join(str(p) for p in dup)
            doc.problems.append(Problem(file, line, col, "duplicate-key", f"{key}: duplicate key"))
        docs.append(validate_document(doc))
    return docs


def manifest_files(paths: Iterable[str | Path], pattern: str = DEFAULT_GLOB) -> Iterator[Path]:
    """Files named by ``paths`` (directories expanded by ``pattern``), in a stable order."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.glob(pattern) if p.is_file())
        else:
            yield path


def load_paths(paths: Iterable[str | Path], pattern: str = DEFAULT_GLOB) -> list[Document]:
    """Every document of every file named (``-`` is not handled here: read stdin yourself)."""
    docs: list[Document] = []
    for path in manifest_files(paths, pattern):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            docs.append(
                Document(
                    str(path), 0, 1, None, problems=[Problem(str(path), 1, 1, "read", str(exc))]
                )
            )
            continue
        docs += load_text(text, str(path))
    return docs
