"""Inputs are validated against the job type's model before anything is written."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from jobsys.client import validate_inputs
from jobsys.errors import InputError
from jobsys.jobtypes import spec_of
from tasks.builtin.demo import EchoInput, FlakyInput, echo

SPEC = spec_of(echo)


def test_valid_inputs_become_the_model_with_coerced_values() -> None:
    validated = validate_inputs(SPEC, {"message": "hi", "times": "3"})
    assert validated == EchoInput(message="hi", times=3)


def test_defaults_are_filled_in() -> None:
    assert validate_inputs(SPEC, {"message": "hi"}) == EchoInput(message="hi", times=1)


def test_an_instance_of_the_model_is_taken_as_it_is() -> None:
    inputs = EchoInput(message="hi", times=2)
    assert validate_inputs(SPEC, inputs) is inputs


def test_another_model_is_validated_by_its_fields() -> None:
    class Similar(BaseModel):
        message: str
        times: int

    assert validate_inputs(SPEC, Similar(message="x", times=5)) == EchoInput(message="x", times=5)
    with pytest.raises(InputError, match="'succeed_on_attempt': unknown input"):
        validate_inputs(SPEC, FlakyInput())


def test_a_misspelled_input_is_refused_naming_it() -> None:
    with pytest.raises(InputError, match="'tiems': unknown input \\(expected: message, times\\)"):
        validate_inputs(SPEC, {"message": "hi", "tiems": 3})


@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        ({"message": "hi", "times": "x"}, "times", "valid integer"),
        ({"message": "hi", "times": 0}, "times", "greater than or equal to 1"),
        ({"message": "hi", "times": 10_001}, "times", "less than or equal to 10000"),
        ({"message": ""}, "message", "at least 1 character"),
        ({}, "message", "Field required"),
    ],
)
def test_a_bad_input_is_an_input_error_naming_the_field(
    inputs: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InputError) as info:
        validate_inputs(SPEC, inputs)
    error = info.value
    assert (error.job_type, error.field) == ("demo.echo", field)
    assert str(error).startswith(f"demo.echo: input '{field}': ")
    assert words in str(error)
    assert error.exit_code == 2


def test_several_bad_inputs_name_the_first_and_count_the_rest() -> None:
    with pytest.raises(InputError) as info:
        validate_inputs(SPEC, {"times": "x"})
    assert info.value.field == "message"
    assert str(info.value).endswith("(and 1 more)")
