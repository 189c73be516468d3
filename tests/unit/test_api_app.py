"""The API app in-process (FastAPI's TestClient) on the embedded store, no worker running.

Errors map to HTTP statuses with a JSON body naming what is wrong; every /v1 route
needs a token, and every mutation an admin one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jobsys import errors
from jobsys.api import create_api
from jobsys.api.errors import HTTP_STATUS, status_of
from jobsys.client import Client
from jobsys.errors import JobError, JobsysError
from jobsys.settings import Settings

from ._api import ADMIN, AS_ADMIN, AS_READER, NO_SUCH_ID, TOKENS, error_of

# --- the error map ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("InputError", 422),
        ("DefinitionError", 422),
        ("ConfigError", 422),
        ("UnknownJobType", 422),
        ("NotFound", 404),
        ("InvalidTransition", 409),
        ("StoreUnavailable", 503),
        ("BrokerUnavailable", 503),
        ("SchemaMissing", 503),
        ("Unauthorized", 401),
        ("Forbidden", 403),
    ],
)
def test_each_error_class_has_its_status(name: str, status: int) -> None:
    assert HTTP_STATUS[getattr(errors, name)] == status


def test_every_error_a_request_can_raise_maps_to_a_status_of_its_own() -> None:
    classes = [
        v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, JobsysError)
    ]
    unmapped = [
        c.__name__
        for c in classes
        if c is not JobsysError and not issubclass(c, JobError) and c not in HTTP_STATUS
    ]
    assert unmapped == [], "give each new error class a status in jobsys/api/errors.py"


def test_a_subclass_takes_its_nearest_mapped_status() -> None:
    class ManifestProblem(errors.DefinitionError):
        pass

    assert status_of(ManifestProblem("bad")) == 422


# --- open routes and the docs ----------------------------------------------------------


def test_health_docs_and_openapi_are_open(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert "swagger" in api.get("/docs").text.lower()
    spec = api.get("/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/groups/{group_id}"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# --- auth on every route -----------------------------------------------------------------


def v1_routes(api: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every /v1 route the OpenAPI document lists, ids that are not there."""
    paths = api.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", NO_SUCH_ID, path))
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
    ]


def test_there_are_routes_to_check(api: TestClient) -> None:
    routes = v1_routes(api)
    assert ("GET", "/v1/jobs") in routes and ("POST", "/v1/jobs") in routes


def test_every_v1_route_refuses_a_request_without_a_valid_token(api: TestClient) -> None:
    for method, path in v1_routes(api):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ADMIN}"}):
            response = api.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert error_of(response)["type"] == "Unauthorized"


def test_every_mutation_refuses_a_read_token(api: TestClient) -> None:
    mutations = [(m, p) for m, p in v1_routes(api) if m != "GET"]
    assert mutations
    for method, path in mutations:
        response = api.request(method, path, headers=AS_READER, json={})
        assert response.status_code == 403, (method, path)
        assert error_of(response) == {
            "type": "Forbidden",
            "message": "token 'dash' has scope read; POST needs admin",
            "field": "Authorization",
        }


def test_a_read_token_may_read(api: TestClient) -> None:
    assert api.get("/v1/jobs", headers=AS_READER).json() == []


def test_with_no_tokens_configured_the_api_refuses_everything(tmp_path: Path) -> None:
    with (
        Client(Settings(home=tmp_path / "home")) as client,
        TestClient(create_api(client=client)) as http,
    ):
        response = http.get("/v1/jobs", headers=AS_ADMIN)
        assert response.status_code == 401
        assert "no API tokens are configured" in str(error_of(response)["message"])
        assert http.get("/healthz").status_code == 200


# --- jobs ------------------------------------------------------------------------------


def test_submit_then_show_a_job_waiting_for_its_capability(api: TestClient) -> None:
    response = api.post(
        "/v1/jobs",
        headers=AS_ADMIN,
        json={"job_type": "demo.echo", "inputs": {"message": "hi"}, "priority": 7},
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert (job["job_type"], job["status"], job["priority"]) == ("demo.echo", "QUEUED", 7)
    assert job["params"] == {"message": "hi", "times": 1}
    assert job["created_at"].endswith("Z")
    assert job["waiting_for"] == "capability demo.basic@1: no worker serves it"

    shown = api.get(f"/v1/jobs/{job['id'][:8]}", headers=AS_READER).json()
    assert shown["id"] == job["id"] and shown["waiting_for"] == job["waiting_for"]
    queued = {"status": "queued", "type": "demo.echo"}
    listed = api.get("/v1/jobs", params=queued, headers=AS_READER)
    assert [j["id"] for j in listed.json()] == [job["id"]]
    assert api.get("/v1/jobs", params={"status": "FAILED"}, headers=AS_READER).json() == []


@pytest.mark.parametrize(
    ("body", "type_", "field", "says"),
    [
        ({"job_type": "demo.echo", "inputs": {"times": 2}}, "InputError", "message", "required"),
        (
            {"job_type": "demo.echo", "inputs": {"message": "a", "colour": "red"}},
            "InputError",
            "colour",
            "unknown input",
        ),
        ({"job_type": "demo.nope"}, "UnknownJobType", "job_type", "unknown job type 'demo.nope'"),
        ({"job_type": "demo.echo", "priority": 12}, "InputError", "priority", "less than or equal"),
        ({"inputs": {}}, "InputError", "job_type", "required"),
        ({"job_type": "demo.echo", "extra": 1}, "InputError", "extra", "not permitted"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_nothing_is_written(
    api: TestClient,
    embedded_client: Client,
    body: dict[str, object],
    type_: str,
    field: str,
    says: str,
) -> None:
    response = api.post("/v1/jobs", headers=AS_ADMIN, json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert (error["type"], error["field"]) == (type_, field)
    assert says in str(error["message"])
    assert embedded_client.jobs() == []


def test_a_body_that_is_not_json_is_422(api: TestClient) -> None:
    response = api.post(
        "/v1/jobs", headers={**AS_ADMIN, "Content-Type": "application/json"}, content=b"{oops"
    )
    assert response.status_code == 422
    assert "JSON" in str(error_of(response)["message"])


def test_an_unknown_state_filter_is_422(api: TestClient) -> None:
    response = api.get("/v1/jobs", params={"status": "done"}, headers=AS_READER)
    assert response.status_code == 422
    assert error_of(response)["field"] == "status"
    assert "unknown state DONE" in str(error_of(response)["message"])


def test_unknown_jobs_groups_and_routes_are_404(api: TestClient) -> None:
    for path in (f"/v1/jobs/{NO_SUCH_ID}", f"/v1/groups/{NO_SUCH_ID}", "/v1/nothing"):
        response = api.get(path, headers=AS_READER)
        assert response.status_code == 404, path
        assert error_of(response)["type"] == "NotFound"
    assert api.post(f"/v1/jobs/{NO_SUCH_ID}/cancel", headers=AS_ADMIN).status_code == 404


def test_cancel_then_cancel_again_is_409(api: TestClient) -> None:
    job = api.post(
        "/v1/jobs", headers=AS_ADMIN, json={"job_type": "demo.echo", "inputs": {"message": "x"}}
    ).json()
    cancelled = api.post(f"/v1/jobs/{job['id']}/cancel", headers=AS_ADMIN)
    assert cancelled.status_code == 200
    assert cancelled.json()["was"] == "QUEUED"
    assert cancelled.json()["job"]["status"] == "CANCELLED"
    again = api.post(f"/v1/jobs/{job['id']}/cancel", headers=AS_ADMIN)
    assert again.status_code == 409
    assert error_of(again)["type"] == "InvalidTransition"
    assert "cannot go from CANCELLED to CANCELLED" in str(error_of(again)["message"])


def test_retry_requeues_a_cancelled_job_and_refuses_a_queued_one(api: TestClient) -> None:
    job = api.post(
        "/v1/jobs", headers=AS_ADMIN, json={"job_type": "demo.echo", "inputs": {"message": "x"}}
    ).json()
    assert api.post(f"/v1/jobs/{job['id']}/retry", headers=AS_ADMIN).status_code == 409
    api.post(f"/v1/jobs/{job['id']}/cancel", headers=AS_ADMIN)
    retried = api.post(f"/v1/jobs/{job['id']}/retry", headers=AS_ADMIN)
    assert retried.status_code == 200
    assert retried.json()["status"] == "QUEUED"


def test_a_group_with_its_jobs(api: TestClient, embedded_client: Client) -> None:
    group_id = embedded_client.submit_group(
        [("demo.echo", {"message": "a"}), ("demo.render", {"scene": "s"})], mode="sequential"
    )
    group = api.get(f"/v1/groups/{group_id}", headers=AS_READER).json()
    assert (group["id"], group["mode"], group["status"]) == (group_id, "sequential", "QUEUED")
    assert [(j["job_type"], j["status"]) for j in group["jobs"]] == [
        ("demo.echo", "QUEUED"),
        ("demo.render", "PENDING"),
    ]
    assert group["jobs"][1]["waiting_for"] == "capability demo.gpu@1: no worker serves it"
    embedded_client.submit("demo.echo", {"message": "not in the group"})
    members = api.get("/v1/jobs", params={"group": group_id}, headers=AS_READER).json()
    assert sorted(j["id"] for j in members) == sorted(j["id"] for j in group["jobs"])


def test_an_unreachable_store_is_503_without_its_password(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home",
        database_url="postgresql+psycopg://jobsys:hunter2@127.0.0.1:1/jobsys",
        api_tokens=TOKENS,
    )
    with Client(settings) as client, TestClient(create_api(client=client)) as http:
        response = http.get("/v1/jobs", headers=AS_READER)
    assert response.status_code == 503
    error = error_of(response)
    assert (error["type"], error["field"]) == ("StoreUnavailable", "JOBSYS_DATABASE_URL")
    assert "hunter2" not in response.text
