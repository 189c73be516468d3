"""``data.backtest`` (``data.backtest@1``): a parser version over selected files; writes nothing.

Files are parsed in memory (no output is written anywhere); a file *passes* when the
parser reads it whole with no row quarantined, i.e. when a PARSE would end COMPLETED.
High-failure files (whose latest PARSE with this parser failed or quarantined rows,
per the catalog's ``parse_history``) are tried first. The run iterates over growing
samples (``sample`` files, then twice as many, ...) and ends with one of these
termination reasons:

- ``pass_rate_achieved``: the pass rate reached ``target_pass_rate`` after an iteration;
- ``high_failure_early_stop``: the first ``early_stop_after`` high-failure files all failed;
- ``plateau``: an iteration moved the pass rate by less than ``plateau_delta``;
- ``max_iterations``: ``max_iterations`` iterations ran;
- ``all_files_tested``: every selected file was tested, below target;
- ``user_stopped``: the ``stop_file`` appeared (a user's stop request).

Progress (files tested/total, failed) is reported as it goes; a run below target
ends COMPLETED_WITH_WARNINGS. ``backtest_report.json`` holds every file's result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from jobsys import FatalJobError, Invariant, JobContext, SourcePath, job_type
from tasks.data import catalog
from tasks.data.catalog import Selection
from tasks.data.contracts import TableContract
from tasks.data.parse import guarded
from tasks.data.parsers import ParseOptions, Parser, ParserError, Rejected, get

REPORT = "backtest_report.json"
NO_PRODUCTION_WRITES = Invariant(
    "no_production_writes", "parses in memory: writes no table, quarantine or catalog history"
)

Reason = Literal[
    "pass_rate_achieved",
    "high_failure_early_stop",
    "plateau",
    "max_iterations",
    "all_files_tested",
    "user_stopped",
]


class BacktestInput(BaseModel):
    """The parser version, the files, and when to stop."""

    parser: str = Field(min_length=1)
    parser_version: str | None = None
    contract: TableContract | None = None
    encoding: str = "utf-8"
    selection: Selection | None = None
    paths: list[SourcePath] = Field(default_factory=list)
    catalog: SourcePath | None = None
    target_pass_rate: float = Field(default=0.95, ge=0.0, le=1.0)
    sample: int = Field(default=50, ge=1)
    max_iterations: int = Field(default=10, ge=1)
    plateau_delta: float = Field(default=0.0, ge=0.0, le=1.0)
    early_stop_after: int = Field(default=5, ge=1)
    stop_file: SourcePath | None = None

    @model_validator(mode="after")
    def _files(self) -> BacktestInput:
        if self.selection is None and not self.paths:
            raise ValueError("give selection= (tag, glob, query, source) or paths=")
        return self


class Failure(BaseModel):
    """A file that did not pass: the first error and its line."""

    file: str
    error: str
    line: int | None = None


class BacktestOutput(BaseModel):
    """Seed 001's backtest figures."""

    parser: str
    parser_version: str
    pass_rate: float
    files_total: int
    files_tested: int
    files_passed: int
    files_failed: int
    iterations: int
    high_failure_tested: int
    high_failure_passed: int
    termination_reason: Reason
    first_failure: Failure | None = None
    failures: list[Failure] = Field(default_factory=list)


def try_file(parser: Parser, path: str, options: ParseOptions) -> Failure | None:
    """Parse ``path`` in memory; the first reason it does not pass, or None."""
    try:
        for piece in guarded(parser, Path(path), options):
            if isinstance(piece, Rejected):
                return Failure(file=path, error=piece.reason, line=piece.line)
    except ParserError as exc:
        return Failure(file=path, error=str(exc))
    return None


def _files(inputs: BacktestInput, ctx: JobContext) -> list[str]:
    found = catalog.select_files(inputs.catalog, ctx, inputs.selection) if inputs.selection else []
    found += [str(Path(p).resolve()) for p in inputs.paths]
    unique = list(dict.fromkeys(found))
    if not unique:
        raise FatalJobError("the selection matched no files")
    return unique


@job_type("data.backtest", capability="data.backtest@1", invariants=[NO_PRODUCTION_WRITES])
def backtest(inputs: BacktestInput, ctx: JobContext) -> BacktestOutput:  # noqa: C901
    """Test a parser version against files (high-failure first) without writing outputs."""
    parser = get(inputs.parser, inputs.parser_version)
    options = ParseOptions(contract=inputs.contract, encoding=inputs.encoding)
    parser.contracts(options)  # a missing contract fails here, not once per file
    files = _files(inputs, ctx)
    with catalog.connect(inputs.catalog, ctx) as conn:
        high = catalog.high_failure_files(conn, parser.name, files)
    order = sorted(high) + [f for f in files if f not in high]
    stop = Path(inputs.stop_file) if inputs.stop_file else None
    failures: list[Failure] = []
    results: list[dict[str, object]] = []
    tested = passed = hf_tested = hf_passed = iteration = cursor = 0
    size, previous = inputs.sample, None
    reason: Reason | None = None
    while reason is None:
        iteration += 1
        chunk, cursor = order[cursor : cursor + size], cursor + size
        size *= 2
        for path in chunk:
            if stop is not None and stop.exists():
                reason = "user_stopped"
                break
            failure = try_file(parser, path, options)
            tested += 1
            passed += failure is None
            if failure is not None:
                failures.append(failure)
            if path in high:
                hf_tested += 1
                hf_passed += failure is None
            results.append(
                {
                    "file": path,
                    "passed": failure is None,
                    "high_failure": path in high,
                    "error": failure.error if failure else None,
                    "line": failure.line if failure else None,
                    "iteration": iteration,
                }
            )
            ctx.progress.update(tested, len(order), tested - passed)
            if hf_tested >= inputs.early_stop_after and hf_passed == 0 and path in high:
                reason = "high_failure_early_stop"
                break
        if reason is not None:
            break
        rate = passed / tested if tested else 0.0
        if rate >= inputs.target_pass_rate:
            reason = "pass_rate_achieved"
        elif cursor >= len(order):
            reason = "all_files_tested"
        elif iteration >= inputs.max_iterations:
            reason = "max_iterations"
        elif previous is not None and abs(rate - previous) <= inputs.plateau_delta:
            reason = "plateau"
        previous = rate
    rate = passed / tested if tested else 0.0
    output = BacktestOutput(
        parser=parser.name,
        parser_version=parser.version,
        pass_rate=rate,
        files_total=len(order),
        files_tested=tested,
        files_passed=passed,
        files_failed=tested - passed,
        iterations=iteration,
        high_failure_tested=hf_tested,
        high_failure_passed=hf_passed,
        termination_reason=reason,
        first_failure=failures[0] if failures else None,
        failures=failures[:20],
    )
    report = {**output.model_dump(mode="json"), "results": results}
    (ctx.staging_dir / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    if rate < inputs.target_pass_rate:
        first = (
            f"; first failure: {Path(failures[0].file).name}: {failures[0].error}"
            if failures
            else ""
        )
        ctx.warn(
            f"pass rate {rate:.1%} ({passed}/{tested}) below {inputs.target_pass_rate:.0%}, "
            f"{reason}{first}"
        )
    return output
