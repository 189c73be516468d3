"""``Client``'s templates: apply, diff and prune manifests, Git sync, single-job templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from jobsys.client_base import CLIENT_SOURCE, ClientBase, _now
from jobsys.errors import InputError, NotFound
from jobsys.jobtypes import validate_inputs
from jobsys.secrets import SecretResolver
from jobsys.store import templates
from jobsys.store.session import store_errors
from jobsys.workflows.apply import ApplyReport, Change, Source, apply_changes, plan
from jobsys.workflows.callback_hosts import HostPolicy
from jobsys.workflows.loader import Document, load_paths, load_text
from jobsys.workflows.manifest import Metadata

if TYPE_CHECKING:  # dulwich loads only when a sync runs
    from jobsys.workflows.gitsync import GitConfig, SyncResult


class TemplatesClient(ClientBase):
    """Stored job definitions (JobTemplates)."""

    # --- templates ------------------------------------------------------------------------

    def apply(
        self,
        paths: Sequence[str | Path] = (),
        *,
        text: str | None = None,
        source: Source | None = None,
        force: bool = False,
        prune: bool = False,
        dry_run: bool = False,
    ) -> ApplyReport:
        """Store the manifests of ``paths`` (files, directories of ``*.job.yaml``) or ``text``.

        Each path is its own source unless ``source`` is given; each document is
        written in its own transaction, so a bad one is reported and the others apply.
        """
        changes: list[Change] = []
        for src, docs in self._sources(paths, text, source):
            changes += self._apply_docs(src, docs, force, prune, dry_run)
        return ApplyReport(tuple(changes), dry_run=dry_run)

    def sync_git(
        self,
        config: GitConfig,
        *,
        force: bool = False,
        prune: bool = False,
        secrets: SecretResolver | None = None,
    ) -> SyncResult:
        """Fetch the repository and apply its manifests if the commit changed (or ``force``).

        ``force`` also takes over templates other sources own. Provenance records
        repo, ref, commit and the path inside the repository.
        """
        from jobsys.workflows import gitsync
        from jobsys.workflows.gitsync import SyncResult

        checkout = gitsync.fetch(config, secrets)
        if checkout.already_synced and not force:
            return SyncResult(checkout.commit, True, ApplyReport(()))
        changes = self._apply_docs(checkout.source, checkout.docs, force, prune, False)
        gitsync.mark_synced(config, checkout.commit)
        return SyncResult(checkout.commit, False, ApplyReport(tuple(changes)))

    def _apply_docs(
        self, source: Source, docs: list[Document], force: bool, prune: bool, dry_run: bool
    ) -> tuple[Change, ...]:
        planned = self._plan(source, docs, force=force, prune=prune)
        if dry_run:
            return tuple(planned)
        with store_errors(self.settings):
            return apply_changes(self.runtime.engine, planned).changes

    def diff(
        self,
        paths: Sequence[str | Path] = (),
        *,
        text: str | None = None,
        source: Source | None = None,
        force: bool = False,
        prune: bool = False,
    ) -> list[Change]:
        """What ``apply`` would do; each ``Change.diff`` is a unified diff of the definition."""
        return [
            change
            for src, docs in self._sources(paths, text, source)
            for change in self._plan(src, docs, force=force, prune=prune)
        ]

    def _sources(
        self, paths: Sequence[str | Path], text: str | None, source: Source | None
    ) -> list[tuple[Source, list[Document]]]:
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if not paths and text is None:
            raise InputError("apply", "paths", "give manifest files, directories or text")
        out: list[tuple[Source, list[Document]]] = []
        if source is not None:
            docs = load_paths(paths) + (load_text(text, "<stdin>") if text is not None else [])
            return [(source, docs)]
        out = [(Source.for_path(p), load_paths([p])) for p in paths]
        if text is not None:
            out.append((Source.stdin(), load_text(text, "<stdin>")))
        return out

    def _plan(
        self, source: Source, docs: list[Document], *, force: bool, prune: bool
    ) -> list[Change]:
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            existing = templates.list_templates(conn, include_deleted=True)
        hosts = HostPolicy(self.settings.callback_allowed_hosts)
        return plan(
            docs, existing, source, force=force, prune=prune, registry=self.registry, hosts=hosts
        )

    def templates(self, include_deleted: bool = False) -> list[Any]:
        """Stored templates by name; archived (soft-deleted) ones only with ``include_deleted``."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return templates.list_templates(conn, include_deleted=include_deleted)

    def template(self, name_or_id: str) -> Any:
        """One template's row by name or id (archived ones too), or ``NotFound``."""
        with store_errors(self.settings), self.runtime.engine.connect() as conn:
            return templates.get_template(conn, name_or_id)

    def create_template(
        self,
        name: str,
        job_type: str,
        default_params: Mapping[str, Any] | None = None,
        *,
        description: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> Any:
        """Store a single-job-type template (no manifest); its defaults must fit the job type."""
        try:
            Metadata(name=name, labels=dict(labels or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError("template", where, first["msg"]) from exc
        spec = self.registry.get(job_type)
        params = validate_inputs(
            spec, default_params or {}, roots=self.runtime.path_roots
        ).model_dump(mode="json")
        now = _now()
        values = {
            "name": name,
            "job_type": spec.name,
            "default_params": params,
            "definition": None,
            "description": description,
            "labels": dict(labels or {}),
            "annotations": {},
            "source_id": CLIENT_SOURCE,
            "content_hash": None,
            "provenance": {
                "source_id": CLIENT_SOURCE,
                "kind": "api",
                "applied_at": now.isoformat(),
            },
        }
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            try:
                existing = templates.get_template(conn, name)
            except NotFound:
                template_id = templates.insert_template(conn, values, now)
                return templates.get_template(conn, template_id)
        state = "archived " if existing.deleted_at is not None else ""
        raise InputError("template", "name", f"a {state}template named {name!r} already exists")

    def archive_template(self, name: str) -> Any:
        """Archive (soft-delete) a template: it stays readable but is not for new jobs."""
        with store_errors(self.settings), self.runtime.engine.begin() as conn:
            row = templates.get_template(conn, name)
            return templates.soft_delete(conn, row.id, _now())
