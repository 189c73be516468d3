"""Manifests become stored JobTemplates: a pure ``plan()`` and a writing ``apply_changes()``.

``plan(docs, existing, source)`` decides, per document, in file order: create,
update, unchanged, conflict (another source owns the template and ``force`` was
not given) or invalid (lint problems). With ``prune``, templates this source
applied before and no longer defines are deleted (soft), except those labelled
``jobsys/protect: "true"``. ``apply_changes()`` writes each change in its own
transaction, so one bad document never stops the others. A manifest with a cron
``trigger`` gets the schedule named after its template in the same transaction
(created, its timing updated, or deleted when the trigger goes or the template is pruned).

Every template written here records its provenance: the source's identity and
kind, the document's path (for git also repo, ref and commit), when it was
applied, and the sha256 of its normalized definition.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from jobsys.errors import InputError, JobsysError, NotFound
from jobsys.jobtypes import JobTypeRegistry
from jobsys.lifecycle import ScheduleState
from jobsys.scheduling import cron
from jobsys.store import schedules, templates
from jobsys.workflows.callback_hosts import HostPolicy
from jobsys.workflows.lint import lint
from jobsys.workflows.loader import Document, Problem
from jobsys.workflows.manifest import Manifest

SourceKind = Literal["file", "stdin", "git", "api"]
#: a template carrying this label with value "true" is never pruned
PROTECT_LABEL = "jobsys/protect"


@dataclass(frozen=True)
class Source:
    """Where documents come from; ``source_id`` is the identity that owns what it applies.

    For files it is the resolved path given to apply; for git ``git:<repo-url>#<glob>``.
    Documents' paths are recorded relative to ``root`` when one is given (a git checkout).
    """

    kind: SourceKind
    source_id: str
    repo: str | None = None
    ref: str | None = None
    commit: str | None = None
    root: str | None = None

    @classmethod
    def for_path(cls, path: str | Path) -> Source:
        """The source of a file or directory given to apply."""
        return cls("file", str(Path(path).expanduser().resolve()))

    @classmethod
    def stdin(cls) -> Source:
        """Documents read from standard input."""
        return cls("stdin", "stdin")

    def path_of(self, file: str) -> str:
        """The path recorded for a document read from ``file``."""
        if self.root is not None:
            try:
                return Path(file).resolve().relative_to(Path(self.root).resolve()).as_posix()
            except ValueError:
                return file
        if self.kind == "file":
            return str(Path(file).resolve())
        return file

    def provenance(self, file: str) -> dict[str, Any]:
        """Provenance of one document (without ``applied_at``, added when written)."""
        out: dict[str, Any] = {
            "source_id": self.source_id,
            "kind": self.kind,
            "path": self.path_of(file),
        }
        if self.kind == "git":
            out |= {"repo": self.repo, "ref": self.ref, "commit": self.commit}
        return out


class Action(StrEnum):
    """What applying does to one template."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    INVALID = "invalid"
    DELETE = "delete"
    PROTECTED = "protected"


#: the word ``jobsys apply`` prints for each action
VERBS: dict[Action, str] = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.UNCHANGED: "unchanged",
    Action.CONFLICT: "conflict",
    Action.INVALID: "invalid",
    Action.DELETE: "pruned",
    Action.PROTECTED: "protected",
}
WRITES = frozenset({Action.CREATE, Action.UPDATE, Action.DELETE})


@dataclass(frozen=True)
class Change:
    """The planned (or applied) change of one template, with where its document is."""

    action: Action
    name: str
    file: str | None = None
    line: int | None = None
    problems: tuple[Problem, ...] = ()
    template_id: str | None = None
    owner: str | None = None
    before: dict[str, Any] | None = field(default=None, repr=False)
    after: dict[str, Any] | None = field(default=None, repr=False)
    values: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def verb(self) -> str:
        """``created``, ``updated``, ``unchanged``, ``pruned``, ``protected``, ``conflict``..."""
        return VERBS[self.action]

    @property
    def where(self) -> str:
        """``file:line`` of the document, or of the stored template's source."""
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    @property
    def diff(self) -> str:
        """A unified diff of the stored definition against the new one (YAML, sorted keys)."""
        if self.action not in WRITES:
            return ""
        label = self.where or self.name
        return "".join(
            difflib.unified_diff(
                _yaml_lines(self.before),
                _yaml_lines(self.after),
                fromfile=f"{self.name} (stored)" if self.before is not None else "/dev/null",
                tofile=f"{self.name} ({label})" if self.after is not None else "/dev/null",
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (what the REST API returns)."""
        return {
            "action": self.action.value,
            "verb": self.verb,
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "template_id": self.template_id,
            "owner": self.owner,
            "problems": [str(p) for p in self.problems],
            "diff": self.diff,
        }


@dataclass(frozen=True)
class ApplyReport:
    """Every change of one apply, in order; ``ok`` unless a document was invalid or in conflict."""

    changes: tuple[Change, ...]
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """No document was invalid or in conflict."""
        return not any(c.action in (Action.INVALID, Action.CONFLICT) for c in self.changes)

    def count(self, action: Action) -> int:
        """How many changes have ``action``."""
        return sum(1 for c in self.changes if c.action is action)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (what the REST API returns)."""
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "changes": [c.to_dict() for c in self.changes],
            "counts": {a.value: self.count(a) for a in Action if self.count(a)},
        }


def definition_of(manifest: Manifest) -> dict[str, Any]:
    """The stored definition: the manifest by alias, JSON types, without ``$schema`` or nulls."""
    return manifest.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"schema_"})


def content_hash(definition: dict[str, Any]) -> str:
    """sha256 of the definition as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def template_values(manifest: Manifest, source: Source, file: str) -> dict[str, Any]:
    """The template row a manifest becomes (``provenance.applied_at`` is added on write)."""
    definition = definition_of(manifest)
    digest = content_hash(definition)
    meta = manifest.metadata
    return {
        "name": meta.name,
        "job_type": manifest.steps[0].type if len(manifest.steps) == 1 else None,
        "default_params": dict(manifest.params),
        "definition": definition,
        "description": meta.description or meta.annotations.get("description", ""),
        "labels": dict(meta.labels),
        "annotations": dict(meta.annotations),
        "source_id": source.source_id,
        "content_hash": digest,
        "provenance": {**source.provenance(file), "content_hash": digest},
    }


def plan(
    docs: Sequence[Document],
    existing_templates: Iterable[Any],
    source: Source,
    *,
    force: bool = False,
    prune: bool = False,
    registry: JobTypeRegistry | None = None,
    hosts: HostPolicy | None = None,
) -> list[Change]:
    """What applying ``docs`` from ``source`` would do, in document order, then prunes by name.

    ``existing_templates`` are stored template rows (soft-deleted ones included).
    With a ``registry`` each document is linted (its HTTP callbacks against ``hosts``, the
    ``callback_allowed_hosts`` policy); without, only its schema problems count.
    Pure: reads nothing, writes nothing.
    """
    stored = {t.name: t for t in existing_templates}
    changes: list[Change] = []
    first_seen: dict[str, str] = {}
    unreadable: set[str] = set()
    for doc in docs:
        problems = (
            lint(doc, registry, hosts=hosts) if registry is not None else sorted(set(doc.problems))
        )
        name = _name_of(doc)
        if name is None:
            unreadable.add(source.path_of(doc.file))
        elif name in first_seen:
            problems.append(
                doc.problem(
                    ("metadata", "name"),
                    "duplicate-template",
                    f"template {name!r} is already defined at {first_seen[name]}",
                )
            )
        else:
            first_seen[name] = f"{doc.file}:{doc.line}"
        if problems or doc.manifest is None:
            label = name or f"<document {doc.index + 1}>"
            changes.append(Change(Action.INVALID, label, doc.file, doc.line, tuple(problems)))
            continue
        changes.append(
            _plan_one(doc, doc.manifest, stored.get(doc.manifest.metadata.name), source, force)
        )
    if prune:
        changes += _prunes(stored.values(), set(first_seen), unreadable, source)
    return changes


def _name_of(doc: Document) -> str | None:
    if doc.manifest is not None:
        return doc.manifest.metadata.name
    meta = doc.data.get("metadata") if isinstance(doc.data, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else None


def _plan_one(
    doc: Document, manifest: Manifest, current: Any, source: Source, force: bool
) -> Change:
    values = template_values(manifest, source, doc.file)
    change = Change(
        Action.CREATE, values["name"], doc.file, doc.line, after=values["definition"], values=values
    )
    if current is None:
        return change
    change = replace(change, template_id=current.id, before=current.definition)
    owner = current.source_id
    if owner is not None and owner != source.source_id and not force:
        return replace(change, action=Action.CONFLICT, owner=owner, values=None)
    unchanged = (
        owner == source.source_id
        and current.content_hash == values["content_hash"]
        and current.deleted_at is None
        and current.status == "ACTIVE"
    )
    return replace(change, action=Action.UNCHANGED if unchanged else Action.UPDATE, owner=owner)


def _prunes(
    stored: Iterable[Any], defined: set[str], unreadable: set[str], source: Source
) -> list[Change]:
    out: list[Change] = []
    for t in sorted(stored, key=lambda t: t.name):
        if t.source_id != source.source_id or t.deleted_at is not None or t.name in defined:
            continue
        path = (t.provenance or {}).get("path")
        if path in unreadable:
            continue  # its file did not parse this time: never prune what cannot be read
        action = (
            Action.PROTECTED if (t.labels or {}).get(PROTECT_LABEL) == "true" else Action.DELETE
        )
        out.append(
            Change(
                action, t.name, path, None, template_id=t.id, owner=t.source_id, before=t.definition
            )
        )
    return out


def apply_changes(
    engine: Engine, changes: Sequence[Change], *, now: datetime | None = None
) -> ApplyReport:
    """Write each change in its own transaction; a failing one is reported as invalid."""
    applied_at = now or datetime.now(UTC)
    out: list[Change] = []
    for change in changes:
        if change.action not in WRITES:
            out.append(change)
            continue
        try:
            with engine.begin() as conn:
                template_id = _write(conn, change, applied_at)
            out.append(replace(change, template_id=template_id))
        except (IntegrityError, JobsysError) as exc:
            out.append(_failed(change, exc))
    return ApplyReport(tuple(out))


def _write(conn: Any, change: Change, now: datetime) -> str:
    if change.action is Action.DELETE:
        assert change.template_id is not None
        templates.soft_delete(conn, change.template_id, now)
        _sync_schedule(conn, change.template_id, change.name, None, now)
        return change.template_id
    assert change.values is not None
    values = dict(change.values)
    values["provenance"] = {**values["provenance"], "applied_at": now.isoformat()}
    if change.action is Action.CREATE:
        template_id = templates.insert_template(conn, values, now)
    else:
        assert change.template_id is not None
        template_id = change.template_id
        templates.update_template(conn, template_id, values, now)
    _sync_schedule(conn, template_id, change.name, values["definition"], now)
    return template_id


def _sync_schedule(
    conn: Any, template_id: str, name: str, definition: dict[str, Any] | None, now: datetime
) -> None:
    """A cron ``trigger`` becomes the schedule named after the template (created, or its
    timing updated); a template without one, or pruned, has that schedule deleted."""
    trigger = (definition or {}).get("trigger") or {}
    try:
        existing = schedules.get_schedule(conn, name)
    except NotFound:
        existing = None
    if existing is not None and existing.template_id != template_id:
        if trigger.get("type") == "cron":
            raise InputError(
                name, "trigger", f"schedule {name!r} already exists for another template"
            )
        return
    if trigger.get("type") != "cron":
        if existing is not None:
            schedules.set_state(conn, existing.id, ScheduleState.DELETED, now)
        return
    timing = cron.timing(trigger["cron"], None, trigger.get("timezone", "UTC"), subject=name)
    values: dict[str, Any] = {
        "cron_expression": timing.cron,
        "interval_seconds": None,
        "timezone": timing.timezone,
    }
    if existing is None:
        values |= {"name": name, "template_id": template_id, "param_overrides": {}}
        values["next_trigger_at"] = cron.first_after(timing, now)
        schedules.insert_schedule(conn, values, enabled=True, now=now)
    elif (existing.cron_expression, existing.timezone) != (timing.cron, timing.timezone):
        enabled = existing.status == ScheduleState.ENABLED.value
        values["next_trigger_at"] = cron.first_after(timing, now) if enabled else None
        schedules.update_schedule(conn, existing.id, values, now)


def _failed(change: Change, exc: Exception) -> Change:
    if isinstance(exc, IntegrityError):
        message = f"template {change.name!r} could not be written (created meanwhile?)"
    else:
        message = str(exc)
    problem = Problem(change.file or change.name, change.line or 1, 1, "store", message)
    return replace(change, action=Action.INVALID, problems=(*change.problems, problem))


def _yaml_lines(definition: dict[str, Any] | None) -> list[str]:
    if definition is None:
        return []
    text = yaml.safe_dump(definition, sort_keys=True, default_flow_style=False, allow_unicode=True)
    return text.splitlines(keepends=True)
