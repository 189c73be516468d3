"""The ``Capability`` value type: ``name@major``, which is also a Celery queue name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from jobsys.errors import DefinitionError

_PATTERN = re.compile(r"^(?P<name>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)@(?P<major>[0-9]+)$")


@dataclass(frozen=True, order=True)
class Capability:
    """A versioned capability a worker advertises by consuming its queue."""

    name: str
    major: int

    @classmethod
    def parse(cls, text: str) -> Capability:
        """Parse ``media.thumbnails@1``; raise ``DefinitionError`` naming what is wrong."""
        match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise DefinitionError(
                f"capability {text!r} is not of the form name@major "
                "(lower-case dotted name, e.g. media.thumbnails@1)",
                subject=text,
            )
        return cls(match["name"], int(match["major"]))

    @property
    def queue(self) -> str:
        """The Celery queue serving this capability: exactly its text."""
        return str(self)

    def __str__(self) -> str:
        return f"{self.name}@{self.major}"
