"""``JobContext``: what a job type receives besides its inputs.

A job id, the attempt number, a staging directory (created on first use), a
progress reporter, a sink-metrics recorder (``ctx.metrics.sink(...)``: rows, bytes
and write latency per output, for the jobs view), a logger writing to the job's own
log file (opened on first use), a secret resolver, and ``warn()`` for outputs that
succeeded with warnings, and ``confine(path, field)`` for paths found at run time
(``JOBSYS_SOURCE_ROOTS``). ``output_dir`` says where the staged files will be
published, so a job can name its outputs' final paths.

Every value resolved through ``ctx.secrets`` is remembered by the context: the job's
logger replaces it with ``***`` in messages and tracebacks, and ``ctx.redact(text)``
does the same for any text leaving the job (the error recorded for a failed attempt);
``ctx.redact_data(outputs)`` for the outputs recorded for a successful one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from jobsys import paths
from jobsys.secrets import SecretResolver, SecretResolvers

_JOB_LOGGERS = logging.getLogger("jobsys.job")


class ProgressReporter(Protocol):
    """Records how far a job is: items processed / total (and failed)."""

    def update(self, processed: int, total: int | None = None, failed: int | None = None) -> None:
        """Report progress; cheap to call often (implementations throttle)."""
        ...


class NullProgress:
    """A reporter that keeps the last figures and writes nothing (for direct calls)."""

    def __init__(self) -> None:
        self.processed, self.total, self.failed = 0, None, None

    processed: int
    total: int | None
    failed: int | None

    def update(self, processed: int, total: int | None = None, failed: int | None = None) -> None:
        """Remember the figures."""
        self.processed = processed
        self.total = total if total is not None else self.total
        self.failed = failed if failed is not None else self.failed


class MetricsRecorder(Protocol):
    """Records sink figures of a running job: what it wrote where, and how fast."""

    def sink(
        self,
        uri: str,
        output: str,
        rows: int,
        bytes: int,  # noqa: A002 - the seed's word
        latency_ms: float,
        errors: int = 0,
    ) -> None:
        """Add one write's figures to output ``output`` of sink ``uri`` (cheap; batched)."""
        ...


@dataclass(frozen=True)
class SinkFigures:
    """The running totals of one (sink, output) pair."""

    rows: int = 0
    bytes: int = 0
    writes: int = 0
    errors: int = 0
    latency_ms: float = 0.0


class NullMetrics:
    """A recorder that keeps running totals in memory and writes nothing (for direct calls)."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str], SinkFigures] = {}

    def sink(
        self,
        uri: str,
        output: str,
        rows: int,
        bytes: int,  # noqa: A002
        latency_ms: float,
        errors: int = 0,
    ) -> None:
        """Add the figures to the totals of ``(uri, output)``."""
        old = self.totals.get((uri, output), SinkFigures())
        self.totals[(uri, output)] = SinkFigures(
            old.rows + rows,
            old.bytes + bytes,
            old.writes + 1,
            old.errors + errors,
            old.latency_ms + latency_ms,
        )


MASK = "***"


class _RememberingResolver:
    """Resolves through another resolver and remembers every value it hands out."""

    def __init__(self, inner: SecretResolver, values: set[str]) -> None:
        self._inner, self._values = inner, values

    def resolve(self, ref: str) -> str:
        """The secret's value (now masked in this job's logs and errors)."""
        value = self._inner.resolve(ref)
        if value:
            self._values.add(value)
            # A multi-line secret (a key) is also masked line by line.
            self._values.update(line for line in value.splitlines() if len(line.strip()) >= 8)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _RedactFilter(logging.Filter):
    """Masks resolved secret values in a record's message, traceback and stack."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


@dataclass
class JobContext:
    """Everything a job type may use besides its inputs. Not a dict: typed."""

    job_id: str
    job_type: str
    attempt: int
    staging_path: Path
    log_path: Path
    progress: ProgressReporter = field(default_factory=NullProgress)
    metrics: MetricsRecorder = field(default_factory=NullMetrics)
    #: where staged files are published (None: nothing publishes them, they stay in staging)
    output_path: Path | None = None
    #: the worker's JOBSYS_HOME (None in a direct call): where job types keep shared state
    home: Path | None = None
    secrets: SecretResolver = field(default_factory=SecretResolvers)
    #: where path inputs may point (``Settings.path_roots``); empty: unconfined
    path_roots: tuple[Path, ...] = ()
    warnings: list[str] = field(default_factory=list)
    _logger: logging.Logger | None = field(default=None, repr=False)
    _secret_values: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.secrets = _RememberingResolver(self.secrets, self._secret_values)

    def redact(self, text: str) -> str:
        """``text`` with every secret value resolved through ``self.secrets`` replaced by ***."""
        for value in sorted(self._secret_values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    def confine(self, path: str, field: str) -> Path:
        """``path`` resolved, or ``PathRefused`` (fatal) when it lies outside the source roots.

        For paths a job finds at run time (a catalog selection); declared ``SourcePath``
        inputs are checked before the job runs.
        """
        return paths.confine(path, self.path_roots, field=field)

    def redact_data(self, data: Any) -> Any:
        """JSON-ready ``data`` (outputs) with ``redact`` applied to every string in it."""
        if not self._secret_values:
            return data
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, dict):
            return {self.redact(str(k)): self.redact_data(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.redact_data(v) for v in data]
        return data

    @property
    def staging_dir(self) -> Path:
        """``.staging/<job_id>/``: write outputs here; they are published atomically."""
        self.staging_path.mkdir(parents=True, exist_ok=True)
        return self.staging_path

    @property
    def output_dir(self) -> Path:
        """Where a file staged as ``staging_dir / name`` ends up: ``output_dir / name``."""
        return self.output_path if self.output_path is not None else self.staging_path

    @property
    def logger(self) -> logging.Logger:
        """A logger writing to this job's log file (and to the worker's log)."""
        if self._logger is None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            # Not via getLogger: per-job loggers must not accumulate in logging's registry.
            logger = logging.Logger(f"jobsys.job.{self.job_id}", logging.DEBUG)
            logger.parent = _JOB_LOGGERS
            handler = logging.FileHandler(self.log_path, encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
            logger.addFilter(_RedactFilter(self.redact))
            self._logger = logger
        return self._logger

    def warn(self, message: str) -> None:
        """Record a warning: the run ends COMPLETED_WITH_WARNINGS instead of COMPLETED."""
        self.warnings.append(self.redact(message))
        self.logger.warning(message)

    def close(self) -> None:
        """Close the log file, if one was opened."""
        if self._logger is not None:
            for handler in self._logger.handlers:
                handler.close()
            self._logger.handlers.clear()
