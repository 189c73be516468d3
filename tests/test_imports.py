"""Layering and import weight, in the style of click's tests/test_imports.py.

Each import runs in a fresh interpreter with a tracking ``__import__``, so a
failure names the module that pulled the forbidden one in.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import jobsys
import tasks

TRACKER = """
import builtins, json, sys

importers = {}
real_import = builtins.__import__

def tracking_import(name, globals=None, locals=None, fromlist=(), level=0):
    before = set(sys.modules)
    module = real_import(name, globals, locals, fromlist, level)
    importer = (globals or {}).get("__name__", "?")
    for new in set(sys.modules) - before:
        importers.setdefault(new, importer)
    return module

builtins.__import__ = tracking_import
try:
    import importlib
    importlib.import_module(sys.argv[1])
except ImportError as exc:
    print(json.dumps({"import_error": str(exc)}))
    raise SystemExit(0)
print(json.dumps({"modules": sorted(sys.modules), "importers": importers}))
"""

#: layers that only adapters (``jobsys.celery``, ``jobsys.store``) and engines may load
ADAPTERS = ("celery", "kombu", "billiard", "sqlalchemy", "alembic", "jobsys.store", "jobsys.celery")
INTERFACES = ("fastapi", "starlette", "textual", "uvicorn")
CORE = (
    "jobsys.errors",
    "jobsys.settings",
    "jobsys.capabilities",
    "jobsys.lifecycle",
    "jobsys.jobtypes",
    "jobsys.context",
    "jobsys.secrets",
)


def loaded_by(module: str) -> dict[str, object]:
    """The modules importing ``module`` loads, and who imported each."""
    proc = subprocess.run(
        [sys.executable, "-c", TRACKER, module], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def forbidden(module: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """Forbidden modules ``module`` loads, each with the module that imported it."""
    result = loaded_by(module)
    if "import_error" in result:
        pytest.skip(f"{module} needs an engine not installed here: {result['import_error']}")
    modules, importers = result["modules"], result["importers"]
    assert isinstance(modules, list) and isinstance(importers, dict)
    hits = [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]
    # report only the roots: the first forbidden module each chain brought in
    roots = {m: importers.get(m, "?") for m in hits if m.partition(".")[0] == m or m in prefixes}
    return roots or {m: importers.get(m, "?") for m in hits}


def task_modules() -> list[str]:
    return sorted(
        info.name for info in pkgutil.walk_packages(tasks.__path__, "tasks.") if not info.ispkg
    ) + ["tasks", "tasks.builtin"]


def test_there_are_job_type_modules_to_check() -> None:
    assert {"tasks.builtin.noop", "tasks.builtin.demo"} <= set(task_modules())


@pytest.mark.parametrize("module", task_modules())
def test_job_type_modules_load_no_celery_sqlalchemy_or_store(module: str) -> None:
    assert forbidden(module, ADAPTERS) == {}


def test_import_jobsys_loads_no_adapter_or_interface() -> None:
    assert forbidden("jobsys", ADAPTERS + INTERFACES + ("jobsys.client", "jobsys.cli")) == {}


@pytest.mark.parametrize("module", CORE)
def test_core_modules_load_no_celery_or_sqlalchemy(module: str) -> None:
    assert forbidden(module, ADAPTERS) == {}


def test_the_tracker_does_see_forbidden_imports() -> None:
    found = forbidden("jobsys.client", ADAPTERS)
    assert {"celery", "sqlalchemy"} <= set(found)


def jobsys_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) of every import of jobsys in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.partition(".")[0] == "jobsys":
                found += [(node.lineno, node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name, "")
                for a in node.names
                if a.name.partition(".")[0] == "jobsys"
            ]
    return found


def test_job_types_use_only_the_public_names_of_jobsys() -> None:
    root = Path(tasks.__path__[0])
    wrong = [
        f"{path.relative_to(root.parent)}:{line}: {module} {name}".strip()
        for path in sorted(root.rglob("*.py"))
        for line, module, name in jobsys_imports(path)
        if module != "jobsys" or name not in jobsys.__all__
    ]
    assert wrong == [], "import these from `jobsys` (its __all__), nothing deeper"


@pytest.mark.parametrize("module", ["jobsys.cli", "jobsys.api", "jobsys.api.auth"])
def test_the_api_extra_loads_only_when_the_server_starts(module: str) -> None:
    """`jobsys` commands, and hashing a token, work without FastAPI installed."""
    assert forbidden(module, INTERFACES) == {}


def test_the_api_app_does_load_fastapi() -> None:
    assert "fastapi" in forbidden("jobsys.api.app", INTERFACES)
