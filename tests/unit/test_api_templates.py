"""Templates, manifests and DAGs through the API, in-process on the embedded store.

No worker runs here: runs stay QUEUED; tests/e2e/test_api.py runs them for real.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from jobsys.client import Client

from ._api import AS_ADMIN, AS_READER, NO_SUCH_ID, error_of

REPO = Path(__file__).resolve().parents[2]
PIPELINE = (REPO / "config" / "manifests" / "demo-pipeline.job.yaml").read_text()
YAML = {**AS_ADMIN, "Content-Type": "application/yaml"}


def apply(api: TestClient, manifest: str, **query: str) -> dict[str, object]:
    response = api.post("/v1/jobdefs/apply", headers=YAML, content=manifest, params=query)
    body: dict[str, object] = response.json()
    body["status_code"] = response.status_code
    return body


def test_apply_creates_then_leaves_unchanged(api: TestClient) -> None:
    first = apply(api, PIPELINE)
    assert (first["status_code"], first["ok"], first["counts"]) == (200, True, {"create": 1})
    change = first["changes"][0]  # type: ignore[index]
    assert (change["verb"], change["name"]) == ("created", "demo-pipeline")
    again = apply(api, PIPELINE)
    assert (again["status_code"], again["counts"]) == (200, {"unchanged": 1})


def test_a_dry_run_writes_nothing(api: TestClient) -> None:
    dry = apply(api, PIPELINE, dry_run="true")
    assert (dry["status_code"], dry["dry_run"], dry["counts"]) == (200, True, {"create": 1})
    assert api.get("/v1/templates", headers=AS_READER).json() == []


def test_an_invalid_document_is_422_with_the_problem_and_where(api: TestClient) -> None:
    bad = PIPELINE.replace("demo-pipeline", "broken").replace("jobsys.noop", "demo.nope")
    report = apply(api, f"{PIPELINE}---\n{bad}")
    assert report["status_code"] == 422 and report["ok"] is False
    assert report["counts"] == {"create": 1, "invalid": 1}, "the valid document still applies"
    assert report["error"] == {
        "type": "DefinitionError",
        "message": "invalid: broken",
        "field": None,
    }
    problems = report["changes"][1]["problems"]  # type: ignore[index]
    assert len(problems) == 1 and "unknown job type 'demo.nope'" in problems[0]
    assert re.match(r"<stdin>:\d+:\d+: ", problems[0]), problems


def test_another_sources_template_is_409_unless_forced(api: TestClient) -> None:
    apply(api, PIPELINE)
    conflict = apply(api, PIPELINE.replace("hello", "hi"), source="ci")
    assert conflict["status_code"] == 409
    assert conflict["changes"][0]["owner"] == "api"  # type: ignore[index]
    assert "force" in conflict["error"]["message"]  # type: ignore[index]
    forced = apply(api, PIPELINE.replace("hello", "hi"), source="ci", force="true")
    assert (forced["status_code"], forced["counts"]) == (200, {"update": 1})


def test_an_empty_manifest_body_is_422(api: TestClient) -> None:
    response = api.post("/v1/jobdefs/apply", headers=YAML, content=b"")
    assert response.status_code == 422
    assert error_of(response)["field"] == "body"


def test_templates_are_created_listed_and_shown(api: TestClient) -> None:
    body = {"name": "echo-hi", "job_type": "demo.echo", "default_params": {"message": "hi"}}
    created = api.post("/v1/templates", headers=AS_ADMIN, json=body)
    assert created.status_code == 201, created.text
    template = created.json()
    assert template["default_params"] == {"message": "hi", "times": 1}
    assert (template["status"], template["definition"]) == ("ACTIVE", None)
    apply(api, PIPELINE)
    names = [t["name"] for t in api.get("/v1/templates", headers=AS_READER).json()]
    assert names == ["demo-pipeline", "echo-hi"]
    shown = api.get(f"/v1/templates/{template['id']}", headers=AS_READER).json()
    assert shown["name"] == "echo-hi"
    assert api.get("/v1/templates/nope", headers=AS_READER).status_code == 404

    again = api.post("/v1/templates", headers=AS_ADMIN, json=body)
    assert again.status_code == 422
    assert error_of(again)["field"] == "name" and "already exists" in error_of(again)["message"]
    bad = {**body, "name": "echo-bad", "default_params": {"times": 0}}
    assert error_of(api.post("/v1/templates", headers=AS_ADMIN, json=bad))["field"] == "message"


def test_the_dag_of_a_template(api: TestClient) -> None:
    apply(api, PIPELINE)
    dag = api.get("/v1/jobs/demo-pipeline/tasks", headers=AS_READER).json()
    assert [n["name"] for n in dag["nodes"]] == ["greet", "left", "right", "join"]
    edges = [["greet", "left"], ["greet", "right"], ["left", "join"], ["right", "join"]]
    assert dag["edges"] == edges
    assert dag["order"][0] == "greet" and dag["order"][-1] == "join"
    assert dag["nodes"][3]["predecessors"] == ["left", "right"]
    missing = api.get("/v1/jobs/nope/tasks", headers=AS_READER)
    assert missing.status_code == 404


def test_a_run_of_a_template_node_by_node(api: TestClient, embedded_client: Client) -> None:
    apply(api, PIPELINE)
    response = api.post(
        "/v1/templates/demo-pipeline/runs", headers=AS_ADMIN, json={"params": {"greeting": "yo"}}
    )
    assert response.status_code == 201, response.text
    run = response.json()
    assert (run["mode"], run["status"], len(run["jobs"])) == ("dag", "QUEUED", 4)

    tasks = api.get(f"/v1/jobs/demo-pipeline/runs/{run['id']}/tasks", headers=AS_READER).json()
    assert [n["name"] for n in tasks["nodes"]] == tasks["order"]
    greet = tasks["nodes"][0]
    assert (greet["name"], greet["outcome"]) == ("greet", "pending")
    assert greet["jobs"][0]["params"] == {"message": "yo"}
    assert greet["jobs"][0]["step"] == "greet"
    assert [n["jobs"][0]["status"] for n in tasks["nodes"]] == [
        "QUEUED",
        "PENDING",
        "PENDING",
        "PENDING",
    ]

    by_job = api.get(f"/v1/jobs/{greet['jobs'][0]['id']}/tasks", headers=AS_READER).json()
    assert by_job["edges"] == tasks["edges"]
    same_run = f"/v1/jobs/{greet['jobs'][0]['id']}/runs/{run['id'][:8]}/tasks"
    assert api.get(same_run, headers=AS_READER).status_code == 200

    other = embedded_client.create_template("echo-hi", "demo.echo", {"message": "hi"})
    wrong = api.get(f"/v1/jobs/{other.name}/runs/{run['id']}/tasks", headers=AS_READER)
    assert wrong.status_code == 404
    assert "no DAG run of echo-hi" in error_of(wrong)["message"]

    assert api.get(f"/v1/groups/{run['id'][:8]}", headers=AS_READER).json()["id"] == run["id"]
    cancelled = api.post(f"/v1/groups/{run['id'][:8]}/cancel", headers=AS_ADMIN).json()
    assert cancelled["group"]["status"] == "CANCELLED"
    assert sorted(cancelled["job_ids"]) == sorted(j["id"] for j in run["jobs"])


def test_running_a_template_with_bad_params_or_none_at_all(api: TestClient) -> None:
    apply(api, PIPELINE)
    bad = api.post(
        "/v1/templates/demo-pipeline/runs", headers=AS_ADMIN, json={"params": {"nope": 1}}
    )
    assert bad.status_code == 422
    assert error_of(bad)["field"] == "nope"
    missing = api.post("/v1/templates/nope/runs", headers=AS_ADMIN, json={})
    assert missing.status_code == 404


def test_a_job_outside_any_dag_run_has_no_dag(api: TestClient, embedded_client: Client) -> None:
    job = embedded_client.submit("demo.echo", {"message": "alone"})
    response = api.get(f"/v1/jobs/{job.id}/tasks", headers=AS_READER)
    assert response.status_code == 404
    assert "no template or DAG run of job" in error_of(response)["message"]
    group_id = embedded_client.submit_group([("demo.echo", {"message": "batch"})])
    retried = api.post(f"/v1/groups/{group_id}/retry", headers=AS_ADMIN)
    assert retried.status_code == 422
    assert "not a run" in error_of(retried)["message"]
    assert api.post(f"/v1/groups/{NO_SUCH_ID}/retry", headers=AS_ADMIN).status_code == 404
