"""Callbacks of a finished DAG run: submit a job, or POST a JSON summary to a URL.

When a run settles, one ``callback_deliveries`` row per due callback is written in the
same transaction (``due``); after the commit the worker that settled it delivers them
(``deliver``). Every attempt is recorded (status, attempts, HTTP status, error). An HTTP
callback is tried up to ``HTTP_ATTEMPTS`` times with a short backoff, then left FAILED;
``Client.retry_callbacks`` delivers the failed ones again.

An HTTP callback's URL is checked against ``callback_allowed_hosts`` just before each
POST (its host's addresses as DNS gives them then: ``HostPolicy.refusal_now``); a refused
one is left FAILED, unsent. Redirects are not followed (one could lead anywhere). Header
values given as ``secret://`` references are resolved here, at delivery, and never stored.

A job callback submits its job type with its ``with`` as inputs, plus the run's summary
as the input ``run`` when the job type's input model has such a field.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from jobsys.errors import JobsysError
from jobsys.execution import dispatch
from jobsys.jobtypes import validate_inputs
from jobsys.lifecycle import GroupState
from jobsys.runtime import Runtime
from jobsys.secrets import PREFIX, SecretResolvers
from jobsys.store import dags, queries, writes
from jobsys.store.models import new_id
from jobsys.workflows import runs
from jobsys.workflows.callback_hosts import HostPolicy, display_url
from jobsys.workflows.manifest import HttpCallback, Manifest

log = logging.getLogger(__name__)

HTTP_ATTEMPTS = 3
HTTP_TIMEOUT = 10.0
PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"


def due(
    manifest: Manifest, group_id: str, settled: GroupState, now: datetime
) -> list[dict[str, Any]]:
    """The delivery rows of the callbacks a run's end calls for."""
    events = [("always", manifest.callbacks.always)]
    if settled == GroupState.COMPLETED:
        events.append(("onSuccess", manifest.callbacks.on_success))
    elif settled in (GroupState.PARTIAL, GroupState.CANCELLED):
        events.append(("onFailure", manifest.callbacks.on_failure))
    rows = []
    for event, callbacks in events:
        for cb in callbacks:
            is_http = isinstance(cb, HttpCallback)
            rows.append(
                {
                    "id": new_id(),
                    "group_id": group_id,
                    "event": event,
                    "kind": "http" if is_http else "job",
                    "target": cb.url if isinstance(cb, HttpCallback) else cb.type,
                    "spec": cb.model_dump(mode="json", by_alias=True),
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return rows


def deliver(runtime: Runtime, group_id: str, statuses: tuple[str, ...] = (PENDING,)) -> int:
    """Deliver a run's callbacks in the given statuses; return how many were delivered."""
    with runtime.engine.connect() as conn:
        todo = dags.deliveries_of(conn, group_id, statuses)
        if not todo:
            return 0
        group = queries.get_group(conn, group_id)
        summary = runs.summary(group, dags.step_jobs(conn, group_id))
    delivered = 0
    for row in todo:
        try:
            if row.kind == "http":
                ok = _post(runtime, row, summary)
            else:
                ok = _submit(runtime, row, summary)
        except Exception as exc:  # a callback must never take the worker down
            log.exception("callback %s of run %s failed", row.id, group_id)
            _record(runtime, row.id, FAILED, row.attempts + 1, error=str(exc))
            ok = False
        delivered += ok
    return delivered


def _submit(runtime: Runtime, row: Any, summary: dict[str, Any]) -> bool:
    spec = runtime.registry.get(row.target)
    inputs = dict(row.spec.get("with") or {})
    if "run" in spec.input_model.model_fields:
        inputs["run"] = summary
    try:
        validated = validate_inputs(spec, inputs, roots=runtime.path_roots)
    except JobsysError as exc:
        _record(runtime, row.id, FAILED, row.attempts + 1, error=exc.format_message())
        return False
    job = dispatch.job_row(runtime.settings, spec, validated, None)
    with runtime.engine.begin() as conn:
        writes.insert_jobs(conn, [job])
    dispatch.publish(
        runtime,
        [dispatch.Message(job["id"], spec.name, job["capability"], job["priority"], job["id"])],
    )
    now = datetime.now(UTC)
    with runtime.engine.begin() as conn:
        writes.mark_queued(conn, [job["id"]], now)
        dags.record_delivery(
            conn, row.id, status=DELIVERED, attempts=row.attempts + 1, now=now, job_id=job["id"]
        )
    return True


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: the allow-list checked the URL, not where it points to."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _headers(spec: dict[str, Any]) -> dict[str, str]:
    """The callback's headers, ``secret://`` values resolved (a ``ConfigError`` names the ref)."""
    resolvers = SecretResolvers()
    given: dict[str, str] = spec.get("headers") or {}
    resolved = {k: resolvers.resolve(v) if v.startswith(PREFIX) else v for k, v in given.items()}
    return {"Content-Type": "application/json", **resolved}


def _post(runtime: Runtime, row: Any, summary: dict[str, Any]) -> bool:
    refused = HostPolicy(runtime.settings.callback_allowed_hosts).refusal_now(row.target)
    if refused is not None:
        _record(runtime, row.id, FAILED, row.attempts + 1, error=f"not sent: {refused}")
        log.warning("callback POST %s refused: %s", display_url(row.target), refused)
        return False
    try:
        headers = _headers(row.spec)
    except JobsysError as exc:
        _record(runtime, row.id, FAILED, row.attempts + 1, error=exc.format_message())
        return False
    body = json.dumps(summary).encode()
    attempts, error, status = row.attempts, None, None
    for n in range(HTTP_ATTEMPTS):
        attempts += 1
        request = urllib.request.Request(row.target, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=HTTP_TIMEOUT) as response:
                status = int(response.status)
            _record(runtime, row.id, DELIVERED, attempts, response_status=status)
            return True
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            status, error = None, str(getattr(exc, "reason", exc))
        if n + 1 < HTTP_ATTEMPTS:
            time.sleep(0.5 * 2**n)
    _record(runtime, row.id, FAILED, attempts, response_status=status, error=error)
    log.warning(
        "callback POST %s failed after %d attempts: %s", display_url(row.target), attempts, error
    )
    return False


def _record(runtime: Runtime, delivery_id: str, status: str, attempts: int, **values: Any) -> None:
    with runtime.engine.begin() as conn:
        dags.record_delivery(
            conn, delivery_id, status=status, attempts=attempts, now=datetime.now(UTC), **values
        )
