"""The public surface of ``jobsys``, in the style of httpx's tests/test_exported_members.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

import jobsys

PUBLIC = {
    # Calling jobs
    "Client",
    "JobHandle",
    "JobState",
    "RunStatus",
    # Writing job types
    "Invariant",
    "JobContext",
    "RetryPolicy",
    "SourcePath",
    "job_type",
    # Errors
    "FatalJobError",
    "JobsysError",
    "RetryableJobError",
    "errors",
}


def test_all_is_exactly_the_public_names() -> None:
    assert len(jobsys.__all__) == len(set(jobsys.__all__)), "no duplicates"
    assert set(jobsys.__all__) == PUBLIC


def test_every_public_name_resolves_to_a_jobsys_object() -> None:
    for name in jobsys.__all__:
        value = getattr(jobsys, name)
        module = getattr(value, "__module__", None) or value.__name__
        assert module.partition(".")[0] == "jobsys", name


def test_star_import_gives_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from jobsys import *", namespace)
    assert set(namespace) - {"__builtins__"} == PUBLIC


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        getattr(jobsys, "Nope")  # noqa: B009


def test_client_and_job_handle_load_only_when_asked_for() -> None:
    code = (
        "import sys, jobsys\n"
        "assert 'jobsys.client' not in sys.modules\n"
        "from jobsys import Client, JobHandle\n"
        "assert 'jobsys.client' in sys.modules\n"
        "import jobsys.client\n"
        "assert Client is jobsys.client.Client and JobHandle is jobsys.client.JobHandle\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
