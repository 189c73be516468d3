"""The Celery app: configuration derived from ``Settings``, one task per job type.

``celery -A jobsys worker -Q media.thumbnails@1`` finds ``jobsys.celery.app``,
which is built on first access (PEP 562), from ``load_settings()``: importing this
module has no side effects.

Broker errors (kombu/redis/amqp) are mapped here to ``BrokerUnavailable`` naming
``JOBSYS_BROKER_URL``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from celery import Celery
from kombu.entity import Exchange, Queue
from kombu.exceptions import OperationalError as KombuOperationalError

from jobsys.errors import BrokerUnavailable, ConfigError
from jobsys.settings import Settings

if TYPE_CHECKING:
    from jobsys.runtime import Runtime

SETTING = "JOBSYS_BROKER_URL"
#: jobsys priorities run 0 (low) .. 9 (high); RabbitMQ agrees, Redis counts the other way.
MAX_PRIORITY = 9
#: how hard a producer tries before saying the broker is unavailable
#: every capability queue is bound to this direct exchange with its own name as routing key
EXCHANGE = Exchange("jobsys", type="direct")
DEFAULT_QUEUE = "jobsys.default"
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def _transport(settings: Settings) -> str:
    return settings.effective_broker_url.split("://", 1)[0].split("+", 1)[0]


def broker_priority(settings: Settings, priority: int) -> int:
    """The message priority the broker needs for a jobsys priority (higher runs first)."""
    clamped = max(0, min(MAX_PRIORITY, priority))
    if _transport(settings) in {"redis", "rediss", "sentinel"}:
        return MAX_PRIORITY - clamped
    return clamped


def _transport_options(settings: Settings) -> dict[str, Any]:
    transport = _transport(settings)
    if settings.embedded_broker:
        folder = settings.resolved_home / "broker"
        for sub in ("queue", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        # Absolute folders: the default control folder is relative, which breaks revoke/inspect.
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            # kombu's virtual transports sleep this long whenever a worker's prefetch is
            # full; the 1 s default caps a worker at about one job per second per process.
            "polling_interval": 0.02,
        }
    if transport in {"redis", "rediss", "sentinel"}:
        return {
            "visibility_timeout": settings.visibility_timeout,
            "priority_steps": list(range(MAX_PRIORITY + 1)),
            "sep": ":",
            "queue_order_strategy": "priority",
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout // 2)),
            # kombu >= 5.6 scans only every 10th sweep by default, which delays the
            # redelivery of a dead worker's messages by 10 x the interval.
            "unacked_restore_throttle": 1,
        }
    return {}


def _transport_class(settings: Settings) -> str | None:
    if settings.embedded_broker:
        return "jobsys.embedded_broker:Transport"
    if settings.effective_broker_url.split("://", 1)[0] == "redis":
        return "jobsys.redis_broker:Transport"
    return None


def capability_queue(name: str) -> Queue:
    """The queue of one capability (priorities enabled on RabbitMQ)."""
    return Queue(
        name, EXCHANGE, routing_key=name, queue_arguments={"x-max-priority": MAX_PRIORITY + 1}
    )


def celery_config(settings: Settings, capabilities: list[str] | None = None) -> dict[str, Any]:
    """Celery settings derived from jobsys's: JSON only, late acks, fair prefetch."""
    return {
        "broker_url": settings.effective_broker_url,
        # The embedded broker: kombu's filesystem transport with atomic message files;
        # Redis: kombu's, reconnecting after a Redis restart (jobsys.redis_broker).
        "broker_transport": _transport_class(settings),
        "broker_transport_options": _transport_options(settings),
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # Outcomes live in jobsys's store; the result backend only counts DAG chord joins.
        "result_backend": settings.effective_result_backend,
        "result_expires": 7 * 24 * 3600,
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": settings.worker_prefetch,
        "worker_concurrency": settings.worker_concurrency,
        "task_queue_max_priority": MAX_PRIORITY + 1,
        "task_queues": [capability_queue(q) for q in [DEFAULT_QUEUE, *(capabilities or [])]],
        "task_create_missing_queues": False,
        "task_default_priority": broker_priority(settings, settings.default_priority),
        "task_default_queue": DEFAULT_QUEUE,
        "task_default_exchange": EXCHANGE.name,
        "task_default_routing_key": DEFAULT_QUEUE,
        "worker_send_task_events": settings.task_events,
        "worker_hijack_root_logger": True,  # jobsys and job logs go to the worker log
        "worker_deduplicate_successful_tasks": False,
        "broker_pool_limit": 10,
        "beat_max_loop_interval": settings.beat_max_loop_interval,
    }


@contextmanager
def broker_errors(settings: Settings) -> Iterator[None]:
    """Map broker connection errors to ``BrokerUnavailable`` naming the setting."""
    try:
        yield
    except (KombuOperationalError, ConnectionError, OSError) as exc:
        raise BrokerUnavailable(
            f"cannot reach the broker at {SETTING}={display_broker(settings)}: {exc}",
            setting=SETTING,
        ) from exc
    except (KeyError, ImportError) as exc:
        raise ConfigError(
            f"{SETTING}={display_broker(settings)} names no usable broker transport: {exc}",
            setting=SETTING,
        ) from exc


def display_broker(settings: Settings) -> str:
    """The broker URL with any password hidden."""
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(settings.effective_broker_url))


def close_app(app: Celery) -> None:
    """Release an app's broker pool and result backend connections.

    Publishing a canvas with a group subscribes to its results (Celery's ready barrier);
    they are forgotten here, or each result's ``__del__`` would reconnect to unsubscribe.
    """
    backend = app._local.__dict__.get("backend")  # only if this thread made one
    consumer = getattr(backend, "result_consumer", None)
    if consumer is not None and hasattr(consumer, "subscribed_to"):
        consumer.stop()
        consumer.subscribed_to.clear()
    if backend is not None and hasattr(backend, "client"):
        backend.client.connection_pool.disconnect()
    app.close()


def create_celery(runtime: Runtime) -> Celery:
    """A Celery app for ``runtime``'s settings with one task per registered job type."""
    from jobsys.execution.task import bind_tasks

    app = Celery("jobsys", set_as_current=False)
    capabilities = [str(c) for c in runtime.registry.by_capability()]
    app.conf.update(celery_config(runtime.settings, capabilities))
    bind_tasks(app, runtime)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        from jobsys.runtime import Runtime
        from jobsys.settings import load_settings

        app = Runtime(load_settings()).app
        globals()["app"] = app
        return app
    raise AttributeError(f"module 'jobsys.celery' has no attribute {name!r}")
