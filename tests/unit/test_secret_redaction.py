"""Secret values resolved through ``ctx.secrets`` never reach the job's log or its error text."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import BaseModel

from jobsys.context import JobContext
from jobsys.errors import FatalJobError
from jobsys.testing import make_context

PLANTED = "pl4nted-s3cret-value"


class Inputs(BaseModel):
    """A job that talks to a service with a token."""

    token: str = "secret://env/JOBSYS_TEST_PLANTED"


def leaky_job(inputs: Inputs, ctx: JobContext) -> None:
    """Does everything a careless job might do with a secret, then fails quoting it."""
    token = ctx.secrets.resolve(inputs.token)
    ctx.logger.info("connecting with token %s", token)
    ctx.logger.warning(f"retrying with {token}")
    try:
        raise ValueError(f"server refused {token}")
    except ValueError:
        ctx.logger.exception("request failed")
    raise FatalJobError(f"gave up: token {token} rejected")


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JobContext:
    monkeypatch.setenv("JOBSYS_TEST_PLANTED", PLANTED)
    return make_context(tmp_path)


def test_a_jobs_log_never_contains_a_secret_it_resolved(ctx: JobContext) -> None:
    with pytest.raises(FatalJobError) as info:
        leaky_job(Inputs(), ctx)
    ctx.close()
    log = ctx.log_path.read_text()
    assert PLANTED not in log
    assert "connecting with token ***" in log
    assert "retrying with ***" in log
    assert "ValueError: server refused ***" in log  # the traceback too
    assert ctx.redact(str(info.value)) == "gave up: token *** rejected"


def test_records_passed_up_to_the_worker_log_are_masked_too(
    ctx: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    token = ctx.secrets.resolve("secret://env/JOBSYS_TEST_PLANTED")
    with caplog.at_level(logging.INFO, logger="jobsys.job"):
        ctx.logger.info("token=%s", token)
    ctx.close()
    assert caplog.messages == ["token=***"]
    assert PLANTED not in caplog.text


def test_a_warning_quoting_a_secret_is_recorded_masked(ctx: JobContext) -> None:
    token = ctx.secrets.resolve("secret://env/JOBSYS_TEST_PLANTED")
    ctx.warn(f"token {token} expires soon")
    ctx.close()
    assert ctx.warnings == ["token *** expires soon"]
    assert PLANTED not in ctx.log_path.read_text()


def test_only_resolved_values_are_masked(ctx: JobContext) -> None:
    assert ctx.redact(f"nothing resolved yet: {PLANTED}") == f"nothing resolved yet: {PLANTED}"
    ctx.secrets.resolve("secret://env/JOBSYS_TEST_PLANTED")
    assert ctx.redact(f"now: {PLANTED}!") == "now: ***!"


def test_a_multi_line_key_is_masked_whole_and_line_by_line(ctx: JobContext, tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\n-----END KEY-----\n")
    value = ctx.secrets.resolve(f"secret://file{key}")
    assert ctx.redact(f"key: {value}") == "key: ***"
    assert ctx.redact("a line of it: AAAABBBBCCCCDDDD") == "a line of it: ***"


def test_the_resolver_still_offers_its_schemes(ctx: JobContext) -> None:
    assert ctx.secrets.schemes == {"env", "file"}  # type: ignore[attr-defined]


def test_outputs_quoting_a_secret_are_masked_in_every_string(ctx: JobContext) -> None:
    token = ctx.secrets.resolve("secret://env/JOBSYS_TEST_PLANTED")
    outputs = {"note": f"used {token}", "tries": [1, {token: f"x{token}"}], "n": 2}
    assert ctx.redact_data(outputs) == {"note": "used ***", "tries": [1, {"***": "x***"}], "n": 2}
