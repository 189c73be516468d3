"""The cluster's topology, read from compose.yaml: services, commands, healthchecks, replicas.

Only what a loopback run needs is read: a jobsys service is one built from this
repository (``build:``), so ``redis`` and ``postgres`` (the machine's own) are left out.
Environment values keep their ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}``
references; ``interpolate()`` resolves them as ``docker compose`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobsys.cluster.errors import ClusterError

#: ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``, ``${NAME:?message}``, ``${NAME?message}``
_REFERENCE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)
_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>us|ms|s|m|h)")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str | int | float | None, default: float) -> float:
    """Seconds of a compose duration (``1m30s``, ``500ms``, ``10s``)."""
    if text is None:
        return default
    if isinstance(text, int | float):
        return float(text)
    parts = list(_DURATION.finditer(text))
    if not parts or "".join(p.group(0) for p in parts) != text.strip():
        raise ClusterError(f"{text!r} is not a compose duration (e.g. 10s, 1m30s)")
    return sum(float(p["n"]) * _UNITS[p["unit"]] for p in parts)


def interpolate(value: str, lookup: Callable[[str], str | None], where: str) -> str:
    """Resolve compose's variable references in ``value``; a ``:?`` one missing is an error."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        found = lookup(name)
        unset = found is None or (found == "" and op is not None and op.startswith(":"))
        if op in (":?", "?") and unset:
            raise ClusterError(f"{where}: ${{{name}}} is required: {arg or 'not set'}")
        if op in (":-", "-") and unset:
            return arg
        return found or ""

    return _REFERENCE.sub(one, value)


@dataclass(frozen=True)
class Healthcheck:
    """A service's healthcheck: the command (compose ``test``) and its timing."""

    test: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0

    def command(self) -> tuple[str, ...] | None:
        """The argv to run (``CMD-SHELL`` through ``/bin/sh -c``); ``None`` for ``NONE``."""
        kind, *rest = self.test
        if kind == "NONE":
            return None
        if kind == "CMD-SHELL":
            return ("/bin/sh", "-c", " ".join(rest))
        return tuple(rest)


@dataclass(frozen=True)
class ServiceSpec:
    """One compose service as the loopback cluster runs it."""

    name: str
    command: tuple[str, ...]
    environment: Mapping[str, str] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    replicas: int = 1
    depends_on: Mapping[str, str] = field(default_factory=dict)
    stop_grace_period: float = 10.0
    #: run to completion before the services that wait for it (``service_completed_successfully``)
    one_shot: bool = False


@dataclass(frozen=True)
class Topology:
    """The jobsys services of a compose file, and the names of the others (redis, postgres)."""

    path: Path
    services: Mapping[str, ServiceSpec]
    others: frozenset[str]

    def order(self, names: list[str]) -> list[str]:
        """``names`` with one-shot services first, each after what it depends on."""
        done: list[str] = []

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if name in done or name not in names:
                return
            if name in trail:
                raise ClusterError(f"{self.path}: depends_on cycle: {' -> '.join(trail)}")
            for dep in self.services[name].depends_on:
                if dep in self.services:
                    visit(dep, (*trail, name))
            done.append(name)

        for name in sorted(names, key=lambda n: not self.services[n].one_shot):
            visit(name, ())
        return done


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v) for v in value)
    raise ClusterError(f"{where}: expected a list of strings")


def _environment(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list):
        pairs = [str(item).partition("=") for item in value]
        return {k: v for k, _, v in pairs}
    if isinstance(value, dict):
        return {
            str(k): "" if v is None else str(v).lower() if v is True or v is False else str(v)
            for k, v in value.items()
        }
    raise ClusterError(f"{where}: expected a mapping or a list of NAME=value")


def _depends_on(value: Any) -> dict[str, str]:
    if isinstance(value, list):
        return {str(v): "service_started" for v in value}
    if isinstance(value, dict):
        return {
            str(k): str((v or {}).get("condition", "service_started")) for k, v in value.items()
        }
    return {}


def _healthcheck(value: Any, where: str) -> Healthcheck | None:
    if not isinstance(value, dict) or value.get("disable") or "test" not in value:
        return None
    test = value["test"]
    test = ("CMD-SHELL", test) if isinstance(test, str) else _strings(test, f"{where}.test")
    return Healthcheck(
        test=tuple(test),
        interval=duration(value.get("interval"), 30.0),
        timeout=duration(value.get("timeout"), 30.0),
        retries=int(value.get("retries", 3)),
        start_period=duration(value.get("start_period"), 0.0),
    )


def load_topology(path: Path) -> Topology:
    """Read ``path`` (compose.yaml); a ``ClusterError`` names the file and what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ClusterError(f"{path}: no such compose file") from exc
    except yaml.YAMLError as exc:
        raise ClusterError(f"{path}: not valid YAML: {exc}") from exc
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or not services:
        raise ClusterError(f"{path}: no services")
    waited_for = {
        dep
        for body in services.values()
        if isinstance(body, dict)
        for dep, condition in _depends_on(body.get("depends_on")).items()
        if condition == "service_completed_successfully"
    }
    specs: dict[str, ServiceSpec] = {}
    for name, body in services.items():
        if not isinstance(body, dict) or "build" not in body:
            continue
        where = f"{path}: services.{name}"
        if "command" not in body:
            raise ClusterError(f"{where}: no command")
        deploy = body.get("deploy") or {}
        specs[name] = ServiceSpec(
            name=name,
            command=_strings(body["command"], f"{where}.command"),
            environment=_environment(body.get("environment"), f"{where}.environment"),
            healthcheck=_healthcheck(body.get("healthcheck"), f"{where}.healthcheck"),
            replicas=int(body.get("scale", deploy.get("replicas", 1))),
            depends_on=_depends_on(body.get("depends_on")),
            stop_grace_period=duration(body.get("stop_grace_period"), 10.0),
            one_shot=name in waited_for,
        )
    return Topology(path, specs, frozenset(set(services) - set(specs)))
