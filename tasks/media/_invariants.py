"""The invariants the media job types declare (seed 003).

``source_unchanged`` is added by jobsys itself (``@job_type(source=...)``); these
are the others. ``outputs_documented`` is checked after every attempt: the staged
files must be exactly those the output names, so nothing undocumented is produced.
"""

from __future__ import annotations

from typing import Any, Protocol

from jobsys import FatalJobError, Invariant, JobContext


class NamesItsFiles(Protocol):
    """An output model that lists the files it produced, relative to the output folder."""

    def files(self) -> list[str]:
        """The produced files."""
        ...


def _documented(inputs: Any, output: NamesItsFiles, ctx: JobContext, _: object) -> None:
    staged = ctx.staging_path
    found = (
        sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
        if staged.is_dir()
        else []
    )
    named = sorted(output.files())
    if found != named:
        extra = sorted(set(found) - set(named))
        missing = sorted(set(named) - set(found))
        raise FatalJobError(
            "invariant outputs_documented violated: "
            + "; ".join(
                part
                for part in (
                    f"undocumented files {extra}" if extra else "",
                    f"missing files {missing}" if missing else "",
                )
                if part
            )
        )


OUTPUTS_DOCUMENTED = Invariant(
    "outputs_documented",
    "the files produced are exactly those the outputs name",
    after=_documented,
)
RECREATABLE = Invariant(
    "outputs_recreatable",
    "outputs derive only from the source and the named profile: rerunning recreates them",
)
NO_DECISION = Invariant(
    "no_business_decision", "outputs describe the media; no KEEP / REJECT decision is made"
)

MEDIA_INVARIANTS = (RECREATABLE, OUTPUTS_DOCUMENTED)
