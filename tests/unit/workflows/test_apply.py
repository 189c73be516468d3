"""Manifests become templates: plan() case by case, then apply on a SQLite store."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from jobsys import Client
from jobsys.errors import InputError, InvalidTransition, NotFound
from jobsys.jobtypes import discover
from jobsys.settings import Settings
from jobsys.store.models import JobTemplate, new_id, utcnow
from jobsys.workflows.apply import (
    Action,
    Source,
    apply_changes,
    content_hash,
    definition_of,
    plan,
)
from jobsys.workflows.loader import load_text

REGISTRY = discover()
SRC = Source("file", "/repo/jobs")
OTHER = Source("file", "/elsewhere")


def manifest(name: str, message: str = "hi", labels: dict[str, str] | None = None) -> str:
    """A one-step manifest running demo.echo."""
    label_text = "".join(f"\n    {k}: {v!r}" for k, v in (labels or {}).items())
    return textwrap.dedent(f"""\
        apiVersion: jobsys/v1
        kind: Job
        metadata:
          name: {name}
          labels: {{}}
        steps:
          - name: say
            type: demo.echo
            with: {{message: {message!r}}}
        """).replace("labels: {}", "labels:" + label_text if label_text else "labels: {}")


TWO_STEPS = """\
apiVersion: jobsys/v1
kind: Job
metadata: {name: pipe, description: two steps}
params: {who: world}
steps:
  - {name: a, type: demo.echo, with: {message: "hello ${{ params.who }}"}, next: b}
  - {name: b, type: jobsys.noop}
"""


@dataclass
class Stored:
    """A stored template row as plan() reads it."""

    name: str
    source_id: str | None
    content_hash: str | None = None
    definition: dict[str, Any] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    status: str = "ACTIVE"
    deleted_at: datetime | None = None
    id: str = field(default_factory=new_id)


def stored_from(text: str, source: Source, **kw: Any) -> Stored:
    """The row an earlier apply of ``text`` from ``source`` left."""
    m = load_text(text, "x.job.yaml")[0].manifest
    assert m is not None
    definition = definition_of(m)
    prov = {"path": kw.pop("path", "/repo/jobs/x.job.yaml")}
    return Stored(
        m.metadata.name,
        source.source_id,
        content_hash(definition),
        definition,
        provenance=prov,
        **kw,
    )


def plan_text(text: str, existing: list[Stored] = (), **kw: Any) -> list[Any]:  # type: ignore[assignment]
    return plan(load_text(text, "x.job.yaml"), existing, SRC, registry=REGISTRY, **kw)


def actions(changes: list[Any]) -> list[tuple[str, str]]:
    return [(c.action.value, c.name) for c in changes]


# --- plan: one case each ---------------------------------------------------------------------


def test_a_new_name_is_created_with_its_row() -> None:
    [change] = plan_text(manifest("greet"))
    assert change.action is Action.CREATE and change.name == "greet"
    assert (change.file, change.line) == ("x.job.yaml", 1)
    values = change.values
    assert values["job_type"] == "demo.echo"  # a single-step job is a template of its type
    assert values["source_id"] == "/repo/jobs"
    assert values["provenance"]["kind"] == "file"
    assert values["provenance"]["content_hash"] == values["content_hash"]
    assert values["definition"]["steps"][0]["with"] == {"message": "hi"}


def test_a_multi_step_manifest_has_no_single_job_type_and_keeps_its_params() -> None:
    [change] = plan_text(TWO_STEPS)
    assert change.values["job_type"] is None
    assert change.values["default_params"] == {"who": "world"}
    assert change.values["description"] == "two steps"


def test_same_content_from_the_same_source_is_unchanged() -> None:
    text = manifest("greet")
    [change] = plan_text(text, [stored_from(text, SRC)])
    assert change.action is Action.UNCHANGED


def test_changed_content_is_an_update_with_a_diff() -> None:
    [change] = plan_text(manifest("greet", "bye"), [stored_from(manifest("greet"), SRC)])
    assert change.action is Action.UPDATE
    assert "-    message: hi\n" in change.diff and "+    message: bye\n" in change.diff


def test_a_template_owned_by_another_source_is_a_conflict() -> None:
    [change] = plan_text(manifest("greet", "bye"), [stored_from(manifest("greet"), OTHER)])
    assert change.action is Action.CONFLICT
    assert change.owner == "/elsewhere"
    assert change.values is None


def test_force_takes_over_a_template_of_another_source() -> None:
    text = manifest("greet")
    [change] = plan_text(text, [stored_from(text, OTHER)], force=True)
    assert change.action is Action.UPDATE
    assert change.values["source_id"] == "/repo/jobs"


def test_an_archived_template_is_revived_by_an_update() -> None:
    text = manifest("greet")
    row = stored_from(text, SRC, status="ARCHIVED", deleted_at=datetime.now(UTC))
    [change] = plan_text(text, [row])
    assert change.action is Action.UPDATE


def test_prune_deletes_what_this_source_no_longer_defines_but_not_others() -> None:
    existing = [
        stored_from(manifest("kept"), SRC),
        stored_from(manifest("gone"), SRC),
        stored_from(manifest("theirs"), OTHER),
        stored_from(manifest("old"), SRC, status="ARCHIVED", deleted_at=datetime.now(UTC)),
    ]
    changes = plan_text(manifest("kept"), existing, prune=True)
    assert actions(changes) == [("unchanged", "kept"), ("delete", "gone")]
    assert changes[1].verb == "pruned"
    assert "-kind: Job" in changes[1].diff


def test_without_prune_nothing_is_deleted() -> None:
    changes = plan_text(manifest("kept"), [stored_from(manifest("gone"), SRC)])
    assert actions(changes) == [("create", "kept")]


def test_a_protected_template_is_reported_not_pruned() -> None:
    row = stored_from(manifest("keep-me"), SRC, labels={"jobsys/protect": "true"})
    changes = plan_text(manifest("other"), [row], prune=True)
    assert actions(changes) == [("create", "other"), ("protected", "keep-me")]


def test_an_invalid_document_carries_its_problems_and_the_others_are_planned() -> None:
    bad = manifest("broken").replace("demo.echo", "no.such.type")
    text = manifest("first") + "---\n" + bad + "---\n" + manifest("third")
    changes = plan_text(text)
    assert actions(changes) == [("create", "first"), ("invalid", "broken"), ("create", "third")]
    [problem] = changes[1].problems
    assert problem.rule == "unknown-job-type"
    assert changes[1].line == 11  # the document starts after the first and its ---
    assert (problem.file, problem.line) == ("x.job.yaml", 18)  # its type: line


def test_a_file_that_does_not_parse_is_never_pruned_from() -> None:
    docs = load_text("apiVersion: [unclosed", "/repo/jobs/x.job.yaml")
    changes = plan(docs, [stored_from(manifest("greet"), SRC)], SRC, prune=True)
    assert actions(changes) == [("invalid", "<document 1>")]
    assert changes[0].problems[0].rule == "yaml-syntax"


def test_an_invalid_document_keeps_its_template_from_being_pruned() -> None:
    broken = manifest("greet").replace("demo.echo", "no.such.type")
    changes = plan_text(broken, [stored_from(manifest("greet"), SRC)], prune=True)
    assert actions(changes) == [("invalid", "greet")]


def test_the_same_name_twice_is_invalid_the_second_time() -> None:
    changes = plan_text(manifest("twin") + "---\n" + manifest("twin", "again"))
    assert actions(changes) == [("create", "twin"), ("invalid", "twin")]
    assert changes[1].problems[0].rule == "duplicate-template"
    assert "already defined at x.job.yaml:1" in changes[1].problems[0].message


def test_multi_document_files_keep_file_order_then_document_order(tmp_path: Path) -> None:
    (tmp_path / "b.job.yaml").write_text(manifest("b1") + "---\n" + manifest("a2"))
    (tmp_path / "a.job.yaml").write_text(manifest("z1"))
    from jobsys.workflows.loader import load_paths

    changes = plan(load_paths([tmp_path]), [], Source.for_path(tmp_path), registry=REGISTRY)
    assert actions(changes) == [("create", "z1"), ("create", "b1"), ("create", "a2")]
    assert [c.values["provenance"]["path"] for c in changes] == [
        str(tmp_path / "a.job.yaml"),
        str(tmp_path / "b.job.yaml"),
        str(tmp_path / "b.job.yaml"),
    ]


def test_git_provenance_records_repo_ref_commit_and_relative_path(tmp_path: Path) -> None:
    source = Source("git", "git:https://x/r.git#**/*.job.yaml", "https://x/r.git", "main", "abc")
    source = Source(**{**source.__dict__, "root": str(tmp_path)})
    docs = load_text(manifest("g"), str(tmp_path / "jobs" / "g.job.yaml"))
    [change] = plan(docs, [], source, registry=REGISTRY)
    prov = change.values["provenance"]
    assert {k: prov[k] for k in ("kind", "repo", "ref", "commit", "path")} == {
        "kind": "git",
        "repo": "https://x/r.git",
        "ref": "main",
        "commit": "abc",
        "path": "jobs/g.job.yaml",
    }


# --- apply on a SQLite store ---------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(Settings(home=tmp_path / "home")) as c:
        yield c


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "jobs"
    path.mkdir()
    (path / "greet.job.yaml").write_text(manifest("greet"))
    (path / "nested").mkdir()
    (path / "nested" / "pipe.job.yaml").write_text(TWO_STEPS)
    (path / "notes.yaml").write_text("not: a manifest\n")  # not *.job.yaml: ignored
    return path


def test_apply_stores_templates_and_reapplying_writes_nothing(
    client: Client, jobs_dir: Path
) -> None:
    report = client.apply([jobs_dir])
    assert report.ok and actions(list(report.changes)) == [("create", "greet"), ("create", "pipe")]
    row = client.template("greet")
    assert (row.status, row.job_type, row.deleted_at) == ("ACTIVE", "demo.echo", None)
    assert row.source_id == str(jobs_dir.resolve())
    assert row.provenance["path"] == str(jobs_dir / "greet.job.yaml")
    assert datetime.fromisoformat(row.provenance["applied_at"]) <= utcnow()
    assert [t.name for t in client.templates()] == ["greet", "pipe"]

    again = client.apply([jobs_dir])
    assert [c.action for c in again.changes] == [Action.UNCHANGED, Action.UNCHANGED]
    assert client.template("greet").updated_at == row.updated_at


def test_an_update_bumps_updated_at_and_keeps_the_id(client: Client, jobs_dir: Path) -> None:
    client.apply([jobs_dir])
    before = client.template("greet")
    (jobs_dir / "greet.job.yaml").write_text(manifest("greet", "changed"))
    [update, unchanged] = client.apply([jobs_dir]).changes
    assert (update.action, unchanged.action) == (Action.UPDATE, Action.UNCHANGED)
    after = client.template("greet")
    assert after.id == before.id and after.updated_at > before.updated_at
    assert after.definition["steps"][0]["with"] == {"message": "changed"}


def test_dry_run_and_diff_write_nothing(client: Client, jobs_dir: Path) -> None:
    report = client.apply([jobs_dir], dry_run=True)
    assert report.dry_run and [c.action for c in report.changes] == [Action.CREATE] * 2
    changes = client.diff([jobs_dir])
    assert changes[0].diff.startswith("--- /dev/null\n+++ greet (")
    assert client.templates() == []


def test_conflict_force_and_prune_across_two_sources(
    client: Client, jobs_dir: Path, tmp_path: Path
) -> None:
    client.apply([jobs_dir])
    other = tmp_path / "other.job.yaml"
    other.write_text(manifest("greet", "mine now"))
    report = client.apply([other])
    assert not report.ok and report.changes[0].action is Action.CONFLICT
    assert client.template("greet").definition["steps"][0]["with"] == {"message": "hi"}

    assert client.apply([other], force=True).changes[0].action is Action.UPDATE
    assert client.template("greet").source_id == str(other.resolve())

    (jobs_dir / "nested" / "pipe.job.yaml").unlink()
    pruned = client.apply([jobs_dir], prune=True)
    # greet now belongs to the other source: the directory may neither update nor prune it
    assert actions(list(pruned.changes)) == [("conflict", "greet"), ("delete", "pipe")]
    assert [t.name for t in client.templates()] == ["greet"]
    gone = client.template("pipe")
    assert gone.status == "ARCHIVED" and gone.deleted_at is not None
    assert [t.name for t in client.templates(include_deleted=True)] == ["greet", "pipe"]

    (jobs_dir / "nested" / "pipe.job.yaml").write_text(TWO_STEPS)
    revived = client.apply([jobs_dir / "nested" / ".."])
    assert revived.changes[1].action is Action.UPDATE
    back = client.template("pipe")
    assert (back.status, back.deleted_at, back.id) == ("ACTIVE", None, gone.id)


def test_one_transaction_per_document_a_failing_one_leaves_the_others(
    client: Client, jobs_dir: Path
) -> None:
    from jobsys.workflows.loader import load_paths

    source = Source.for_path(jobs_dir)
    changes = plan(load_paths([jobs_dir]), [], source, registry=REGISTRY)
    # Between planning and writing, someone else stores a template named "greet".
    with client.runtime.engine.begin() as conn:
        conn.execute(
            insert(JobTemplate.__table__).values(  # type: ignore[arg-type]
                id=new_id(),
                name="greet",
                default_params={},
                description="",
                labels={},
                annotations={},
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    report = apply_changes(client.runtime.engine, changes)
    assert actions(list(report.changes)) == [("invalid", "greet"), ("create", "pipe")]
    assert report.changes[0].problems[-1].rule == "store"
    assert not report.ok
    assert client.template("pipe").status == "ACTIVE"


def test_stdin_text_is_its_own_source(client: Client) -> None:
    report = client.apply(text=manifest("typed"))
    assert report.changes[0].action is Action.CREATE
    row = client.template("typed")
    assert row.provenance["kind"] == "stdin" and row.source_id == "stdin"


def test_apply_without_input_is_an_input_error(client: Client) -> None:
    with pytest.raises(InputError, match="paths"):
        client.apply([])


def test_to_dict_is_json_ready(client: Client, jobs_dir: Path) -> None:
    import json

    data = client.apply([jobs_dir]).to_dict()
    assert data["ok"] is True and data["counts"] == {"create": 2}
    assert data["changes"][0]["verb"] == "created"
    json.dumps(data)


# --- templates without a manifest ----------------------------------------------------------


def test_create_template_validates_defaults_against_the_job_type(client: Client) -> None:
    row = client.create_template("echo-thrice", "demo.echo", {"message": "x", "times": "3"})
    assert (row.job_type, row.default_params, row.definition) == (
        "demo.echo",
        {"message": "x", "times": 3},
        None,
    )
    assert row.status == "ACTIVE" and row.provenance["kind"] == "api"
    with pytest.raises(InputError) as info:
        client.create_template("bad", "demo.echo", {"message": "x", "times": 0})
    assert info.value.field == "times"
    with pytest.raises(InputError) as unknown:
        client.create_template("bad", "demo.echo", {"mesage": "x"})
    assert unknown.value.field == "mesage"
    assert [t.name for t in client.templates()] == ["echo-thrice"]


def test_create_template_refuses_a_bad_or_duplicate_name(client: Client) -> None:
    client.create_template("once", "jobsys.noop")
    with pytest.raises(InputError, match="'once' already exists") as dup:
        client.create_template("once", "jobsys.noop")
    assert dup.value.field == "name"
    with pytest.raises(InputError) as bad:
        client.create_template("Not A Name", "jobsys.noop")
    assert bad.value.field == "name"


def test_apply_does_not_overwrite_a_template_the_client_created(client: Client) -> None:
    client.create_template("greet", "demo.echo", {"message": "x"})
    assert client.apply(text=manifest("greet")).changes[0].action is Action.CONFLICT


def test_archive_then_archive_again_and_unknown_names(client: Client) -> None:
    client.create_template("old", "jobsys.noop")
    row = client.archive_template("old")
    assert row.status == "ARCHIVED" and row.deleted_at is not None
    assert client.templates() == []
    with pytest.raises(InvalidTransition):
        client.archive_template("old")
    with pytest.raises(NotFound):
        client.template("missing")
    with pytest.raises(NotFound):
        client.archive_template("missing")


def test_the_content_hash_ignores_key_order_and_schema_url() -> None:
    a = load_text(manifest("h"), "a")[0].manifest
    b = load_text("$schema: https://x\n" + manifest("h"), "b")[0].manifest
    assert a is not None and b is not None
    assert content_hash(definition_of(a)) == content_hash(definition_of(b))
    assert content_hash({"x": 1, "y": 2}) == content_hash({"y": 2, "x": 1})


def test_a_stored_definition_validates_back_into_the_same_manifest() -> None:
    from jobsys.workflows.manifest import Manifest

    for path in sorted((Path(__file__).resolve().parents[3] / "config" / "manifests").glob("*")):
        [doc] = load_text(path.read_text(), str(path))
        assert doc.manifest is not None
        again = Manifest.model_validate(definition_of(doc.manifest))
        assert again == doc.manifest.model_copy(update={"schema_": None})
