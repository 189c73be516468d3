"""What each loopback process gets: its environment, its ports, its arguments.

``os.environ`` + the service's compose ``environment`` (its ``${...}`` resolved, minus
what the cluster's ``env`` sets) + ``env``, with the loopback rules:

- ``JOBSYS_HOME`` is the cluster's home unless ``env`` names another;
- ``JOBSYS_SOURCE_ROOTS`` in compose names the container's data mount: on loopback the
  roots are ``env``'s (or the caller's environment's), else paths are not confined;
- every ``JOBSYS_*_PORT`` of a service gets a free port per replica (``env``'s value when
  the service has one replica), and ``0.0.0.0`` becomes ``127.0.0.1``;
- ``%h`` in a command or healthcheck (a container's host name) becomes
  ``<host>-<replica>``, so replicas on one host keep distinct node names;
- a broker or store URL naming a compose service the cluster does not start (``redis``,
  ``postgres``) is an error: ``env`` must say where the real one is.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from jobsys.cluster.errors import ClusterError
from jobsys.cluster.topology import ServiceSpec, Topology, interpolate

COMPOSE_FILE = "compose.yaml"
_PORT_SETTING = re.compile(r"JOBSYS_[A-Z0-9_]+_PORT")
_ANY_ADDRESS = {"0.0.0.0", "::"}
#: the settings that must not point at a compose service the cluster does not start
#: settings whose compose value is a path inside the container
_CONTAINER_PATHS = ("JOBSYS_SOURCE_ROOTS",)
_URL_SETTINGS = ("JOBSYS_BROKER_URL", "JOBSYS_DATABASE_URL", "JOBSYS_RESULT_BACKEND")


def find_compose_file() -> Path:
    """``./compose.yaml``, else the one of the source tree jobsys runs from."""
    here = Path.cwd() / COMPOSE_FILE
    if here.is_file():
        return here
    beside = Path(__file__).resolve().parents[2] / COMPOSE_FILE
    return beside if beside.is_file() else here


def free_port() -> int:
    """A TCP port nothing listens on at this moment, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ports_for(spec: ServiceSpec, env: Mapping[str, str], replicas: int) -> dict[str, int]:
    """One replica's ``JOBSYS_*_PORT`` settings."""
    ports = {}
    for key in spec.environment:
        if _PORT_SETTING.fullmatch(key):
            given = env.get(key)
            ports[key] = int(given) if given and replicas == 1 else free_port()
    return ports


def loopback_args(args: Sequence[str], replica: int) -> list[str]:
    """A command's arguments on loopback: ``%h`` per replica, no ``0.0.0.0``."""
    host = f"{socket.gethostname()}-{replica}"
    return ["127.0.0.1" if a in _ANY_ADDRESS else a.replace("%h", host) for a in args]


def for_process(
    topology: Topology,
    spec: ServiceSpec,
    home: Path,
    env: Mapping[str, str],
    ports: Mapping[str, int],
) -> dict[str, str]:
    """The whole environment of one replica of ``spec``."""

    def lookup(name: str) -> str | None:
        return env.get(name, os.environ.get(name))

    where = f"{topology.path}: services.{spec.name}.environment"
    compose = {
        key: interpolate(value, lookup, f"{where}.{key}")
        for key, value in spec.environment.items()
        if key not in env
    }
    merged = {**os.environ, **compose, **env}
    if "JOBSYS_HOME" not in env:
        merged["JOBSYS_HOME"] = str(home)
    for key in _CONTAINER_PATHS:
        if key in compose:  # a path inside the container, not on this machine
            given = env.get(key, os.environ.get(key))
            if given is None:
                merged.pop(key, None)
            else:
                merged[key] = given
    merged.update({key: str(port) for key, port in ports.items()})
    merged = {k: "127.0.0.1" if v in _ANY_ADDRESS else v for k, v in merged.items()}
    for key in _URL_SETTINGS:
        host = _url_host(merged.get(key, ""))
        if host in topology.others:
            raise ClusterError(
                f"{key} points at compose service {host!r}, which the loopback cluster "
                f"does not start: set {key} in its environment",
                service=spec.name,
            )
    return merged


def _url_host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname if "://" in url else None
    except ValueError:
        return None
