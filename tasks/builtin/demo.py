"""Demo job types: one that succeeds, one that fails fatally, one that is flaky,
one that sleeps, and one whose capability (``demo.gpu@1``) the demo worker lacks."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from jobsys import FatalJobError, Invariant, JobContext, RetryableJobError, RetryPolicy, job_type

RECREATABLE = Invariant("outputs_recreatable", "outputs derive only from the inputs")


class EchoInput(BaseModel):
    """What to write."""

    message: str = Field(min_length=1)
    times: int = Field(default=1, ge=1, le=10_000)


class EchoOutput(BaseModel):
    """Where it was written."""

    lines: int
    file: str


@job_type("demo.echo", capability="demo.basic@1", invariants=[RECREATABLE])
def echo(inputs: EchoInput, ctx: JobContext) -> EchoOutput:
    """Write the message ``times`` times to echo.txt."""
    path = ctx.staging_dir / "echo.txt"
    with path.open("w", encoding="utf-8") as out:
        for i in range(inputs.times):
            out.write(inputs.message + "\n")
            ctx.progress.update(i + 1, inputs.times)
    ctx.logger.info("wrote %d lines", inputs.times)
    return EchoOutput(lines=inputs.times, file="echo.txt")


class ExplodeInput(BaseModel):
    """Why it fails."""

    reason: str = "the source is unreadable"


class Nothing(BaseModel):
    """No outputs."""


@job_type("demo.explode", capability="demo.basic@1", invariants=[RECREATABLE])
def explode(inputs: ExplodeInput, ctx: JobContext) -> Nothing:
    """Fail fatally: no retry can help."""
    raise FatalJobError(inputs.reason)


class FlakyInput(BaseModel):
    """On which attempt it starts to succeed."""

    succeed_on_attempt: int = Field(default=2, ge=1)


class FlakyOutput(BaseModel):
    """The attempt that succeeded."""

    attempt: int


@job_type(
    "demo.flaky",
    capability="demo.basic@1",
    invariants=[RECREATABLE],
    retryable=[ConnectionError],
    retry=RetryPolicy(max_attempts=3, backoff=0.2, max_backoff=2.0),
)
def flaky(inputs: FlakyInput, ctx: JobContext) -> FlakyOutput:
    """Fail with a retryable error until the given attempt."""
    if ctx.attempt < inputs.succeed_on_attempt:
        raise RetryableJobError(f"engine busy on attempt {ctx.attempt}")
    return FlakyOutput(attempt=ctx.attempt)


class SleepInput(BaseModel):
    """How long to work."""

    seconds: float = Field(default=1.0, ge=0, le=3600)


class SleepOutput(BaseModel):
    """How long it worked."""

    slept: float


@job_type("demo.sleep", capability="demo.basic@1", invariants=[RECREATABLE])
def sleep(inputs: SleepInput, ctx: JobContext) -> SleepOutput:
    """Work for ``seconds``, reporting progress every tenth."""
    steps = 10
    for i in range(steps):
        time.sleep(inputs.seconds / steps)
        ctx.progress.update(i + 1, steps)
    return SleepOutput(slept=inputs.seconds)


class RenderInput(BaseModel):
    """A scene to render."""

    scene: str = "teapot"


class RenderOutput(BaseModel):
    """The rendered frame's name."""

    frame: str


@job_type("demo.render", capability="demo.gpu@1", invariants=[RECREATABLE])
def render(inputs: RenderInput, ctx: JobContext) -> RenderOutput:
    """Needs ``demo.gpu@1``: stays QUEUED until a worker serves that capability."""
    (ctx.staging_dir / f"{inputs.scene}.txt").write_text(f"rendered {inputs.scene}\n")
    return RenderOutput(frame=f"{inputs.scene}.txt")


class CountInput(BaseModel):
    """How many items to produce."""

    n: int = Field(ge=0, le=1_000_000)


class CountOutput(BaseModel):
    """The items ``0 .. n-1`` (a ``forEach`` can fan out over them)."""

    items: list[int]


@job_type("demo.count", capability="demo.basic@1", invariants=[RECREATABLE])
def count(inputs: CountInput, ctx: JobContext) -> CountOutput:
    """Produce the numbers ``0 .. n-1``."""
    return CountOutput(items=list(range(inputs.n)))


class SquareInput(BaseModel):
    """A number; ``fail_on`` makes that number fail (to show a failing fan-out item)."""

    x: int
    fail_on: int | None = None


class SquareOutput(BaseModel):
    """The number squared."""

    square: int


@job_type("demo.square", capability="demo.basic@1", invariants=[RECREATABLE])
def square(inputs: SquareInput, ctx: JobContext) -> SquareOutput:
    """Square a number (fails fatally on ``fail_on``)."""
    if inputs.x == inputs.fail_on:
        raise FatalJobError(f"refusing to square {inputs.x}")
    return SquareOutput(square=inputs.x * inputs.x)


class ChooseInput(BaseModel):
    """The successor steps a branch picks."""

    choose: list[str]


class ChooseOutput(BaseModel):
    """``next``: the successors that run; the branch's other successors end SKIPPED."""

    next: list[str]


@job_type("demo.choose", capability="demo.basic@1", invariants=[RECREATABLE])
def choose(inputs: ChooseInput, ctx: JobContext) -> ChooseOutput:
    """A branch: name which successors run."""
    return ChooseOutput(next=inputs.choose)
