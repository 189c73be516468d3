"""The list's filter (seed 001 §6 FILTER_DIALOG): words matching a job's type or status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: what a user may type for a status, besides the status itself
STATUS_WORDS = {
    "failed": {"FAILED"},
    "running": {"RUNNING"},
    "queued": {"PENDING", "QUEUED", "DISPATCHED"},
    "waiting": {"PENDING", "QUEUED", "DISPATCHED"},
    "done": {"COMPLETED", "COMPLETED_WITH_WARNINGS", "SKIPPED"},
    "completed": {"COMPLETED", "COMPLETED_WITH_WARNINGS"},
    "cancelled": {"CANCELLED"},
    "skipped": {"SKIPPED"},
}


@dataclass(frozen=True)
class JobFilter:
    """``"parse failed"``: jobs whose type contains ``parse`` and whose status is failed.

    Each word is a status word (``STATUS_WORDS``) or a part of a job type; the words of
    one kind are alternatives, the two kinds must both match.
    """

    text: str = ""

    @property
    def active(self) -> bool:
        """Whether anything is filtered out."""
        return bool(self.text.strip())

    def _split(self) -> tuple[set[str], list[str]]:
        statuses: set[str] = set()
        types: list[str] = []
        for word in self.text.lower().split():
            if word in STATUS_WORDS:
                statuses |= STATUS_WORDS[word]
            else:
                types.append(word)
        return statuses, types

    def matches(self, job: Any) -> bool:
        """Whether ``job`` passes."""
        if not self.active:
            return True
        statuses, types = self._split()
        if statuses and job.status not in statuses:
            return False
        return not types or any(t in job.job_type.lower() for t in types)
