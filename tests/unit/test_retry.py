"""Failure classification (fatal or retry, and when) and backoff."""

from __future__ import annotations

import random
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from jobsys import FatalJobError, Invariant, JobContext, RetryableJobError, RetryPolicy, job_type
from jobsys.execution.retry import Fatal, Retry, backoff, classify
from jobsys.jobtypes import JobType, spec_of
from tasks.builtin.demo import EchoInput, EchoOutput


class NeedsRetry(Exception):
    """Listed as retryable by the job type."""


class Broken(NeedsRetry):
    """A retryable class's subclass that the job type lists as fatal."""


def make_spec(**kwargs: Any) -> JobType[Any, Any]:
    def fn(inputs: EchoInput, ctx: JobContext) -> EchoOutput:
        return EchoOutput(lines=0, file="")

    job_type("test.retry", capability="t@1", invariants=[Invariant("i", "d")], **kwargs)(fn)
    return spec_of(fn)


SPEC = make_spec(
    retryable=[NeedsRetry, ConnectionError],
    fatal=[Broken],
    retry=RetryPolicy(max_attempts=4, backoff=1.0, max_backoff=100.0, jitter=False),
)


@pytest.mark.parametrize(
    "exc",
    [FatalJobError("bad source"), ValueError("unclassified"), KeyError("x"), Broken("both")],
)
def test_fatal_and_unclassified_errors_fail_at_once(exc: BaseException) -> None:
    assert isinstance(classify(exc, SPEC, attempt=1, max_attempts=4), Fatal)


@pytest.mark.parametrize(
    "exc",
    [
        RetryableJobError("busy"),
        NeedsRetry(),
        ConnectionResetError(),  # a subclass of a listed class
        SoftTimeLimitExceeded(),  # time limits are retryable for every job type
        MemoryError(),
    ],
)
def test_retryable_errors_retry_while_attempts_remain(exc: BaseException) -> None:
    assert classify(exc, SPEC, attempt=1, max_attempts=4) == Retry(1.0)
    assert classify(exc, SPEC, attempt=3, max_attempts=4) == Retry(4.0)


def test_a_retryable_error_on_the_last_attempt_is_fatal() -> None:
    outcome = classify(RetryableJobError("busy"), SPEC, attempt=4, max_attempts=4)
    assert isinstance(outcome, Fatal)
    assert "attempt 4 of 4 was the last" in outcome.reason


def test_a_single_attempt_policy_never_retries() -> None:
    outcome = classify(RetryableJobError("busy"), SPEC, attempt=1, max_attempts=1)
    assert isinstance(outcome, Fatal)


def test_the_delay_a_job_asks_for_is_honoured() -> None:
    exc = RetryableJobError("rate limited", delay=42.5)
    assert classify(exc, SPEC, attempt=2, max_attempts=4) == Retry(42.5)
    assert classify(RetryableJobError("now", delay=0), SPEC, 1, 4) == Retry(0)


def test_backoff_doubles_per_attempt_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, backoff=0.5, max_backoff=3.0, jitter=False)
    assert [backoff(policy, n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_jittered_backoff_stays_in_the_upper_half_of_the_ceiling() -> None:
    policy = RetryPolicy(max_attempts=10, backoff=1.0, max_backoff=20.0, jitter=True)
    rng = random.Random(1234)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 20.0), (9, 20.0)]:
        delays = [backoff(policy, attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert len(set(delays)) > 100, "jitter spreads the retries"


def test_jittered_backoff_of_the_demo_flaky_policy_is_bounded() -> None:
    from tasks.builtin.demo import flaky

    spec = spec_of(flaky)
    outcome = classify(RetryableJobError("busy"), spec, attempt=1, max_attempts=3)
    assert isinstance(outcome, Retry)
    assert 0.1 <= outcome.delay <= 0.2
