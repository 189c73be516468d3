"""``Cluster``: compose.yaml's jobsys services as real processes on loopback.

The topology (services, commands, healthchecks, replicas) is read from compose.yaml, so
the two cannot drift; what each process gets (environment, ports, arguments) is
``jobsys.cluster.environment``'s.

One-shot services (``migrate``: others wait for it with
``service_completed_successfully``) run first and must exit 0; then every other
service starts, and ``up()`` returns when each replica passes its compose healthcheck,
run as the same command. Logs: ``<home>/cluster/<service>[-<replica>].log``; state:
``<home>/cluster/state.json``, so ``jobsys cluster down|status`` works from any shell.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobsys.cluster import environment, process
from jobsys.cluster.errors import ClusterError
from jobsys.cluster.state import Replica, clear_state, load_state, save_state
from jobsys.cluster.topology import ServiceSpec, Topology, load_topology

if TYPE_CHECKING:
    import psutil

_POLL = 0.5
#: healthchecks run at once: each is a Python process, and the services start beside them
CHECKS_AT_ONCE = 2
#: a check's timeout at least: on a busy shared host a fresh process takes seconds to start
MIN_CHECK_TIMEOUT = 15.0


@dataclass(frozen=True)
class ReplicaStatus:
    """One row of ``jobsys cluster status``."""

    service: str
    replica: int
    pid: int
    alive: bool
    healthy: bool
    rss: int
    detail: str
    ports: Mapping[str, int]


class Cluster:
    """compose.yaml's jobsys services (all but redis/postgres by default) as local processes."""

    def __init__(
        self,
        *,
        home: Path,
        env: Mapping[str, str],
        compose_file: Path | None = None,
        services: Sequence[str] | None = None,
        scale: Mapping[str, int] | None = None,
    ) -> None:
        self.home = Path(home).expanduser().resolve()
        self.directory = self.home / "cluster"
        self.env = dict(env)
        self._compose_file = compose_file
        self._topology: Topology | None = None
        self._wanted = list(services) if services is not None else None
        self._scale = dict(scale or {})
        self._replicas: list[Replica] = load_state(self.directory)
        self._popen: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
        self._envs: dict[tuple[str, int], dict[str, str]] = {}

    # --- the topology ------------------------------------------------------------------

    @property
    def topology(self) -> Topology:
        """compose.yaml's jobsys services (read once)."""
        if self._topology is None:
            self._topology = load_topology(self._compose_file or environment.find_compose_file())
        return self._topology

    @property
    def cwd(self) -> Path:
        """Where processes run: compose.yaml's directory (its ``config/`` is theirs)."""
        return self.topology.path.resolve().parent

    def _selected(self) -> list[str]:
        topology = self.topology
        names = self._wanted if self._wanted is not None else list(topology.services)
        for name in [*names, *self._scale]:
            if name in topology.others:
                raise ClusterError(
                    f"{name} is not started by the loopback cluster: give its URL in the "
                    "environment (JOBSYS_BROKER_URL, JOBSYS_DATABASE_URL)",
                    service=name,
                )
            if name not in topology.services:
                known = ", ".join(topology.services)
                raise ClusterError(f"{topology.path}: no service {name!r} (services: {known})")
        for name, count in self._scale.items():
            if count < 1:
                raise ClusterError(f"--scale {name}={count}: at least 1 replica", service=name)
        return names

    def _count(self, spec: ServiceSpec) -> int:
        return 1 if spec.one_shot else self._scale.get(spec.name, spec.replicas)

    # --- what each process gets --------------------------------------------------------

    def _start(self, spec: ServiceSpec, replica: int, ports: dict[str, int]) -> Replica:
        env = environment.for_process(self.topology, spec, self.home, self.env, ports)
        argv = process.jobsys_argv(environment.loopback_args(spec.command, replica))
        check: list[str] | None = None
        command = spec.healthcheck.command() if spec.healthcheck else None
        if command is not None:
            check = environment.loopback_args(command, replica)
            if check[0] == "jobsys":
                check = process.jobsys_argv(check[1:])
        log = self.log_path(spec.name, replica)
        proc = process.spawn(argv, env, log, self.cwd)
        started = Replica(
            service=spec.name,
            replica=replica,
            pid=proc.pid,
            create_time=process.create_time(proc.pid),
            log=str(log),
            command=argv,
            healthcheck=check,
            health_timeout=spec.healthcheck.timeout if spec.healthcheck else 30.0,
            ports=ports,
            one_shot=spec.one_shot,
        )
        self._popen[(spec.name, replica)] = proc
        self._envs[(spec.name, replica)] = env
        self._replicas.append(started)
        self._save()
        return started

    def _save(self) -> None:
        save_state(self.directory, self._replicas, self._topology.path if self._topology else None)

    # --- up and down -------------------------------------------------------------------

    def up(self, timeout: float = 90.0) -> None:
        """Run the one-shot services, start the others, return when every one is healthy.

        A process that exits (or a service not healthy within ``timeout``) raises
        ``ClusterError`` with its log's tail, after stopping everything started.
        """
        running = [r for r in self._replicas if self._alive(r)]
        if running:
            raise ClusterError(
                f"a cluster is already running from {self.directory} (pids "
                f"{', '.join(str(r.pid) for r in running)}): run `jobsys cluster down` first"
            )
        self._replicas = []
        deadline = time.monotonic() + timeout
        names = self.topology.order(self._selected())
        try:
            for name in names:
                spec = self.topology.services[name]
                count = self._count(spec)
                for replica in range(count):
                    each = environment.ports_for(spec, self.env, count)
                    started = self._start(spec, replica, each)
                    if spec.one_shot:
                        self._complete(started, deadline)
            self._wait_healthy(
                [n for n in names if not self.topology.services[n].one_shot], deadline
            )
        except BaseException:
            self.down()
            raise

    def _complete(self, replica: Replica, deadline: float) -> None:
        proc = self._popen[(replica.service, replica.replica)]
        try:
            code = proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(
                "did not finish in time", service=replica.service, log_tail=self._tail(replica)
            ) from exc
        replica.exit_code = code
        self._save()
        if code != 0:
            raise ClusterError(
                f"exited with {code}", service=replica.service, log_tail=self._tail(replica)
            )

    def _wait_healthy(self, names: list[str], deadline: float) -> None:
        pending = list(names)
        last: dict[str, str] = {}
        with ThreadPoolExecutor(CHECKS_AT_ONCE) as pool:
            while pending:
                for replica in self._of(pending):
                    if not self._alive(replica):
                        raise ClusterError(
                            f"replica {replica.replica} (pid {replica.pid}) exited "
                            f"with {self._exit_code(replica)} while starting",
                            service=replica.service,
                            log_tail=self._tail(replica),
                        )
                results = dict(zip(pending, pool.map(self._service_check, pending), strict=True))
                last.update({name: detail for name, (_, detail) in results.items()})
                pending = [name for name, (ok, _) in results.items() if not ok]
                if pending and time.monotonic() >= deadline:
                    name = pending[0]
                    raise ClusterError(
                        "not healthy in time ("
                        + "; ".join(f"{n}: {last.get(n, '?')}" for n in pending)
                        + ")",
                        service=name,
                        log_tail=self._tail(self._of([name])[0]),
                    )
                if pending:
                    time.sleep(_POLL)

    def down(self, timeout: float = 20.0) -> None:
        """SIGTERM every process group, SIGKILL what is left after ``timeout``; idempotent."""
        replicas = self._replicas or load_state(self.directory)
        self._stop(replicas, timeout)
        self._replicas = []
        self._envs.clear()
        clear_state(self.directory)

    def _stop(self, replicas: list[Replica], timeout: float) -> None:
        for replica in replicas:
            process.signal_group(replica, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(process.group_members(r) for r in replicas):
            self._reap()
            time.sleep(0.1)
        for replica in replicas:
            process.signal_group(replica, signal.SIGKILL)
        for replica in replicas:
            proc = self._popen.pop((replica.service, replica.replica), None)
            if proc is not None:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass

    def _reap(self) -> None:
        for proc in self._popen.values():
            proc.poll()

    def restart(self, service: str, timeout: float = 60.0) -> None:
        """Stop every replica of ``service`` (SIGTERM, then SIGKILL), start them, wait healthy."""
        spec = self.topology.services.get(service)
        old = [r for r in self._replicas if r.service == service]
        if spec is None or not old:
            raise ClusterError("is not part of this cluster", service=service)
        self._stop(old, min(spec.stop_grace_period, 20.0))
        self._replicas = [r for r in self._replicas if r.service != service]
        deadline = time.monotonic() + timeout
        for replica in sorted(old, key=lambda r: r.replica):
            started = self._start(spec, replica.replica, dict(replica.ports))
            if spec.one_shot:
                self._complete(started, deadline)
        if not spec.one_shot:
            self._wait_healthy([service], deadline)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_: object) -> None:
        self.down()

    # --- looking at it -----------------------------------------------------------------

    def _of(self, services: Sequence[str]) -> list[Replica]:
        return [r for r in self._replicas if r.service in services]

    def alive(self, replica: Replica) -> bool:
        """Whether ``replica``'s main process still runs."""
        return self._alive(replica)

    def _alive(self, replica: Replica) -> bool:
        proc = self._popen.get((replica.service, replica.replica))
        if proc is not None:
            return proc.poll() is None
        return process.process_of(replica) is not None

    def _exit_code(self, replica: Replica) -> int | str:
        proc = self._popen.get((replica.service, replica.replica))
        code = proc.poll() if proc is not None else None
        return code if code is not None else "an unknown status"

    def _tail(self, replica: Replica) -> str:
        return process.log_tail(Path(replica.log))

    def _check(self, replica: Replica) -> tuple[bool, str]:
        if replica.one_shot:
            ok = replica.exit_code == 0
            return (
                ok,
                f"exited with {replica.exit_code}" if replica.exit_code is not None else "ran",
            )
        if not self._alive(replica):
            return False, "not running"
        if replica.healthcheck is None:
            return True, "running (no healthcheck)"
        env = self._envs.get((replica.service, replica.replica)) or process.environ_of(replica)
        if env is None:
            return False, "not running"
        timeout = max(replica.health_timeout, MIN_CHECK_TIMEOUT)
        return process.run_check(replica.healthcheck, env, timeout, self._run_dir())

    def _run_dir(self) -> Path:
        try:
            return self.cwd
        except ClusterError:  # another shell, without compose.yaml at hand
            return self.home

    def _service_check(self, service: str) -> tuple[bool, str]:
        replicas = self._of([service])
        if not replicas:
            return False, "not started"
        results = [self._check(r) for r in replicas]
        failed = [detail for ok, detail in results if not ok]
        return (not failed, failed[0] if failed else results[0][1])

    def healthy(self, service: str) -> bool:
        """Whether every replica of ``service`` runs and passes its healthcheck now."""
        return self._service_check(service)[0]

    def processes(self, service: str) -> list[psutil.Process]:
        """The main process of each live replica of ``service``."""
        found = (process.process_of(r) for r in self._of([service]))
        return [p for p in found if p is not None]

    def worker_children(self, service: str) -> list[psutil.Process]:
        """The prefork pool processes of every live replica of a worker service."""
        children: list[psutil.Process] = []
        for proc in self.processes(service):
            children += _children(proc)
        return children

    def log_path(self, service: str, replica: int = 0) -> Path:
        """``<home>/cluster/<service>.log`` (replica 0), ``<service>-<n>.log`` (replica n)."""
        suffix = f"-{replica}" if replica else ""
        return self.directory / f"{service}{suffix}.log"

    def ports(self, service: str, replica: int = 0) -> dict[str, int]:
        """The ``JOBSYS_*_PORT`` settings given to one replica (``JOBSYS_API_PORT``, ...)."""
        for r in self._of([service]):
            if r.replica == replica:
                return dict(r.ports)
        raise ClusterError("is not part of this cluster", service=service)

    def status(self) -> list[ReplicaStatus]:
        """Every recorded replica: pid, alive, healthy (its healthcheck now), RSS."""
        rows = []
        replicas = self._replicas
        with ThreadPoolExecutor(CHECKS_AT_ONCE) as pool:
            checks = list(pool.map(self._check, replicas))
        for replica, (ok, detail) in zip(replicas, checks, strict=True):
            proc = process.process_of(replica)
            rows.append(
                ReplicaStatus(
                    service=replica.service,
                    replica=replica.replica,
                    pid=replica.pid,
                    alive=proc is not None,
                    healthy=ok,
                    rss=_rss(proc),
                    detail=detail,
                    ports=dict(replica.ports),
                )
            )
        return rows

    def replicas(self) -> Iterator[Replica]:
        """The recorded replicas (what ``state.json`` holds)."""
        return iter(list(self._replicas))


def _children(proc: Any) -> list[Any]:
    import psutil

    try:
        return list(proc.children())
    except psutil.Error:
        return []


def _rss(proc: psutil.Process | None) -> int:
    import psutil

    if proc is None:
        return 0
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0
