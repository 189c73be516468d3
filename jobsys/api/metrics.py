"""``GET /metrics``: job-level figures for Prometheus that Flower does not have.

Read from the store (and the broker) at each scrape by a custom collector on the app's
own registry (prometheus-client, the ``metrics`` extra):

- ``jobsys_jobs{job_type,capability,status}``: jobs in each status;
- ``jobsys_job_run_duration_seconds{job_type,status}``: a histogram of attempts' durations
  (from ``job_runs``, counted by the database);
- ``jobsys_queue_depth{capability}``: messages waiting on the capability's broker queue;
- ``jobsys_workers{capability}``: workers serving the capability;
- ``jobsys_sink_rows_total`` / ``_bytes_total`` / ``_errors_total{sink_uri,output}``: what
  data jobs wrote to each sink;
- ``jobsys_broker_up``: 0 when the broker did not answer (the queue and worker figures are
  then left out, the store's still given).

The endpoint is open like ``/healthz``: it shows counts, never inputs or secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from jobsys.client import Client
from jobsys.errors import JobsysError
from jobsys.store import queries
from jobsys.store.session import store_errors

log = logging.getLogger("jobsys.api.metrics")

#: upper bounds of the run-duration histogram, in seconds
BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class JobsysCollector(Collector):
    """Reads the figures at each scrape."""

    def __init__(self, client: Client, inspect_timeout: float = 0.5) -> None:
        self.client = client
        self.inspect_timeout = inspect_timeout

    def collect(self) -> Iterator[Metric]:
        """The metric families (see the module docstring)."""
        with store_errors(self.client.settings), self.client.runtime.engine.connect() as conn:
            by_type = queries.jobs_by_type(conn)
            durations = queries.run_duration_buckets(conn, [int(b * 1000) for b in BUCKETS])
            sinks = queries.sink_figures(conn)
        yield self._jobs(by_type)
        yield self._durations(durations)
        yield from self._sinks(sinks)
        yield from self._broker()

    @staticmethod
    def _jobs(rows: list[Any]) -> Metric:
        family = GaugeMetricFamily(
            "jobsys_jobs", "Jobs in each status", labels=["job_type", "capability", "status"]
        )
        for r in rows:
            family.add_metric([r.job_type, r.capability, r.status], r.n)
        return family

    @staticmethod
    def _durations(rows: list[Any]) -> Metric:
        family = HistogramMetricFamily(
            "jobsys_job_run_duration_seconds",
            "Durations of job attempts (job_runs)",
            labels=["job_type", "status"],
        )
        for r in rows:
            buckets = [(str(b), int(getattr(r, f"le_{i}") or 0)) for i, b in enumerate(BUCKETS)]
            buckets.append(("+Inf", int(r.count)))
            family.add_metric([r.job_type, r.status], buckets, float(r.sum_ms or 0) / 1000)
        return family

    @staticmethod
    def _sinks(rows: list[Any]) -> Iterator[Metric]:
        labels = ["sink_uri", "output"]
        families = {
            "rows": CounterMetricFamily("jobsys_sink_rows", "Rows written per sink", labels=labels),
            "bytes": CounterMetricFamily(
                "jobsys_sink_bytes", "Bytes written per sink", labels=labels
            ),
            "errors": CounterMetricFamily(
                "jobsys_sink_errors", "Write errors per sink", labels=labels
            ),
        }
        for r in rows:
            for name, family in families.items():
                family.add_metric([r.sink_uri, r.output], float(getattr(r, name) or 0))
        yield from families.values()

    def _broker(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("jobsys_broker_up", "1 when the broker answered this scrape")
        try:
            infos = self.client.capabilities(self.inspect_timeout)
        except JobsysError as exc:
            log.warning("metrics: the broker did not answer: %s", exc.format_message())
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            "jobsys_queue_depth",
            "Messages waiting on the capability's queue",
            labels=["capability"],
        )
        workers = GaugeMetricFamily(
            "jobsys_workers", "Workers serving the capability", labels=["capability"]
        )
        for info in infos:
            if info.broker_depth is not None:
                depth.add_metric([info.capability], info.broker_depth)
            workers.add_metric([info.capability], len(info.workers))
        yield depth
        yield workers


def registry_for(client: Client) -> CollectorRegistry:
    """A registry of the app's own holding the jobsys collector (not the global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobsysCollector(client))
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text exposition of ``registry`` and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
