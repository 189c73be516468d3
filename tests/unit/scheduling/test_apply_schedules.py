"""A manifest's cron trigger becomes its template's schedule on apply, and follows it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobsys.client import Client
from jobsys.settings import Settings
from jobsys.workflows.apply import Action

MANIFEST = """\
apiVersion: jobsys/v1
kind: Job
metadata: {{name: nightly}}
{trigger}
steps:
  - {{name: hello, type: demo.echo, with: {{message: hi}}}}
"""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(Settings(home=tmp_path / "home")) as c:
        yield c


def apply(client: Client, trigger: str, *, prune: bool = False, text: str | None = None) -> Action:
    report = client.apply(
        [], text=MANIFEST.format(trigger=trigger) if text is None else text, prune=prune
    )
    return report.changes[0].action


def test_a_cron_trigger_becomes_a_schedule_named_after_the_template(client: Client) -> None:
    apply(client, "trigger: {type: cron, cron: '30 2 * * *', timezone: Europe/Paris}")
    row = client.schedule("nightly")
    assert (row.cron_expression, row.timezone, row.status) == (
        "30 2 * * *",
        "Europe/Paris",
        "ENABLED",
    )
    assert row.template_name == "nightly"
    assert row.next_trigger_at is not None


def test_changing_the_trigger_updates_the_schedule_and_removing_it_deletes_it(
    client: Client,
) -> None:
    apply(client, "trigger: {type: cron, cron: '30 2 * * *', timezone: Europe/Paris}")
    first = client.schedule("nightly")
    apply(client, "trigger: {type: cron, cron: '0 9 * * *', timezone: Asia/Tokyo}")
    changed = client.schedule("nightly")
    assert changed.id == first.id
    assert (changed.cron_expression, changed.timezone) == ("0 9 * * *", "Asia/Tokyo")
    apply(client, "trigger: {type: manual}")
    assert client.schedules() == []


def test_a_disabled_schedule_stays_disabled_when_its_manifest_is_applied_again(
    client: Client,
) -> None:
    apply(client, "trigger: {type: cron, cron: '30 2 * * *'}")
    client.disable_schedule("nightly")
    apply(client, "trigger: {type: cron, cron: '45 2 * * *'}")
    row = client.schedule("nightly")
    assert row.status == "DISABLED" and row.cron_expression == "45 2 * * *"


def test_an_invalid_timezone_is_refused_at_apply_and_nothing_is_written(client: Client) -> None:
    action = apply(client, "trigger: {type: cron, cron: '30 2 * * *', timezone: Mars/Base}")
    assert action is Action.INVALID
    assert client.templates() == [] and client.schedules() == []


def test_pruning_the_template_deletes_its_schedule(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    path = folder / "nightly.job.yaml"
    path.write_text(MANIFEST.format(trigger="trigger: {type: cron, cron: '0 3 * * *'}"))
    client.apply([folder])
    assert client.schedule("nightly").status == "ENABLED"
    path.unlink()
    (folder / "other.job.yaml").write_text(MANIFEST.format(trigger="").replace("nightly", "other"))
    client.apply([folder], prune=True)
    assert [s.name for s in client.schedules()] == []
