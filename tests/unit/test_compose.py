"""compose.yaml and the Dockerfile: valid for Compose, and true to jobsys's own rules.

No Docker engine runs here, so the file is checked against the Compose specification's
JSON schema (the copy check-jsonschema bundles) and against what jobsys knows: the
capability groups, the registered job types, the settings, the package's extras. The
loopback cluster reads the same file, so what it runs is checked here too.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from jobsys.capability_groups import group_capabilities, load_groups
from jobsys.cli import main
from jobsys.cluster import ClusterError
from jobsys.cluster.topology import duration, interpolate, load_topology
from jobsys.errors import ConfigError
from jobsys.jobtypes import discover
from jobsys.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
GROUPS = ROOT / "config" / "capabilities.toml"
WORKERS = ["worker-data", "worker-media", "worker-speech"]
LONG_RUNNING = ["redis", "postgres", "api", "beat", *WORKERS, "flower"]
#: the capability the demo leaves unserved on purpose (its job waits "for capability")
UNSERVED = {"demo.gpu@1"}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|AUTH|KEY", re.IGNORECASE)
REQUIRED_REFERENCE = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]+\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    schemas = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    schema: dict[str, Any] = json.loads((schemas / "compose-spec.json").read_text())
    return schema


def _errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def _worker_groups(command: list[str]) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command) if arg == "--group"]


def test_compose_file_validates_against_the_compose_specification(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    assert _errors(compose_schema, compose) == []
    broken = copy.deepcopy(compose)
    broken["services"]["api"]["healthcheck"]["retrys"] = 3  # a misspelled key
    broken["services"]["beat"]["depends_on"]["migrate"]["condition"] = "service_done"
    problems = _errors(compose_schema, broken)
    assert any("retrys" in p for p in problems) and any("service_done" in p for p in problems)


def test_the_services_are_the_production_topology(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"migrate", *LONG_RUNNING}
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ["api", "beat", *WORKERS, "flower"]:
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "x-jobsys" in compose  # the shared environment, merged into every jobsys service
    flower = services["flower"]["environment"]  # JOBSYS_TASK_EVENTS decides; memory bounded
    assert flower["FLOWER_ENABLE_EVENTS"] == "false" and "FLOWER_MAX_TASKS" in flower
    for name in ["migrate", "api", "beat", *WORKERS, "flower"]:
        env = services[name]["environment"]
        assert env["JOBSYS_BROKER_URL"] == compose["x-jobsys"]["JOBSYS_BROKER_URL"], name


def test_each_worker_serves_only_its_groups_and_together_they_serve_every_job_type(
    compose: dict[str, Any],
) -> None:
    groups = load_groups(GROUPS)
    registered = {str(c) for c in discover([]).by_capability()}
    # every registered capability belongs to a group of config/capabilities.toml
    assert registered <= {c for g in groups.values() for c in g.capabilities}

    served: dict[str, list[str]] = {}
    for name in WORKERS:
        command = compose["services"][name]["command"]
        names = _worker_groups(command)
        assert names and all(g in groups for g in names), (name, names)
        assert "--capability" not in command and "-C" not in command  # groups only
        served[name] = group_capabilities(names, GROUPS)
    assert served["worker-media"] == list(groups["media"].capabilities)
    assert served["worker-speech"] == list(groups["speech"].capabilities)
    everything = {c for caps in served.values() for c in caps}
    assert registered - everything == UNSERVED
    assert not set(served["worker-data"]) & set(served["worker-media"])


def test_every_long_running_service_has_a_healthcheck_jobsys_or_the_image_provides(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in LONG_RUNNING:
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD", name
    for name in ["api", "beat", *WORKERS, "flower"]:
        test = services[name]["healthcheck"]["test"]
        assert test[1:4] == ["jobsys", "health", name.split("-")[0]], name
    for name in WORKERS + ["beat"]:  # the healthcheck names the node the command starts
        command, test = services[name]["command"], services[name]["healthcheck"]["test"]
        assert command[command.index("--name") + 1] == test[test.index("--name") + 1]
    assert "restart" in services["migrate"] and services["migrate"]["restart"] == "no"


def _environments(compose: dict[str, Any]) -> list[tuple[str, str, str]]:
    found = [("x-jobsys", k, str(v)) for k, v in compose["x-jobsys"].items()]
    for name, service in compose["services"].items():
        found += [(name, k, str(v)) for k, v in (service.get("environment") or {}).items()]
    return found


def test_no_secret_is_written_in_the_file_only_required_references(
    compose: dict[str, Any],
) -> None:
    for where, key, value in _environments(compose):
        if SECRET_KEY.search(key):
            assert REQUIRED_REFERENCE.fullmatch(value), f"{where}: {key}={value!r}"
        credentials = re.search(r"://[^/@\s]*:(?P<password>[^@/\s]+)@", value)
        if credentials:  # a password inside a URL
            assert REQUIRED_REFERENCE.fullmatch(credentials["password"]), f"{where}: {key}"
    text = COMPOSE.read_text()
    assert "JOBSYS_FLOWER_BASIC_AUTH: ${JOBSYS_FLOWER_BASIC_AUTH:?" in text
    assert "JOBSYS_API_TOKENS: ${JOBSYS_API_TOKENS:?" in text


def test_every_jobsys_variable_in_the_file_is_a_setting(compose: dict[str, Any]) -> None:
    settings = {f"JOBSYS_{name.upper()}" for name in Settings.model_fields}
    used = {key for _, key, _ in _environments(compose) if key.startswith("JOBSYS_")}
    used |= set(re.findall(r"\$\{(JOBSYS_[A-Z0-9_]+)", COMPOSE.read_text()))
    assert used and used <= settings, used - settings


def test_the_dockerfile_installs_extras_that_exist_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    extras = re.search(r'pip install "\.\[(?P<extras>[^\]]+)\]"', dockerfile)
    assert extras is not None
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    wanted = extras["extras"].split(",")
    assert {"media", "speech", "data", "api", "flower"} <= set(wanted) <= set(declared)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert 'ENTRYPOINT ["jobsys"]' in dockerfile
    assert (ROOT / ".dockerignore").is_file()


def test_the_loopback_cluster_reads_the_same_topology() -> None:
    topology = load_topology(COMPOSE)
    assert topology.others == {"redis", "postgres"}
    assert set(topology.services) == {"migrate", "api", "beat", *WORKERS, "flower"}
    assert topology.services["migrate"].one_shot
    assert not any(topology.services[s].one_shot for s in topology.services if s != "migrate")
    assert topology.order(["flower", "api", "migrate"])[0] == "migrate"
    data = topology.services["worker-data"]
    assert data.command[:3] == ("worker", "--group", "data")
    assert data.healthcheck is not None and data.healthcheck.timeout == 10.0
    assert data.stop_grace_period == 60.0


def test_variable_references_resolve_as_compose_resolves_them() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert (
        interpolate("a${SET}b ${NOPE:-d} ${EMPTY:-e} ${EMPTY-f} $$", env.get, "w") == "axb d e  $"
    )
    assert interpolate("${SET:?needed}", env.get, "w") == "x"
    with pytest.raises(ClusterError, match=r"services.flower: \$\{NOPE\} is required: set it"):
        interpolate("${NOPE:?set it}", env.get, "services.flower")
    with pytest.raises(ClusterError, match="EMPTY"):
        interpolate("${EMPTY:?}", env.get, "w")


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10), ("1m30s", 90), ("500ms", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert duration(text, 0) == seconds


def test_a_bad_duration_is_an_error_naming_it() -> None:
    with pytest.raises(ClusterError, match="'ten seconds'"):
        duration("ten seconds", 0)


def test_an_unknown_group_is_an_error_naming_the_file_and_the_groups(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        group_capabilities(["data", "videos"], GROUPS)
    assert str(GROUPS) in str(info.value) and "'videos'" in str(info.value)
    assert "media" in str(info.value)
    bad = tmp_path / "capabilities.toml"
    bad.write_text('[groups.x]\ncapabilities = ["Not A Capability"]\n')
    with pytest.raises(ConfigError, match=r"capabilities.toml: \[groups.x\]"):
        load_groups(bad)
    bad.write_text("[groups.x\n")
    with pytest.raises(ConfigError, match="not valid TOML.*line 1"):
        load_groups(bad)


def test_worker_group_on_the_command_line_names_the_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["worker", "--group", "videos", "--groups-file", str(GROUPS)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(GROUPS) in err and "'videos'" in err


def test_loopback_processes_get_compose_settings_but_not_its_container_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobsys.cluster.environment import for_process

    monkeypatch.delenv("JOBSYS_SOURCE_ROOTS", raising=False)
    topology = load_topology(COMPOSE)
    spec = topology.services["worker-media"]
    env = {
        "JOBSYS_BROKER_URL": "redis://127.0.0.1:6379/5",
        "JOBSYS_DATABASE_URL": "sqlite:///x.db",
        "POSTGRES_PASSWORD": "unused",
    }
    merged = for_process(topology, spec, tmp_path, env, {})
    assert merged["JOBSYS_HOME"] == str(tmp_path)  # not the container's /var/lib/jobsys
    assert "JOBSYS_SOURCE_ROOTS" not in merged  # /data is the container's mount
    assert merged["JOBSYS_VISIBILITY_TIMEOUT"] == "3600"  # other compose settings hold

    given = for_process(topology, spec, tmp_path, {**env, "JOBSYS_SOURCE_ROOTS": "/srv/in"}, {})
    assert given["JOBSYS_SOURCE_ROOTS"] == "/srv/in"
