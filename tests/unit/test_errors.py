"""The error tree: each error carries its data and the CLI exit code of its class."""

from __future__ import annotations

import pytest

from jobsys import errors
from jobsys.errors import (
    BrokerUnavailable,
    ConfigError,
    DefinitionError,
    FatalJobError,
    InputError,
    InvalidTransition,
    JobError,
    JobFailed,
    JobsysError,
    NotFound,
    RetryableJobError,
    SchemaMissing,
    StoreUnavailable,
    UnknownJobType,
    WaitTimeout,
)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (JobsysError, 1),
        (ConfigError, 2),
        (DefinitionError, 2),
        (UnknownJobType, 2),
        (InputError, 2),
        (BrokerUnavailable, 3),
        (StoreUnavailable, 3),
        (SchemaMissing, 3),
        (NotFound, 4),
        (InvalidTransition, 5),
        (WaitTimeout, 6),
        (JobFailed, 7),
    ],
)
def test_exit_codes(cls: type[JobsysError], code: int) -> None:
    assert cls.exit_code == code


def test_every_error_is_a_jobsys_error() -> None:
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert all(issubclass(c, JobsysError) for c in classes)
    assert issubclass(FatalJobError, JobError) and issubclass(RetryableJobError, JobError)
    assert issubclass(BrokerUnavailable, ConfigError)


def test_errors_carry_their_data_and_one_line_messages() -> None:
    samples: list[tuple[JobsysError, str]] = [
        (
            ConfigError("bad", setting="JOBSYS_HOME"),
            "bad",
        ),
        (
            DefinitionError("broken", subject="x", file="m.yaml", line=3, col=7),
            "m.yaml:3:7: broken",
        ),
        (UnknownJobType("nope", ["b", "a"]), "unknown job type 'nope' (known: a, b)"),
        (InputError("demo.echo", "times", "not an int"), "demo.echo: input 'times': not an int"),
        (NotFound("job", "abc"), "no job 'abc'"),
        (WaitTimeout("j1", 2.5, "RUNNING"), "job j1 still RUNNING after 2.5s"),
        (JobFailed("j1", "FAILED", "boom"), "job j1 ended FAILED: boom"),
    ]
    for error, message in samples:
        assert error.format_message() == message
        assert "\n" not in error.format_message()
    assert InputError("t", "f", "m").field == "f"
    assert ConfigError("m", setting="JOBSYS_X").setting == "JOBSYS_X"
    assert RetryableJobError("later", delay=3).delay == 3
