"""A DAG run survives its workers dying, can be cancelled as a whole, and delivers (and
records) its callbacks."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from jobsys.client import Client
from jobsys.lifecycle import GroupState
from jobsys.testing import WorkerProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

StartWorker = Callable[..., WorkerProcess]
CAPS = ["demo.basic@1", "jobsys.noop@1"]
SLEEPY = """apiVersion: jobsys/v1
kind: Job
metadata: {name: sleepy}
steps:
  - name: start
    type: demo.echo
    with: {message: go}
  - name: work
    type: demo.sleep
    dependsOn: [start]
    forEach: [0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    with: {seconds: "${{ item }}"}
  - name: finish
    type: demo.echo
    dependsOn: [work]
    with: {message: "done after ${{ steps.start.outputs.file }}"}
"""


def by_step(client: Client, group_id: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in client.run_tasks(group_id):
        out.setdefault(row.step, []).append(row)
    return out


def completed_items(client: Client, group_id: str) -> int:
    return sum(r.status == "COMPLETED" for r in by_step(client, group_id).get("work", [])[1:])


def test_a_run_finishes_after_every_worker_is_killed_without_rerunning_finished_steps(
    client: Client, start_worker: StartWorker
) -> None:
    client.apply(text=SLEEPY)
    worker = start_worker(CAPS, concurrency=2)
    group_id = client.run_template("sleepy")
    wait_until(lambda: completed_items(client, group_id) >= 2, 60, message="two items done")
    worker.kill()  # every worker and its broker connection gone, mid-run
    before = {r.id: r for r in client.run_tasks(group_id) if r.status == "COMPLETED"}
    assert before, "something had finished before the kill"

    start_worker(CAPS, concurrency=2)
    assert client.wait_group(group_id, 90) == GroupState.COMPLETED
    after = {r.id: r for r in client.run_tasks(group_id)}
    for job_id, row in before.items():  # finished steps were not run again
        assert after[job_id].finished_at == row.finished_at
        assert [r.status for r in client.runs(job_id)] == ["COMPLETED"]
    for row in after.values():
        runs = client.runs(row.id)
        assert runs[-1].status == "COMPLETED"
        assert all(r.error_type == "WorkerLost" for r in runs[:-1])  # lost attempts recorded
    assert after[by_step(client, group_id)["finish"][0].id].params["message"] == (
        "done after echo.txt"
    )


def test_cancelling_a_run_stops_running_steps_and_drops_queued_ones(
    client: Client, start_worker: StartWorker
) -> None:
    client.apply(text=SLEEPY)
    worker = start_worker(CAPS, concurrency=1)
    group_id = client.run_template("sleepy")
    wait_until(
        lambda: any(r.status == "RUNNING" for r in by_step(client, group_id).get("work", [])[1:]),
        60,
        message="an item to run",
    )
    client.cancel_group(group_id)
    group, _ = client.group(group_id)
    assert group.status == GroupState.CANCELLED
    steps = by_step(client, group_id)
    assert steps["finish"][0].status == "CANCELLED"
    assert all(r.status in ("COMPLETED", "CANCELLED") for r in steps["work"][1:])
    assert any(r.status == "CANCELLED" for r in steps["work"][1:])
    # The worker goes on serving, and nothing of the cancelled run starts again.
    later = client.submit("demo.echo", message="still here")
    assert later.wait(30).value == "COMPLETED"
    assert worker.alive()
    assert {r.status for r in by_step(client, group_id)["finish"]} == {"CANCELLED"}


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers["Content-Length"])
        type(self).received.append(
            {"body": json.loads(self.rfile.read(length)), "token": self.headers.get("X-Token")}
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(autouse=True)
def loopback_callbacks(jobsys_env: dict[str, str]) -> None:
    """The callbacks here POST to a recorder on 127.0.0.1, which the default refuses."""
    jobsys_env["JOBSYS_CALLBACK_ALLOWED_HOSTS"] = '["127.0.0.1"]'


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def receiver(free_port: int) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Starts an HTTP server recording POSTs on ``free_port`` when called."""
    servers: list[HTTPServer] = []
    _Recorder.received = []

    def start() -> list[dict[str, Any]]:
        server = HTTPServer(("127.0.0.1", free_port), _Recorder)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return _Recorder.received

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def callbacks_manifest(name: str, port: int, fail: bool) -> str:
    step = "demo.explode" if fail else "jobsys.noop"
    return f"""apiVersion: jobsys/v1
kind: Job
metadata: {{name: {name}}}
callbacks:
  onSuccess:
    - url: http://127.0.0.1:{port}/hook
      headers: {{X-Token: abc}}
  onFailure:
    - url: http://127.0.0.1:{port}/hook
  always:
    - type: demo.echo
      with: {{message: "{name} ended"}}
steps:
  - name: only
    type: {step}
"""


def test_callbacks_are_delivered_recorded_and_retryable(
    client: Client,
    start_worker: StartWorker,
    free_port: int,
    receiver: Callable[[], list[dict[str, Any]]],
) -> None:
    start_worker(CAPS, concurrency=2)
    received = receiver()
    client.apply(text=callbacks_manifest("hooked", free_port, fail=False))
    ok = client.run_template("hooked")
    assert client.wait_group(ok, 60) == GroupState.COMPLETED
    wait_until(lambda: len(received) == 1, 30, message="the success callback")
    assert received[0]["token"] == "abc"
    assert received[0]["body"]["status"] == "COMPLETED"
    assert received[0]["body"]["steps"] == {"only": "success"}
    # The worker records each delivery just after its POST or submit returns.
    wait_until(
        lambda: all(d.status != "PENDING" for d in client.callbacks(ok)),
        30,
        message="both deliveries to be recorded",
    )
    deliveries = {d.event: d for d in client.callbacks(ok)}
    assert deliveries["onSuccess"].status == "DELIVERED"
    assert deliveries["onSuccess"].response_status == 204
    job_cb = deliveries["always"]
    assert job_cb.status == "DELIVERED"
    assert client.handle(job_cb.job_id).wait(30).value == "COMPLETED"
    assert client.job(job_cb.job_id).params["message"] == "hooked ended"


def test_a_failed_callback_is_recorded_with_its_attempts_and_can_be_retried(
    client: Client,
    start_worker: StartWorker,
    free_port: int,
    receiver: Callable[[], list[dict[str, Any]]],
) -> None:
    start_worker(CAPS, concurrency=2)
    client.apply(text=callbacks_manifest("unheard", free_port, fail=True))
    failed = client.run_template("unheard")
    assert client.wait_group(failed, 60) == GroupState.PARTIAL

    def on_failure() -> Any:
        return next(d for d in client.callbacks(failed) if d.event == "onFailure")

    wait_until(lambda: on_failure().status == "FAILED", 30, message="the callback to fail")
    assert on_failure().attempts == 3
    assert "refused" in on_failure().error.lower()

    received = receiver()
    assert client.retry_callbacks(failed) == 1
    assert on_failure().status == "DELIVERED"
    assert on_failure().attempts == 4
    assert received[0]["body"]["status"] == "PARTIAL"
    assert received[0]["body"]["failed_steps"][0]["step"] == "only"
