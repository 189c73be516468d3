"""Schedules through the API, in-process on the embedded store (no beat runs here:
tests/integration/test_beat.py fires schedules with real beat processes)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from jobsys.client import Client

from ._api import AS_ADMIN, AS_READER, error_of

PIPELINE = (
    Path(__file__).resolve().parents[2] / "config/manifests/demo-pipeline.job.yaml"
).read_text()


def applied(api: TestClient) -> None:
    response = api.post(
        "/v1/jobdefs/apply",
        headers={**AS_ADMIN, "Content-Type": "application/yaml"},
        content=PIPELINE,
    )
    assert response.status_code == 200


def test_create_show_change_and_list_a_schedule_in_its_timezone(api: TestClient) -> None:
    applied(api)
    created = api.post(
        "/v1/schedules",
        headers=AS_ADMIN,
        json={
            "name": "morning",
            "template": "demo-pipeline",
            "cron": "0 9 * * *",
            "timezone": "Europe/Paris",
            "params": {"greeting": "bonjour"},
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["template_name"]) == ("ENABLED", "demo-pipeline")
    assert body["next_trigger_local"].endswith(("+01:00", "+02:00"))
    assert "T09:00:00" in body["next_trigger_local"]

    shown = api.get("/v1/schedules/morning", headers=AS_READER).json()
    assert shown["param_overrides"] == {"greeting": "bonjour"}
    changed = api.post(
        "/v1/schedules/morning", headers=AS_ADMIN, json={"cron": "30 7 * * 1-5"}
    ).json()
    assert changed["cron_expression"] == "30 7 * * 1-5"
    assert [s["name"] for s in api.get("/v1/schedules", headers=AS_READER).json()] == ["morning"]


def test_bad_timing_is_a_422_naming_the_field(api: TestClient) -> None:
    applied(api)
    for body, field in (
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"cron": "0 9 * * *", "interval_seconds": 60}, "cron"),
    ):
        response = api.post(
            "/v1/schedules",
            headers=AS_ADMIN,
            json={"name": "bad", "template": "demo-pipeline", **body},
        )
        assert response.status_code == 422, body
        assert error_of(response)["field"] == field
    assert api.get("/v1/schedules", headers=AS_READER).json() == []  # nothing written


def test_disable_enable_run_now_and_delete(api: TestClient, embedded_client: Client) -> None:
    applied(api)
    api.post(
        "/v1/schedules",
        headers=AS_ADMIN,
        json={"name": "often", "template": "demo-pipeline", "interval_seconds": 60},
    )
    off = api.post("/v1/schedules/often/disable", headers=AS_ADMIN).json()
    assert off["status"] == "DISABLED"
    assert api.post("/v1/schedules/often/enable", headers=AS_ADMIN).json()["status"] == "ENABLED"

    fired = api.post("/v1/schedules/often/run", headers=AS_ADMIN)
    assert fired.status_code == 201
    group, jobs = embedded_client.group(fired.json()["run_id"])
    schedule_id = api.get("/v1/schedules/often", headers=AS_READER).json()["id"]
    assert group.schedule_id == schedule_id
    assert {j.schedule_id for j in jobs} == {schedule_id}

    gone = api.post("/v1/schedules/often/delete", headers=AS_ADMIN).json()
    assert gone["status"] == "DELETED"
    assert api.get("/v1/schedules", headers=AS_READER).json() == []
    missing = api.get("/v1/schedules/nope", headers=AS_READER)
    assert missing.status_code == 404
