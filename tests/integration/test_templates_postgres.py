"""Apply, conflict, force, prune and revive on PostgreSQL (the SQLite unit tests' flow)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobsys import Client
from jobsys.settings import Settings
from jobsys.workflows.apply import Action

pytestmark = pytest.mark.integration


def manifest(name: str, message: str = "hi") -> str:
    return (
        f"apiVersion: jobsys/v1\nkind: Job\nmetadata: {{name: {name}}}\n"
        f"steps:\n  - {{name: say, type: demo.echo, with: {{message: {message!r}}}}}\n"
    )


@pytest.fixture
def client(pg_url: str, tmp_path: Path) -> Iterator[Client]:
    with Client(Settings(database_url=pg_url, home=tmp_path / "home")) as c:
        yield c


def test_apply_conflict_force_prune_and_revive_on_postgresql(
    client: Client, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]  # the session's database is shared by tests: names of our own
    a, b = f"a-{tag}", f"b-{tag}"
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "a.job.yaml").write_text(manifest(a))
    (jobs / "b.job.yaml").write_text(manifest(b))

    first = client.apply([jobs])
    assert [c.action for c in first.changes] == [Action.CREATE, Action.CREATE]
    assert [c.action for c in client.apply([jobs]).changes] == [Action.UNCHANGED] * 2
    stored = client.template(a)
    assert stored.source_id == str(jobs.resolve()) and stored.definition["kind"] == "Job"

    other = tmp_path / "other.job.yaml"
    other.write_text(manifest(a, "taken"))
    conflict = client.apply([other])
    assert not conflict.ok and conflict.changes[0].owner == str(jobs.resolve())
    assert client.apply([other], force=True).changes[0].action is Action.UPDATE
    assert client.template(a).definition["steps"][0]["with"] == {"message": "taken"}

    (jobs / "b.job.yaml").unlink()
    pruned = client.apply([jobs], prune=True)
    assert [(c.action, c.name) for c in pruned.changes] == [
        (Action.CONFLICT, a),
        (Action.DELETE, b),
    ]
    gone = client.template(b)
    assert gone.status == "ARCHIVED" and gone.deleted_at is not None
    assert b not in {t.name for t in client.templates()}

    (jobs / "b.job.yaml").write_text(manifest(b))
    assert client.apply([jobs / "b.job.yaml"]).changes[0].action is Action.CONFLICT
    revived = client.apply([jobs], force=True)
    assert [c.action for c in revived.changes] == [Action.UPDATE, Action.UPDATE]
    back = client.template(b)
    assert (back.status, back.deleted_at, back.id) == ("ACTIVE", None, gone.id)
