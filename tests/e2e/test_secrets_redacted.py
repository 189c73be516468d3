"""A planted secret never shows: not in logs, rows, API responses, CLI output or the view.

Secrets are planted everywhere a user might put one: a ``secret://env/...`` reference in
a job's inputs and in a template's step (resolved by the job, which logs it, warns with
it, returns it in its outputs, and fails quoting it), an HTTP callback header given as a
secret reference, the database and broker URL passwords, Flower's basic-auth password
and the API tokens. Then everything a user or an operator can read is grepped for them.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest
from sqlalchemy import text

from jobsys.api import create_api
from jobsys.api.auth import hash_token
from jobsys.client import Client
from jobsys.lifecycle import GroupState, JobState
from jobsys.testing import WorkerProcess, settings_from_env, wait_until
from jobsys.tui import rendering

from ._api import ApiServer, free_port
from ._cli import run_jobsys

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

StartWorker = Callable[..., WorkerProcess]
CAPS = ["leaky.test@1", "demo.basic@1", "jobsys.noop@1"]


class _Hook(BaseHTTPRequestHandler):
    authorization: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).authorization.append(self.headers.get("Authorization", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on loopback recording the Authorization header of each POST."""
    _Hook.authorization = []
    server = HTTPServer(("127.0.0.1", free_port()), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], _Hook.authorization
    server.shutdown()
    server.server_close()


def manifest(port: int) -> str:
    return f"""apiVersion: jobsys/v1
kind: Job
metadata: {{name: leaky-dag}}
callbacks:
  always:
    - url: http://127.0.0.1:{port}/hook
      headers: {{Authorization: "secret://env/JOBSYS_TEST_HOOK_AUTH"}}
steps:
  - name: use
    type: leaky.use
    with: {{token: "secret://env/JOBSYS_TEST_PLANTED"}}
    next: fail
  - name: fail
    type: leaky.fail
    with: {{token: "secret://env/JOBSYS_TEST_PLANTED"}}
"""


def with_password(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest.split('@')[-1]}"


def api_routes(client: Client) -> list[tuple[str, str]]:
    """(method, path) of every route of the app (``app.routes``, included routers walked)."""
    app = create_api(client=client)
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    return [
        (method, route.path)
        for route in (walk(app.routes) if walk else app.routes)
        for method in sorted(route.methods or {"GET"})
        if method != "HEAD"
    ]


def test_a_planted_secret_shows_nowhere(
    jobsys_env: dict[str, str],
    start_worker: StartWorker,
    tmp_path: Path,
    hook: tuple[int, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    planted = {
        "secret": f"pl4nted-{secrets.token_hex(8)}",
        "hook": f"Bearer hook-{secrets.token_hex(8)}",
        "db password": f"dbpw-{secrets.token_hex(8)}",
        "broker password": f"brokerpw-{secrets.token_hex(8)}",
        "flower password": f"flowerpw-{secrets.token_hex(8)}",
        "admin token": secrets.token_urlsafe(24),
        "read token": secrets.token_urlsafe(24),
    }
    modules = tmp_path / "modules"
    modules.mkdir()
    shutil.copy(Path(__file__).with_name("_leaky_jobs.py"), modules / "leaky_jobs.py")
    monkeypatch.syspath_prepend(str(modules))
    monkeypatch.setenv("JOBSYS_TEST_PLANTED", planted["secret"])
    monkeypatch.setenv("JOBSYS_TEST_HOOK_AUTH", planted["hook"])
    tokens = [
        f"admin:{hash_token(planted['admin token'])}:ci",
        f"read:{hash_token(planted['read token'])}:dash",
    ]
    env = {
        **jobsys_env,
        # PostgreSQL trusts loopback here and Redis's default user takes any password:
        # both URLs work, and carry a password that must never show.
        "JOBSYS_DATABASE_URL": with_password(
            jobsys_env["JOBSYS_DATABASE_URL"], "postgres", planted["db password"]
        ),
        "JOBSYS_BROKER_URL": with_password(
            jobsys_env["JOBSYS_BROKER_URL"], "default", planted["broker password"]
        ),
        "JOBSYS_FLOWER_BASIC_AUTH": f"admin:{planted['flower password']}",
        "JOBSYS_API_TOKENS": json.dumps(tokens),
        "JOBSYS_JOBTYPE_MODULES": '["leaky_jobs"]',
        "JOBSYS_CALLBACK_ALLOWED_HOSTS": '["127.0.0.1"]',
        "JOBSYS_TEST_PLANTED": planted["secret"],
        "JOBSYS_TEST_HOOK_AUTH": planted["hook"],
        "PYTHONPATH": str(modules),
    }
    worker = start_worker(CAPS, concurrency=2, env=env)
    api = ApiServer(env, tmp_path, tmp_path / "api.log").wait_ready()
    port, received = hook
    settings = settings_from_env(env)
    try:
        with Client(settings) as client:
            ref = {"token": "secret://env/JOBSYS_TEST_PLANTED"}
            used = client.submit("leaky.use", ref)
            failed = client.submit("leaky.fail", ref)
            assert used.wait(60) == JobState.COMPLETED_WITH_WARNINGS
            assert failed.wait(60) == JobState.FAILED
            assert client.apply(text=manifest(port)).ok
            group = client.run_template("leaky-dag")
            assert client.wait_group(group, 60) == GroupState.PARTIAL
            wait_until(lambda: received, 30, message="the callback")
            assert received == [planted["hook"]]  # resolved at delivery, sent as given
            wait_until(
                lambda: all(d.status != "PENDING" for d in client.callbacks(group)),
                30,
                message="the callback's delivery to be recorded",
            )
            # The job saw the secret: its error says where, masked.
            assert "refused token ***" in (client.job(failed.id).error or "")

            focus = [used.id, failed.id]
            seen = _everything_readable(client, api, env, tmp_path, worker, group, planted, focus)
    finally:
        api.stop()

    for what, value in planted.items():
        leaks = [where for where, body in seen.items() if value in body]
        assert leaks == [], f"the {what} shows in: {leaks}"


def _everything_readable(
    client: Client,
    api: ApiServer,
    env: dict[str, str],
    tmp_path: Path,
    worker: WorkerProcess,
    group: str,
    planted: dict[str, str],
    focus: list[str],
) -> dict[str, str]:
    """Every text a user or an operator can read, by where it is."""
    seen: dict[str, str] = {}
    with client.runtime.engine.connect() as conn:
        for table in ("jobs", "job_runs", "job_groups", "job_templates", "callback_deliveries"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).mappings().all()
            assert rows, table
            seen[f"table {table}"] = repr([dict(r) for r in rows])

    jobs = client.jobs(limit=100)
    ids = list(dict.fromkeys([*focus, *(j.id for j in jobs)]))  # the leaky jobs first
    read, admin = planted["read token"], planted["admin token"]
    with (
        httpx.Client(base_url=api.url, timeout=30) as anonymous,
        httpx.Client(
            base_url=api.url, timeout=30, headers={"Authorization": f"Bearer {read}"}
        ) as reader,
        httpx.Client(
            base_url=api.url, timeout=30, headers={"Authorization": f"Bearer {admin}"}
        ) as administrator,
    ):
        names = {"job_id": ids[0], "group_id": group, "run_id": group, "name": "leaky-dag"}
        for method, path in api_routes(client):
            for job_id in ids[:3] if "{job_id}" in path else ids[:1]:
                filled = path
                for key, value in {**names, "job_id": job_id}.items():
                    filled = filled.replace("{" + key + "}", value)
                if "/schedules/" in path:
                    continue  # no schedule here; the list is still read
                for who, http in (("anon", anonymous), ("read", reader)):
                    response = http.request(method, filled)
                    seen[f"API {who} {method} {filled}"] = response.text + repr(response.headers)
        for path in ("/v1/jobs?limit=100", f"/v1/groups/{group}", "/v1/templates"):
            response = administrator.get(path)
            assert response.status_code == 200, response.text
            seen[f"API admin GET {path}"] = response.text
        bad = administrator.post("/v1/jobs", json={"job_type": "leaky.use", "inputs": {}})
        seen["API admin bad POST"] = bad.text
    seen["API log"] = api.log_path.read_text(errors="replace")

    cli_env = {k: v for k, v in env.items() if k.startswith("JOBSYS_") or k == "PYTHONPATH"}
    for args in (
        *(["jobs", "show", i] for i in ids[:3]),
        ["runs", "show", group, "--json"],
        ["runs", "callbacks", group],
    ):
        ran = run_jobsys(args, tmp_path, **cli_env)
        seen[f"jobsys {' '.join(args)}"] = ran.stdout + ran.stderr

    now = datetime.now(UTC)
    seen["jobs view"] = "\n".join(
        rendering.job_text(j, now, 200).plain for j in client.jobs(limit=100)
    )
    seen["worker log"] = worker.log_path.read_text(errors="replace")
    for log in (Path(env["JOBSYS_HOME"]) / "logs").glob("*.log"):
        seen[f"job log {log.name}"] = log.read_text(errors="replace")
    assert any(k.startswith("job log") for k in seen)
    return seen
