"""``<home>/cluster/state.json``: the cluster's processes, so another shell can stop or show them.

It holds pids (with their start times, so a reused pid is never signalled), ports, log
paths and commands, never an environment: a process's environment (and any secret in
it) is read from the live process when a check needs it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"


@dataclass
class Replica:
    """One process of a service: where it logs, how it is checked, and how it ended."""

    service: str
    replica: int
    pid: int
    create_time: float
    log: str
    command: list[str]
    healthcheck: list[str] | None = None
    health_timeout: float = 30.0
    ports: dict[str, int] = field(default_factory=dict)
    #: how a one-shot service (migrate) exited; ``None`` while it runs or for the others
    exit_code: int | None = None
    one_shot: bool = False


def load_state(directory: Path) -> list[Replica]:
    """The replicas recorded in ``directory/state.json`` (none if there is no file)."""
    path = directory / STATE_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [Replica(**item) for item in data.get("replicas", [])]


def save_state(directory: Path, replicas: list[Replica], compose_file: Path | None) -> None:
    """Write the state atomically (a reader never sees half of it)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    body = {
        "compose_file": str(compose_file) if compose_file else None,
        "replicas": [asdict(r) for r in replicas],
    }
    tmp.write_text(json.dumps(body, indent=2), encoding="utf-8")
    tmp.replace(path)


def clear_state(directory: Path) -> None:
    """Forget the cluster (after it is down)."""
    (directory / STATE_FILE).unlink(missing_ok=True)
