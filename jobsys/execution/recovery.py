"""Recovery: publish again the jobs whose messages the broker no longer holds.

The store is the source of truth. A Redis broker restarted without persistence comes back
empty: every queued message, every message a worker had not acknowledged, and the chord
counters of DAG runs are gone. ``broker_lost`` notices it by a marker key that a restart
removes; ``recover`` then publishes a message for every job that should have one:

- lone and batch jobs that are PENDING (not waiting for their turn in a sequential
  group), QUEUED or DISPATCHED, or RUNNING with a stale heartbeat;
- every open step of an open DAG run (and every open forEach item), each on its own:
  a step's gate reads its predecessors' ends from the store, so a successor published
  early waits (it is not lost with the canvas that would have carried it).

Without a detected loss, a pass publishes only what has waited longer than
``older_than`` seconds: PENDING jobs (a client died between insert and publish) and
RUNNING jobs whose heartbeat stopped (a worker died and its message went with it).

Publishing a job that still had a message is safe: the second delivery finds the job
running (deferred) or ended (recorded as a SKIPPED run) and runs nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jobsys.celery import broker_errors
from jobsys.execution import dag
from jobsys.execution.dispatch import publish
from jobsys.execution.sequencing import message_for
from jobsys.runtime import Runtime
from jobsys.store import queries, writes
from jobsys.workflows import runs
from jobsys.workflows.manifest import Manifest

log = logging.getLogger(__name__)

#: states whose jobs are published again only after a loss (no claim needed then)
_WAITING = ("QUEUED", "DISPATCHED")
#: a key the broker keeps while it keeps its messages (Redis); gone after an empty restart
EPOCH_KEY = "jobsys:broker-epoch"


@dataclass
class Recovered:
    """What a recovery pass published again, by kind."""

    broker_lost: bool = False
    jobs: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.jobs) + len(self.steps)


def broker_lost(runtime: Runtime) -> bool:
    """Whether the broker came back empty since the last look (Redis; False elsewhere).

    The first caller to find the marker missing sets it and gets True: of two beats,
    one recovers.
    """
    app = runtime.app
    with broker_errors(runtime.settings), app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        client = getattr(conn.default_channel, "client", None)
        if client is None or not hasattr(client, "set"):
            return False  # a broker that persists its queues (RabbitMQ) or has no such key
        return bool(client.set(EPOCH_KEY, uuid.uuid4().hex, nx=True))


def recover(runtime: Runtime, *, lost: bool, older_than: float) -> Recovered:
    """Publish again what has no message (see the module's docstring); return what."""
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=runtime.settings.heartbeat_interval * 3)
    cutoff = now if lost else now - timedelta(seconds=older_than)
    if not lost:
        stale = min(stale, cutoff)
    with runtime.engine.connect() as conn:
        rows = queries.unfinished_without_message(conn, cutoff, stale, include_queued=lost)
        steps = queries.open_dag_steps(conn, stale) if lost else []
        manifests = {
            g: Manifest.model_validate(queries.get_group(conn, g).definition)
            for g in {r.group_id for r in steps}
        }
    with runtime.engine.begin() as conn:  # what this pass (and no other) publishes
        claimed = set(writes.claim_for_recovery(conn, [r.id for r in rows + steps], stale, now))
    rows = [r for r in rows if r.id in claimed or r.status in _WAITING]
    steps = [r for r in steps if r.id in claimed or r.status in _WAITING]
    done = Recovered(broker_lost=lost)
    if rows:
        publish(runtime, [message_for(r) for r in rows])
        done.jobs = [r.id for r in rows]
    if steps:
        _publish_steps(runtime, steps, manifests)
        done.steps = [r.id for r in steps]
    if done:
        log.warning(
            "recovery: published %d job(s) and %d DAG step(s) again%s",
            len(done.jobs),
            len(done.steps),
            " (the broker lost its messages)" if lost else "",
        )
    return done


def _publish_steps(runtime: Runtime, steps: list[Any], manifests: dict[str, Manifest]) -> None:
    """One message per open DAG step or item, on its own (its gate orders it)."""
    app, settings = runtime.app, runtime.settings
    by_group: dict[str, list[Any]] = defaultdict(list)
    for row in steps:
        by_group[row.group_id].append(row)
    with broker_errors(settings), app.producer_or_acquire() as producer:
        for group_id, rows in by_group.items():
            timeouts = {s.name: s.timeout for s in manifests[group_id].steps}
            for row in rows:
                if row.job_type == runs.FOREACH and row.item_index is None:
                    sig = dag.expand_signature(app, settings, row)
                else:
                    sig = dag.member_signature(app, settings, row, timeouts.get(row.step))
                sig.apply_async(producer=producer)
