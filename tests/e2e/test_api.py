"""The REST API as a user runs it: ``jobsys api`` in a subprocess on PostgreSQL and Redis,
real workers, and httpx over TCP."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobsys.api.auth import hash_token
from jobsys.client import Client
from jobsys.testing import WorkerProcess, wait_until

from ._api import ApiServer
from ._cli import clean_environ, jobsys_command, run_jobsys

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

StartWorker = Callable[..., WorkerProcess]
NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"


class Api:
    """A running server and the tokens it accepts; ``as_admin``/``as_reader``/``anonymous``."""

    def __init__(self, server: ApiServer, admin: str, reader: str) -> None:
        self.server = server
        self.anonymous = httpx.Client(base_url=server.url, timeout=30)
        self.as_admin = httpx.Client(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {admin}"}
        )
        self.as_reader = httpx.Client(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {reader}"}
        )

    def close(self) -> None:
        for http in (self.anonymous, self.as_admin, self.as_reader):
            http.close()

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.as_reader.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_status(self, job_id: str, *statuses: str, timeout: float = 30) -> dict[str, Any]:
        return wait_until(
            lambda: (job := self.job(job_id))["status"] in statuses and job,
            timeout,
            message=f"job {job_id} to be {' or '.join(statuses)}",
        )


StartApi = Callable[..., Api]


@pytest.fixture
def start_api(jobsys_env: dict[str, str], tmp_path: Path) -> Iterator[StartApi]:
    """``start_api(tokens=True)``: ``jobsys api`` on the test's store and broker, ready."""
    started: list[Api] = []

    def start(tokens: bool = True) -> Api:
        admin, reader = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        entries = [f"admin:{hash_token(admin)}:ci", f"read:{hash_token(reader)}:dash"]
        env = {**jobsys_env, "JOBSYS_API_TOKENS": json.dumps(entries if tokens else [])}
        workdir = tmp_path / "api"
        workdir.mkdir(exist_ok=True)
        server = ApiServer(env, workdir, tmp_path / f"api-{len(started)}.log")
        api = Api(server, admin, reader)
        started.append(api)
        server.wait_ready()
        return api

    yield start
    for api in started:
        api.close()
        api.server.stop()


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    detail: dict[str, Any] = body["error"]
    return detail


def test_a_job_submitted_through_the_api_runs_on_a_worker(
    start_api: StartApi, start_worker: StartWorker
) -> None:
    start_worker(["demo.basic@1"])
    api = start_api()
    response = api.as_admin.post(
        "/v1/jobs", json={"job_type": "demo.echo", "inputs": {"message": "hello", "times": 3}}
    )
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]

    job = api.wait_status(job_id, "COMPLETED", "FAILED")
    assert job["status"] == "COMPLETED", job
    assert job["outputs"] == {"lines": 3, "file": "echo.txt"}
    assert Path(job["output_path"], "echo.txt").read_text() == "hello\n" * 3
    assert (job["attempt"], job["items_processed"], job["items_total"]) == (1, 3, 3)
    assert job["finished_at"].endswith("Z") and job["waiting_for"] is None

    completed = api.as_reader.get("/v1/jobs", params={"status": "COMPLETED", "type": "demo.echo"})
    assert [j["id"] for j in completed.json()] == [job_id]

    cancel = api.as_admin.post(f"/v1/jobs/{job_id}/cancel")
    assert cancel.status_code == 409
    assert "cannot go from COMPLETED to CANCELLED" in error_of(cancel)["message"]


def test_a_failed_job_shows_its_error_and_is_retried(
    start_api: StartApi, start_worker: StartWorker
) -> None:
    start_worker(["demo.basic@1"])
    api = start_api()
    job_id = api.as_admin.post(
        "/v1/jobs", json={"job_type": "demo.explode", "inputs": {"reason": "no tape"}}
    ).json()["id"]
    failed = api.wait_status(job_id, "FAILED", "COMPLETED")
    assert (failed["status"], failed["error_type"]) == ("FAILED", "FatalJobError")
    assert "no tape" in failed["error"]

    retried = api.as_admin.post(f"/v1/jobs/{job_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "QUEUED"
    again = api.wait_status(job_id, "FAILED", "COMPLETED")
    assert again["status"] == "FAILED" and again["finished_at"] > failed["finished_at"]


def test_a_job_no_worker_can_run_says_what_it_waits_for(
    start_api: StartApi, start_worker: StartWorker, client: Client
) -> None:
    start_worker(["demo.basic@1"])
    api = start_api()
    group_id = client.submit_group(
        [("demo.echo", {"message": "a"}), ("demo.render", {"scene": "s"})], mode="parallel"
    )

    def echo_done() -> dict[str, Any] | None:
        group: dict[str, Any] = api.as_reader.get(f"/v1/groups/{group_id}").json()
        return group if group["jobs"][0]["status"] == "COMPLETED" else None

    try:
        group = wait_until(echo_done, 30, message="the echo job of the group to complete")
    finally:  # the store is shared by the session: leave no job queued for other tests
        client.cancel_group(group_id)
    render = group["jobs"][1]
    assert (render["job_type"], render["status"]) == ("demo.render", "QUEUED")
    assert render["waiting_for"] == "capability demo.gpu@1: no worker serves it"
    assert group["status"] == "RUNNING"


def test_bad_requests_are_refused_with_what_is_wrong(start_api: StartApi, client: Client) -> None:
    api = start_api()
    bad = api.as_admin.post("/v1/jobs", json={"job_type": "demo.echo", "inputs": {"times": 0}})
    assert bad.status_code == 422
    assert (error_of(bad)["type"], error_of(bad)["field"]) == ("InputError", "message")

    unknown = api.as_reader.get(f"/v1/jobs/{NO_SUCH_ID}")
    assert unknown.status_code == 404
    assert error_of(unknown) == {
        "type": "NotFound",
        "message": f"no job '{NO_SUCH_ID}'",
        "field": None,
    }

    marker = {"job_type": "demo.echo", "inputs": {"message": secrets.token_hex(8)}}
    anonymous = api.anonymous.post("/v1/jobs", json=marker)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert "missing bearer token" in error_of(anonymous)["message"]

    forbidden = api.as_reader.post("/v1/jobs", json=marker)
    assert forbidden.status_code == 403
    assert error_of(forbidden)["message"] == "token 'dash' has scope read; POST needs admin"

    echoes = client.jobs(job_type="demo.echo", limit=10_000)
    assert marker["inputs"] not in [j.params for j in echoes], "a refused request wrote nothing"


def test_every_route_refuses_no_token_and_every_post_a_read_token(start_api: StartApi) -> None:
    api = start_api()
    paths = api.anonymous.get("/openapi.json").json()["paths"]
    routes = [
        (method.upper(), re.sub(r"\{[^}]+\}", NO_SUCH_ID, path))
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
    ]
    assert ("GET", "/v1/jobs") in routes and ("POST", "/v1/jobs") in routes
    for method, path in routes:
        refused = api.anonymous.request(method, path, json={})
        assert refused.status_code == 401, (method, path, refused.text)
        as_reader = api.as_reader.request(method, path, json={})
        if method == "POST":
            assert as_reader.status_code == 403, (method, path, as_reader.text)
        else:
            assert as_reader.status_code in (200, 404), (method, path, as_reader.text)
    assert api.anonymous.get("/docs").status_code == 200


def test_with_no_tokens_configured_every_v1_request_is_refused(start_api: StartApi) -> None:
    api = start_api(tokens=False)
    refused = api.as_admin.get("/v1/jobs")
    assert refused.status_code == 401
    assert "no API tokens are configured" in error_of(refused)["message"]
    assert api.anonymous.get("/healthz").json() == {"status": "ok"}


def test_a_malformed_token_setting_stops_the_server_naming_it(tmp_path: Path) -> None:
    ran = run_jobsys(["api", "--port", "1"], tmp_path, JOBSYS_API_TOKENS='["admin:s3cret"]')
    assert ran.code == 2, ran
    assert ran.stderr.startswith("error: setting JOBSYS_API_TOKENS: "), ran
    assert "s3cret" not in ran.stderr


def test_hash_token_prints_the_sha256_to_configure(tmp_path: Path) -> None:
    from_stdin = subprocess.run(
        [*jobsys_command(), "api", "hash-token"],
        input="t0ken\n",
        capture_output=True,
        text=True,
        env=clean_environ(),
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert from_stdin.stdout.strip() == hash_token("t0ken")
    assert run_jobsys(["api", "hash-token", "t0ken"], tmp_path).stdout.strip() == hash_token(
        "t0ken"
    )


def test_a_manifest_applied_and_run_through_the_api(
    start_api: StartApi, start_worker: StartWorker
) -> None:
    start_worker(["demo.basic@1", "jobsys.noop@1"], concurrency=2)
    api = start_api()
    manifest = Path(__file__).parents[2] / "config" / "manifests" / "demo-pipeline.job.yaml"
    applied = api.as_admin.post(
        "/v1/jobdefs/apply",
        content=manifest.read_bytes(),
        headers={"Content-Type": "application/yaml"},
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["counts"] == {"create": 1}

    started = api.as_admin.post(
        "/v1/templates/demo-pipeline/runs", json={"params": {"greeting": "bonjour"}}
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]

    def ended() -> dict[str, Any] | None:
        group: dict[str, Any] = api.as_reader.get(f"/v1/groups/{run_id}").json()
        return group if group["status"] in ("COMPLETED", "PARTIAL", "CANCELLED") else None

    group = wait_until(ended, 60, message=f"run {run_id} to end")
    assert group["status"] == "COMPLETED", group

    tasks = api.as_reader.get(f"/v1/jobs/demo-pipeline/runs/{run_id}/tasks").json()
    assert {n["name"]: n["outcome"] for n in tasks["nodes"]} == {
        "greet": "success",
        "left": "success",
        "right": "success",
        "join": "success",
    }
    nodes = {n["name"]: n for n in tasks["nodes"]}
    assert nodes["greet"]["jobs"][0]["params"] == {"message": "bonjour", "times": 1}
    assert nodes["left"]["jobs"][0]["params"]["message"] == "left saw echo.txt"
    assert nodes["right"]["jobs"][0]["attempt"] == 2, "demo.flaky succeeds on its second try"


FAILING = """\
apiVersion: jobsys/v1
kind: Job
metadata:
  name: api-failing
steps:
  - name: first
    type: demo.echo
    with:
      message: fine
  - name: boom
    type: demo.explode
    dependsOn: [first]
"""


def test_a_failed_run_is_shown_and_retried_through_the_api(
    start_api: StartApi, start_worker: StartWorker
) -> None:
    start_worker(["demo.basic@1"])
    api = start_api()
    applied = api.as_admin.post(
        "/v1/jobdefs/apply", content=FAILING, headers={"Content-Type": "application/yaml"}
    )
    assert applied.status_code == 200, applied.text
    run_id = api.as_admin.post("/v1/templates/api-failing/runs", json={}).json()["id"]
    tasks_url = f"/v1/jobs/api-failing/runs/{run_id}/tasks"

    def outcomes() -> dict[str, str] | None:
        tasks: dict[str, Any] = api.as_reader.get(tasks_url).json()
        done = tasks["status"] in ("COMPLETED", "PARTIAL", "CANCELLED")
        return {n["name"]: n["outcome"] for n in tasks["nodes"]} if done else None

    assert wait_until(outcomes, 60, message=f"run {run_id} to end") == {
        "first": "success",
        "boom": "failed",
    }
    boom = api.as_reader.get(tasks_url).json()["nodes"][1]["jobs"][0]
    assert (boom["status"], boom["error_type"]) == ("FAILED", "FatalJobError")

    retried = api.as_admin.post(f"/v1/groups/{run_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["job_ids"] == [boom["id"]], "only the failed step runs again"
    again = wait_until(outcomes, 60, message=f"run {run_id} to end again")
    assert again == {"first": "success", "boom": "failed"}
    first, boom_again = (n["jobs"][0] for n in api.as_reader.get(tasks_url).json()["nodes"])
    assert first["attempt"] == 1, "the step that succeeded is not run again"
    assert boom_again["attempt"] == 2
