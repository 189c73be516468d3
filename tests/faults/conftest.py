"""One loopback cluster per module, on a Redis of its own and PostgreSQL behind a proxy.

The cluster (``jobsys.cluster.Cluster``: beat ×2, worker-data, worker-media) reaches the
store only through ``BlockableProxy`` and the broker only at ``OwnRedis``, so a test can
take either away. The test itself watches the store directly (``observer``), so its own
reads never depend on the fault it injects.

Each scenario adds a row to the fault table, printed at the end of the session and
written to ``.jobsys-faults.txt`` in the rootdir.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy.engine import make_url

from jobsys.client import Client
from jobsys.testing import BeatProcess, WorkerProcess, settings_from_env, wait_until
from tests.conftest import require
from tests.faults import harness
from tests.faults.services import BlockableProxy, OwnRedis

WORKERS = {
    "worker-data": {"groups": ["data", "demo"], "concurrency": 2},
    "worker-media": {"groups": ["media"], "concurrency": 1},
}
REPORT = ".jobsys-faults.txt"
GROUPS = Path(__file__).parents[2] / "config" / "capabilities.toml"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the fault table (whatever ``-s``/``-q`` say) and write it to the report file."""
    if not harness.ROWS:
        return
    lines = harness.table()
    terminalreporter.write_sep("=", "faults jobsys survived")
    for line in lines:
        terminalreporter.write_line(line)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    Path(config.rootpath, REPORT).write_text(
        f"# jobsys fault table, {stamp}\n" + "\n".join(lines) + "\n"
    )


# --- the services and the cluster ------------------------------------------------------


@pytest.fixture(scope="module")
def fault_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the module's cluster: home, logs, inputs."""
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def own_redis(fault_dir: Path) -> Iterator[OwnRedis]:
    """A Redis without persistence, on a port of the module's own (restartable)."""
    server = OwnRedis(fault_dir).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_proxy(pg_url: str) -> Iterator[BlockableProxy]:
    """A blockable TCP proxy in front of the session's PostgreSQL."""
    require("PostgreSQL", 5432)
    proxy = BlockableProxy(("127.0.0.1", 5432)).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def cluster_env(
    fault_dir: Path, own_redis: OwnRedis, pg_proxy: BlockableProxy, pg_url: str
) -> dict[str, str]:
    """What every cluster process reads: the store through the proxy, the module's Redis.

    Heartbeats every second and a recovery pass every second make a lost worker, or a
    broker restarted empty, show within seconds; the visibility timeout stays above the
    longest job in the mix.
    """
    proxied = make_url(pg_url).set(port=pg_proxy.port)
    return {
        "JOBSYS_BROKER_URL": own_redis.url,
        "JOBSYS_DATABASE_URL": proxied.render_as_string(hide_password=False),
        "JOBSYS_HOME": str(fault_dir / "home"),
        "JOBSYS_HEARTBEAT_INTERVAL": "1",
        "JOBSYS_VISIBILITY_TIMEOUT": "20",
        "JOBSYS_RECOVER_INTERVAL": "1",
        "JOBSYS_RECOVER_AFTER": "20",
        "JOBSYS_STORE_RETRY_SECONDS": "60",
        "JOBSYS_BEAT_MAX_LOOP_INTERVAL": "1",
        "JOBSYS_WORKER_PREFETCH": "1",
    }


@pytest.fixture(scope="module")
def observer(cluster_env: dict[str, str], pg_url: str) -> Iterator[Client]:
    """A client on the same broker, reading the store directly (not through the proxy)."""
    with Client(settings_from_env({**cluster_env, "JOBSYS_DATABASE_URL": pg_url})) as c:
        yield c


class LocalCluster:
    """The part of ``jobsys.cluster.Cluster`` the fault tests use, from jobsys.testing's
    processes (used until the cluster module is merged): beat ×2, worker-data, worker-media."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.log_dir = home / "cluster-logs"
        self._workers: dict[str, WorkerProcess] = {}
        self._beats: list[BeatProcess] = []

    def up(self, timeout: float = 90) -> LocalCluster:
        groups = tomllib.loads(GROUPS.read_text())["groups"]
        for name, spec in WORKERS.items():
            caps = [c for g in spec["groups"] for c in groups[g]["capabilities"]]
            self._workers[name] = WorkerProcess(
                self.env,
                caps,
                concurrency=int(spec["concurrency"]),
                name=f"{name}@localhost",
                log_dir=self.log_dir,
            )
        for worker in self._workers.values():
            worker.wait_ready(timeout=timeout)
        self._beats = [
            BeatProcess(self.env, log_dir=self.log_dir, name=f"beat-{i}").wait_ready(timeout)
            for i in range(2)
        ]
        return self

    def down(self) -> None:
        for proc in [*self._workers.values(), *self._beats]:
            proc.kill()

    def processes(self, service: str) -> list[psutil.Process]:
        if service == "beat":
            return [psutil.Process(b.pid) for b in self._beats if b.alive()]
        return [psutil.Process(self._workers[service].pid)]

    def worker_children(self, service: str) -> list[psutil.Process]:
        return psutil.Process(self._workers[service].pid).children()

    def log_path(self, service: str) -> Path:
        if service == "beat":
            return self._beats[0].log_path
        return self._workers[service].log_path

    def logs(self, service: str) -> str:
        paths = [b.log_path for b in self._beats] if service == "beat" else [self.log_path(service)]
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def restart(self, service: str) -> None:
        assert service == "beat"
        self._beats[0].kill()
        self._beats[0] = BeatProcess(self.env, log_dir=self.log_dir, name="beat-0").wait_ready()


@pytest.fixture(scope="module")
def cluster(cluster_env: dict[str, str], fault_dir: Path, observer: Client) -> Iterator[Any]:
    """The loopback cluster with two beats, on the module's Redis and proxied store."""
    require("Redis (for redis-server)", 6379)
    inputs = fault_dir / "inputs"
    observer.apply(text=harness.MANIFEST.read_text())
    try:
        from jobsys.cluster import Cluster
    except ImportError:
        c: Any = LocalCluster(fault_dir / "home", cluster_env).up()
    else:
        c = Cluster(
            home=fault_dir / "home",
            env=cluster_env,
            services=["beat", *WORKERS],
            scale={"beat": 2},
        )
        c.up(timeout=90)
    c.inputs = harness.prepare_inputs(inputs)
    yield c
    c.down()


def kill_9(proc: psutil.Process) -> None:
    """SIGKILL one process (nothing gets to clean up)."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``jobsys <args>`` with ``env``'s settings."""
    return subprocess.run(
        [sys.executable, "-m", "jobsys", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_for(predicate: Any, timeout: float, message: str) -> Any:
    """``wait_until`` re-exported for the tests."""
    return wait_until(predicate, timeout, 0.2, message)
