"""API security in-process: every route of the app, found in ``app.routes`` (so a route
added later cannot escape), called without a token, with a read token and with an admin
token; and the lockout of an address after too many failed authentications.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jobsys.api import create_api
from jobsys.api.ratelimit import AuthFailureLimiter
from jobsys.client import Client
from jobsys.errors import RateLimited
from jobsys.settings import Settings

from ._api import ADMIN, AS_ADMIN, AS_READER, READER, TOKENS, error_of

#: the routes anyone may call; every other route needs a token
OPEN = {"/healthz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
MANIFEST = """apiVersion: jobsys/v1
kind: Job
metadata: {name: swept}
steps:
  - {name: only, type: demo.echo, with: {message: hi}}
"""


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, full path template) of every route the app serves, HEAD left out.

    FastAPI >= 0.16x keeps an included router as one entry of ``app.routes``;
    ``iter_route_contexts`` walks into it. Older versions list every route flat.
    """
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    found = []
    for route in walk(app.routes) if walk else app.routes:
        assert isinstance(route.path, str), f"a route of an unknown kind: {route!r}"
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                found.append((method, route.path))
    assert found, "no routes found: has FastAPI changed how it keeps them?"
    return found


class World:
    """A store with one of everything, so GETs find what they ask for."""

    def __init__(self, client: Client) -> None:
        client.create_template("tpl", "demo.echo", {"message": "hi"})
        client.apply(text=MANIFEST)
        self.group = client.run_template("swept")
        self.job = client.run_tasks(self.group)[0].id
        client.create_schedule("sched", "tpl", cron="0 3 * * *")

    def fill(self, path: str) -> str:
        """``path`` with each parameter replaced by the id or name of a stored entity."""
        names = {
            "job_id": self.job,
            "group_id": self.group,
            "run_id": self.group,
            "name": "sched" if path.startswith("/v1/schedules") else "tpl",
        }
        return re.sub(r"\{(\w+)\}", lambda m: names[m[1]], path)


@pytest.fixture
def swept(embedded_client: Client) -> Iterator[tuple[TestClient, World]]:
    app = create_api(client=embedded_client)
    with TestClient(app) as http:
        yield http, World(embedded_client)


def test_the_sweep_sees_every_router(swept: tuple[TestClient, World]) -> None:
    http, _ = swept
    found = routes(http.app)  # type: ignore[arg-type]
    prefixes = {p.split("/")[2] for _, p in found if p.startswith("/v1/")}
    assert prefixes == {"jobs", "groups", "templates", "jobdefs", "schedules"}
    assert len(found) >= 20


def test_every_route_but_the_open_ones_needs_a_token(swept: tuple[TestClient, World]) -> None:
    http, world = swept
    app: FastAPI = http.app  # type: ignore[assignment]
    for method, path in routes(app):
        if path in OPEN:
            assert http.request(method, path).status_code == 200, path
            continue
        assert path.startswith("/v1/"), f"{path}: neither open nor under /v1"
        response = http.request(method, world.fill(path), json={})
        assert response.status_code == 401, (method, path, response.text)
        assert error_of(response)["type"] == "Unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_read_token_reads_and_mutates_nothing(swept: tuple[TestClient, World]) -> None:
    http, world = swept
    for method, path in routes(http.app):  # type: ignore[arg-type]
        if path in OPEN:
            continue
        response = http.request(method, world.fill(path), headers=AS_READER, json={})
        if method == "GET":
            assert response.status_code in (200, 404), (path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.text)
            assert error_of(response)["type"] == "Forbidden"


def test_an_admin_token_passes_every_route(swept: tuple[TestClient, World]) -> None:
    http, world = swept
    for method, path in routes(http.app):  # type: ignore[arg-type]
        response = http.request(method, world.fill(path), headers=AS_ADMIN, json={})
        assert response.status_code not in (401, 403, 429), (method, path, response.text)
        assert response.status_code < 500, (method, path, response.text)


def test_no_response_carries_a_token(swept: tuple[TestClient, World]) -> None:
    http, world = swept
    for method, path in routes(http.app):  # type: ignore[arg-type]
        for headers in ({}, AS_READER, AS_ADMIN):
            response = http.request(method, world.fill(path), headers=headers, json={})
            seen = response.text + repr(dict(response.headers))
            assert ADMIN not in seen and READER not in seen, (method, path)


# --- failed authentications: per-address lockout -----------------------------------------


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limited_api(
    tmp_path: Path, clock: Clock, limit: int = 3, window: float = 60.0
) -> tuple[Client, FastAPI]:
    settings = Settings(
        home=tmp_path / "home",
        api_tokens=TOKENS,
        api_auth_failure_limit=limit,
        api_auth_failure_window=window,
    )
    client = Client(settings)
    app = create_api(client=client)
    app.state.auth_limiter = AuthFailureLimiter(limit, window, clock=clock)
    return client, app


WRONG = {"Authorization": "Bearer not-a-token"}


def test_an_address_is_locked_out_after_the_limit_even_with_a_valid_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    client, app = limited_api(tmp_path, clock, limit=3, window=60)
    with client, TestClient(app, client=("203.0.113.7", 4000)) as http:
        with caplog.at_level(logging.WARNING, logger="jobsys.api"):
            for _ in range(3):
                assert http.get("/v1/jobs", headers=WRONG).status_code == 401
        locked = http.get("/v1/jobs", headers=AS_READER)
        assert locked.status_code == 429
        assert locked.headers["Retry-After"] == "60"
        assert error_of(locked)["type"] == "RateLimited"
        assert "203.0.113.7" in str(error_of(locked)["message"])
        assert http.post("/v1/jobs", headers=AS_ADMIN, json={}).status_code == 429
        assert http.get("/healthz").status_code == 200  # open routes stay open

        clock.now += 45
        assert http.get("/v1/jobs", headers=AS_READER).headers["Retry-After"] == "15"
        clock.now += 15
        assert http.get("/v1/jobs", headers=AS_READER).status_code == 200

    lockouts = [r.getMessage() for r in caplog.records if "locked out" in r.getMessage()]
    assert lockouts == [
        "api: 203.0.113.7 locked out for 60s after 3 failed authentications within 60s"
    ]
    assert "not-a-token" not in caplog.text and READER not in caplog.text


def test_other_addresses_are_not_locked_out(tmp_path: Path) -> None:
    clock = Clock()
    client, app = limited_api(tmp_path, clock, limit=2)
    with (
        client,
        TestClient(app, client=("198.51.100.1", 1)) as guesser,
        TestClient(app, client=("198.51.100.2", 1)) as user,
    ):
        for _ in range(2):
            guesser.get("/v1/jobs", headers=WRONG)
        assert guesser.get("/v1/jobs", headers=AS_READER).status_code == 429
        assert user.get("/v1/jobs", headers=AS_READER).status_code == 200


def test_failures_older_than_the_window_are_forgotten(tmp_path: Path) -> None:
    clock = Clock()
    client, app = limited_api(tmp_path, clock, limit=3, window=60)
    with client, TestClient(app) as http:
        for _ in range(2):
            assert http.get("/v1/jobs", headers=WRONG).status_code == 401
        clock.now += 61
        for _ in range(2):
            assert http.get("/v1/jobs", headers=WRONG).status_code == 401
        assert http.get("/v1/jobs", headers=AS_READER).status_code == 200
        assert http.get("/v1/jobs", headers=WRONG).status_code == 401  # the third in 60 s
        assert http.get("/v1/jobs", headers=AS_READER).status_code == 429


def test_requests_without_a_token_and_scope_refusals_are_not_counted(tmp_path: Path) -> None:
    client, app = limited_api(tmp_path, Clock(), limit=2)
    with client, TestClient(app) as http:
        for _ in range(5):
            assert http.get("/v1/jobs").status_code == 401
            assert http.post("/v1/jobs", headers=AS_READER, json={}).status_code == 403
        assert http.get("/v1/jobs", headers=AS_READER).status_code == 200


def test_a_limit_of_zero_turns_the_lockout_off(tmp_path: Path) -> None:
    client, app = limited_api(tmp_path, Clock(), limit=0)
    with client, TestClient(app) as http:
        for _ in range(20):
            assert http.get("/v1/jobs", headers=WRONG).status_code == 401
        assert http.get("/v1/jobs", headers=AS_READER).status_code == 200


def test_the_settings_reach_the_app(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home",
        api_tokens=TOKENS,
        api_auth_failure_limit=1,
        api_auth_failure_window=5,
    )
    with Client(settings) as client, TestClient(create_api(client=client)) as http:
        assert http.get("/v1/jobs", headers=WRONG).status_code == 401
        response = http.get("/v1/jobs", headers=AS_READER)
        assert response.status_code == 429 and response.headers["Retry-After"] == "5"


def test_the_limiter_forgets_the_least_recently_seen_addresses() -> None:
    clock = Clock()
    limiter = AuthFailureLimiter(2, 60, clock=clock, max_addresses=3)
    limiter.failed("a")
    for address in ("b", "c", "d"):  # "a" is pushed out before its second failure
        limiter.failed(address)
    limiter.failed("a")
    limiter.check("a")
    limiter.failed("d")
    with pytest.raises(RateLimited) as caught:
        limiter.check("d")
    assert caught.value.retry_after == 60
