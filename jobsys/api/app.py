"""``create_api(settings)``: the FastAPI app ``jobsys api`` serves.

Every ``/v1`` route needs a bearer token (one dependency on the router, so no route
can forget it): ``read`` for GET, ``admin`` for every mutation. An address that fails to
authenticate too often is locked out for a while (``jobsys.api.ratelimit``). ``/healthz``,
``/metrics`` (Prometheus, ``jobsys.api.metrics``), ``/docs`` and ``/openapi.json`` are open.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Response

from jobsys.api import errors, metrics
from jobsys.api.auth import TokenBook
from jobsys.api.deps import WorkerWatch, authorize
from jobsys.api.ratelimit import AuthFailureLimiter
from jobsys.api.routes import dags, groups, jobs, schedules, templates
from jobsys.api.schemas import ErrorBody, Health
from jobsys.client import Client
from jobsys.settings import Settings, load_settings

log = logging.getLogger("jobsys.api")

#: documented on every /v1 route (the body of each is ``ErrorBody``)
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "No valid bearer token."},
    403: {"model": ErrorBody, "description": "The token lacks the scope (admin for POST)."},
    429: {
        "model": ErrorBody,
        "description": "Too many failed authentications from this address: retry after "
        "Retry-After seconds.",
    },
    404: {"model": ErrorBody, "description": "No such job, group or template."},
    409: {
        "model": ErrorBody,
        "description": "The lifecycle forbids it (cancel an ended job).",
    },
    422: {"model": ErrorBody, "description": "Bad input: the field at fault is named."},
    503: {"model": ErrorBody, "description": "The store or the broker does not answer."},
}


def create_api(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    """The API app on ``client`` (else a client on ``settings``, else on ``load_settings()``)."""
    owned = client is None
    if client is None:
        client = Client(settings or load_settings())
    tokens = TokenBook(client.settings.api_tokens)
    if not tokens.tokens:
        log.warning("no API tokens configured (JOBSYS_API_TOKENS): every /v1 request is refused")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            client.close()

    app = FastAPI(
        title="jobsys",
        summary="Typed jobs on capability queues, with a history of every attempt.",
        version="1",
        lifespan=lifespan,
    )
    app.state.client = client
    app.state.tokens = tokens
    settings = client.settings
    app.state.auth_limiter = AuthFailureLimiter(
        settings.api_auth_failure_limit, settings.api_auth_failure_window
    )
    app.state.watch = WorkerWatch(client)
    errors.install(app)

    @app.get("/healthz", tags=["health"], summary="The server answers")
    def healthz() -> Health:
        """Open: answers while the server runs (it does not check the store or broker)."""
        return Health()

    registry = metrics.registry_for(client)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=Response)
    def prometheus_metrics() -> Response:
        """Open: jobs by type/capability/status, run durations, queue depth, workers, sinks."""
        body, content_type = metrics.exposition(registry)
        return Response(body, media_type=content_type)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize)], responses=ERROR_RESPONSES)
    v1.include_router(jobs.router)
    v1.include_router(dags.router)
    v1.include_router(groups.router)
    v1.include_router(templates.router)
    v1.include_router(schedules.router)
    app.include_router(v1)
    return app
