"""``JobContext``: what a job type receives besides its inputs.

A job id, the attempt number, a staging directory (created on first use), a
progress reporter, a logger writing to the job's own log file (opened on first
use), a secret resolver, and ``warn()`` for outputs that succeeded with warnings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

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


@dataclass
class JobContext:
    """Everything a job type may use besides its inputs. Not a dict: typed."""

    job_id: str
    job_type: str
    attempt: int
    staging_path: Path
    log_path: Path
    progress: ProgressReporter = field(default_factory=NullProgress)
    secrets: SecretResolver = field(default_factory=SecretResolvers)
    warnings: list[str] = field(default_factory=list)
    _logger: logging.Logger | None = field(default=None, repr=False)

    @property
    def staging_dir(self) -> Path:
        """``.staging/<job_id>/``: write outputs here; they are published atomically."""
        self.staging_path.mkdir(parents=True, exist_ok=True)
        return self.staging_path

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
            self._logger = logger
        return self._logger

    def warn(self, message: str) -> None:
        """Record a warning: the run ends COMPLETED_WITH_WARNINGS instead of COMPLETED."""
        self.warnings.append(message)
        self.logger.warning(message)

    def close(self) -> None:
        """Close the log file, if one was opened."""
        if self._logger is not None:
            for handler in self._logger.handlers:
                handler.close()
            self._logger.handlers.clear()
