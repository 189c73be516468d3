"""Inputs PostgreSQL cannot store are refused at submit and apply, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobsys.client import Client
from jobsys.errors import InputError

pytestmark = pytest.mark.integration


def test_a_nul_character_is_an_input_error_not_a_database_error(client: Client) -> None:
    # PostgreSQL text and JSONB cannot hold U+0000: before, this escaped as a raw DataError.
    with pytest.raises(InputError, match="input 'choose.1': contains a NUL character"):
        client.submit("demo.choose", choose=["ok", "a\x00b"])
    assert client.submit("demo.choose", choose=["ok"]).id  # the store is still usable


def test_a_manifest_with_a_nul_is_invalid_and_not_stored(client: Client, tmp_path: Path) -> None:
    manifest = tmp_path / "nul.job.yaml"
    manifest.write_text(
        "apiVersion: jobsys/v1\nkind: Job\nmetadata: {name: nul-test}\n"
        'steps:\n  - name: a\n    type: demo.echo\n    with: {message: "a\\0b"}\n'
    )
    report = client.apply([str(manifest)])
    assert not report.ok
    assert "nul-character: steps.0.with.message: contains U+0000" in str(
        report.changes[0].problems[0]
    )
    assert "nul-test" not in [t.name for t in client.templates()]
