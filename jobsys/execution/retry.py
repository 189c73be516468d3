"""Classify a job's exception (fatal or retry, and when) and compute backoff. Pure."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from jobsys.errors import FatalJobError, RetryableJobError
from jobsys.jobtypes import JobType, RetryPolicy

#: failures every job type may retry: time limits and out-of-memory (seed 003: retryable)
_RNG = random.Random()

ALWAYS_RETRYABLE: tuple[type[BaseException], ...] = (SoftTimeLimitExceeded, MemoryError)


@dataclass(frozen=True)
class Fatal:
    """Do not try again."""

    reason: str


@dataclass(frozen=True)
class Retry:
    """Try again after ``delay`` seconds."""

    delay: float


def backoff(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff ``backoff * 2**(attempt-1)``, capped, with equal jitter
    (a uniform draw from the upper half, so retries spread but never come too soon)."""
    ceiling = min(policy.max_backoff, policy.backoff * 2.0 ** max(0, attempt - 1))
    if not policy.jitter:
        return ceiling
    return (rng or _RNG).uniform(ceiling / 2, ceiling)


def classify(
    exc: BaseException, spec: JobType[Any, Any], attempt: int, max_attempts: int
) -> Fatal | Retry:
    """Fatal unless the exception is retryable and attempts remain.

    Retryable: ``RetryableJobError``, the job type's ``retryable`` classes, time limits
    and ``MemoryError``. Fatal wins when a class is listed as both.
    """
    if isinstance(exc, FatalJobError) or isinstance(exc, spec.fatal):
        return Fatal("fatal error")
    retryable = isinstance(exc, (RetryableJobError, *spec.retryable, *ALWAYS_RETRYABLE))
    if not retryable:
        return Fatal("unclassified error (fatal by default)")
    if attempt >= max_attempts:
        return Fatal(f"retryable error, but attempt {attempt} of {max_attempts} was the last")
    if isinstance(exc, RetryableJobError) and exc.delay is not None:
        return Retry(exc.delay)
    return Retry(backoff(spec.retry, attempt))
