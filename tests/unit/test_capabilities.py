"""``Capability``: ``name@major``, which is also the queue name."""

from __future__ import annotations

import pytest

from jobsys.capabilities import Capability
from jobsys.errors import DefinitionError


@pytest.mark.parametrize(
    ("text", "name", "major"),
    [
        ("media.thumbnails@1", "media.thumbnails", 1),
        ("jobsys.noop@1", "jobsys.noop", 1),
        ("audio@12", "audio", 12),
        ("data.scan_v2.fast@0", "data.scan_v2.fast", 0),
        ("  demo.basic@1\n", "demo.basic", 1),
    ],
)
def test_parse(text: str, name: str, major: int) -> None:
    cap = Capability.parse(text)
    assert (cap.name, cap.major) == (name, major)


def test_str_and_queue_are_the_canonical_text() -> None:
    cap = Capability.parse("media.thumbnails@1")
    assert str(cap) == "media.thumbnails@1"
    assert cap.queue == "media.thumbnails@1"
    assert Capability.parse(str(cap)) == cap


def test_capabilities_are_values_ordered_by_name_then_major() -> None:
    caps = [Capability.parse(t) for t in ("b@1", "a@2", "a@10", "a@1")]
    assert [str(c) for c in sorted(caps)] == ["a@1", "a@2", "a@10", "b@1"]
    assert len({Capability.parse("a@1"), Capability("a", 1)}) == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "media.thumbnails",
        "media.thumbnails@",
        "@1",
        "Media.Thumbnails@1",
        "media thumbnails@1",
        "media..thumbnails@1",
        "media.thumbnails@1.0",
        "media.thumbnails@-1",
        "media.thumbnails@v1",
        "1media@1",
        "media@1@2",
    ],
)
def test_bad_capabilities_are_rejected_saying_the_expected_form(text: str) -> None:
    with pytest.raises(DefinitionError) as info:
        Capability.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert "name@major" in message
