"""The built-in job types, called directly as the plain functions they are."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobsys import FatalJobError, JobContext, RetryableJobError
from jobsys.context import NullProgress
from tasks.builtin.demo import (
    EchoInput,
    EchoOutput,
    ExplodeInput,
    FlakyInput,
    FlakyOutput,
    RenderInput,
    SleepInput,
    echo,
    explode,
    flaky,
    render,
    sleep,
)
from tasks.builtin.noop import NoopInput, NoopOutput, noop

MakeContext = Callable[..., JobContext]


def test_echo_writes_the_message_into_staging(make_context: MakeContext) -> None:
    ctx = make_context("demo.echo")

    out = echo(EchoInput(message="hello", times=3), ctx)

    assert out == EchoOutput(lines=3, file="echo.txt")
    assert (ctx.staging_path / "echo.txt").read_text() == "hello\nhello\nhello\n"
    assert isinstance(ctx.progress, NullProgress)
    assert (ctx.progress.processed, ctx.progress.total) == (3, 3)
    assert "wrote 3 lines" in ctx.log_path.read_text()
    assert ctx.warnings == []


def test_explode_fails_fatally_with_its_reason(make_context: MakeContext) -> None:
    with pytest.raises(FatalJobError, match="^disk on fire$"):
        explode(ExplodeInput(reason="disk on fire"), make_context("demo.explode"))


@pytest.mark.parametrize("attempt", [1, 2])
def test_flaky_fails_retryably_before_its_attempt(make_context: MakeContext, attempt: int) -> None:
    with pytest.raises(RetryableJobError, match=f"attempt {attempt}") as info:
        flaky(FlakyInput(succeed_on_attempt=3), make_context("demo.flaky", attempt=attempt))
    assert info.value.delay is None, "the job type's backoff decides"


@pytest.mark.parametrize("attempt", [3, 4])
def test_flaky_succeeds_from_its_attempt_on(make_context: MakeContext, attempt: int) -> None:
    out = flaky(FlakyInput(succeed_on_attempt=3), make_context("demo.flaky", attempt=attempt))
    assert out == FlakyOutput(attempt=attempt)


def test_sleep_reports_progress_every_tenth(make_context: MakeContext) -> None:
    ctx = make_context("demo.sleep")
    assert sleep(SleepInput(seconds=0), ctx).slept == 0
    assert isinstance(ctx.progress, NullProgress)
    assert (ctx.progress.processed, ctx.progress.total) == (10, 10)


def test_render_writes_its_frame(make_context: MakeContext) -> None:
    ctx = make_context("demo.render")
    assert render(RenderInput(scene="cube"), ctx).frame == "cube.txt"
    assert (ctx.staging_path / "cube.txt").read_text() == "rendered cube\n"


def test_noop_does_nothing(make_context: MakeContext) -> None:
    ctx = make_context("jobsys.noop")
    assert noop(NoopInput(), ctx) == NoopOutput()
    assert not ctx.staging_path.exists()
    assert not ctx.log_path.exists()
