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
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy.engine import make_url

from jobsys.client import Client
from jobsys.cluster import Cluster
from jobsys.testing import postgres_database, settings_from_env, wait_until
from tests.conftest import PG_ADMIN, require
from tests.faults import harness
from tests.faults.services import BlockableProxy, OwnRedis

#: a password in the cluster's store URL, which no log may show
STORE_PASSWORD = "faults-s3cret-pw"
#: compose.yaml's services the scenarios need (speech, api and flower play no part)
SERVICES = ["beat", "worker-data", "worker-media"]
REPORT = ".jobsys-faults.txt"


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
def fault_db() -> Iterator[str]:
    """A PostgreSQL database of the module's own: its thousands of jobs and its templates
    stay out of the session database the other tests share."""
    require("PostgreSQL", 5432)
    with postgres_database(f"jobsys_faults_{uuid.uuid4().hex[:10]}", PG_ADMIN) as url:
        yield url


@pytest.fixture(scope="module")
def pg_proxy(fault_db: str) -> Iterator[BlockableProxy]:
    """A blockable TCP proxy in front of the session's PostgreSQL."""
    require("PostgreSQL", 5432)
    proxy = BlockableProxy(("127.0.0.1", 5432)).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def cluster_env(
    fault_dir: Path, own_redis: OwnRedis, pg_proxy: BlockableProxy, fault_db: str
) -> dict[str, str]:
    """What every cluster process reads: the store through the proxy, the module's Redis.

    Heartbeats every second and a recovery pass every second make a lost worker, or a
    broker restarted empty, show within seconds; the visibility timeout stays above the
    longest job in the mix.
    """
    # PostgreSQL here trusts loopback: the password is never checked, only never logged.
    proxied = make_url(fault_db).set(port=pg_proxy.port, password=STORE_PASSWORD)
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
def observer(cluster_env: dict[str, str], fault_db: str) -> Iterator[Client]:
    """A client on the same broker, reading the store directly (not through the proxy)."""
    with Client(settings_from_env({**cluster_env, "JOBSYS_DATABASE_URL": fault_db})) as c:
        yield c


@pytest.fixture(scope="module")
def cluster(cluster_env: dict[str, str], fault_dir: Path, observer: Client) -> Iterator[Cluster]:
    """The loopback cluster (beat ×2, worker-data, worker-media) on the module's Redis and
    proxied store, with the mix's input files in ``cluster.inputs``."""
    observer.apply(text=harness.MANIFEST.read_text())
    c = Cluster(home=fault_dir / "home", env=cluster_env, services=SERVICES, scale={"beat": 2})
    c.up(timeout=90)
    c.inputs = harness.prepare_inputs(fault_dir / "inputs")  # type: ignore[attr-defined]
    try:
        yield c
    finally:
        c.down()


def logs(cluster: Cluster, service: str) -> str:
    """Every replica's log of ``service``, as text."""
    paths = [cluster.log_path(service, r) for r in range(len(cluster.processes(service)) + 2)]
    return "".join(p.read_text(errors="replace") for p in paths if p.exists())


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
