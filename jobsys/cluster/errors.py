"""``ClusterError``: the loopback cluster could not start, or a service failed."""

from __future__ import annotations

from jobsys.errors import JobsysError


class ClusterError(JobsysError):
    """A service of the loopback cluster failed; names the service and its log's tail."""

    exit_code = 1

    def __init__(self, message: str, *, service: str | None = None, log_tail: str = "") -> None:
        self.service, self.log_tail = service, log_tail
        text = f"{service}: {message}" if service else message
        if log_tail:
            text += f"\n--- last lines of {service}'s log ---\n{log_tail}"
        super().__init__(text)
