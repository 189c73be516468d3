"""Processes of the loopback cluster: start one in its own session, check, signal, reap.

Each service replica runs in a process group of its own (``start_new_session``), so a
signal reaches it and its children (a worker's prefork pool) together, and Ctrl-C in
the shell that ran ``jobsys cluster up --detach`` never reaches it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jobsys.cluster.state import Replica

if TYPE_CHECKING:
    import psutil

#: the seconds two start times of "one" process may differ by (psutil rounds them)
_SAME_START = 0.05


def jobsys_argv(args: Sequence[str]) -> list[str]:
    """``jobsys ...`` as this interpreter runs it (the venv's jobsys, whatever PATH says)."""
    return [sys.executable, "-m", "jobsys", *args]


def spawn(
    argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session, appending its output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        out.write(f"--- {stamp} jobsys cluster: starting {' '.join(argv)}\n".encode())
        out.flush()
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def create_time(pid: int) -> float:
    """When process ``pid`` started (0 if it is already gone)."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return 0.0


def process_of(replica: Replica) -> psutil.Process | None:
    """The live process of ``replica``, or ``None`` (gone, a zombie, or a reused pid)."""
    import psutil

    try:
        proc = psutil.Process(replica.pid)
        if abs(proc.create_time() - replica.create_time) > _SAME_START:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return proc


def environ_of(replica: Replica) -> dict[str, str] | None:
    """The environment ``replica`` runs with, read from the live process."""
    import psutil

    proc = process_of(replica)
    try:
        return dict(proc.environ()) if proc is not None else None
    except psutil.Error:
        return None


def group_members(replica: Replica) -> list[psutil.Process]:
    """Every live process of the replica's process group (the leader may be gone)."""
    import psutil

    members = []
    for proc in psutil.process_iter(["create_time"]):
        try:
            if os.getpgid(proc.pid) != replica.pid:
                continue
        except (ProcessLookupError, PermissionError):
            continue
        started = proc.info.get("create_time") or 0.0
        if started + _SAME_START >= replica.create_time:
            members.append(proc)
    return members


def signal_group(replica: Replica, sig: signal.Signals) -> None:
    """Send ``sig`` to the replica's process group, if it is still the one we started."""
    if not group_members(replica):
        return
    try:
        os.killpg(replica.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def log_tail(log: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file."""
    try:
        with log.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_check(
    argv: Sequence[str], env: Mapping[str, str], timeout: float, cwd: Path
) -> tuple[bool, str]:
    """Run a healthcheck command: (it passed, its last line of output)."""
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:g}s"
    output = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()
    return done.returncode == 0, output[-1] if output else f"exit {done.returncode}"
