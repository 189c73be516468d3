"""Health checks of the long-running services, as ``jobsys health api|worker|beat|flower``.

compose.yaml's healthchecks and the loopback cluster run these same commands:

- ``api``: ``GET /healthz`` on ``JOBSYS_API_PORT`` answers 200;
- ``flower``: Flower's open ``GET /healthcheck`` on ``JOBSYS_FLOWER_PORT`` answers ``OK``;
- ``worker --name N``: the worker whose node name is ``N`` (``%h`` = this host) answers a
  Celery ping on the broker;
- ``beat --name N``: the beat of that name touched its heartbeat file
  (``<home>/health/<N>``) within three scheduler loops, i.e. it is still ticking.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from jobsys.errors import JobsysError
from jobsys.settings import Settings

#: how long one HTTP probe or broker ping may take, in seconds
PROBE_TIMEOUT = 3.0
#: addresses that mean "every interface": probe them on loopback
ANY_ADDRESS = {"0.0.0.0", "::", ""}


class Unhealthy(JobsysError):
    """A service does not answer its health check (says which and why)."""

    exit_code = 1


def expand_name(name: str) -> str:
    """A node name with Celery's ``%h`` (host), ``%n`` and ``%d`` expanded."""
    from celery.utils.nodenames import host_format

    return str(host_format(name))


def heartbeat_path(settings: Settings, name: str) -> Path:
    """The file a beat named ``name`` touches on every tick."""
    return settings.resolved_home / "health" / expand_name(name)


def touch(path: Path) -> None:
    """Create or refresh a heartbeat file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path)


def with_heartbeat(scheduler: type[Any], path: Path) -> type[Any]:
    """A subclass of a celery beat scheduler class that touches ``path`` on every tick."""

    class HeartbeatScheduler(scheduler):  # type: ignore[misc]
        def tick(self, *args: Any, **kwargs: Any) -> float:
            touch(path)
            return float(super().tick(*args, **kwargs))

    HeartbeatScheduler.__name__ = HeartbeatScheduler.__qualname__ = scheduler.__name__
    return HeartbeatScheduler


def _probe(url: str, expect: bytes | None = None) -> None:
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:  # noqa: S310
            body = response.read(256)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unhealthy(f"{url}: {reason}") from exc
    if expect is not None and body.strip() != expect:
        raise Unhealthy(f"{url}: answered {body[:40]!r}, not {expect!r}")


def _loopback(host: str) -> str:
    host = "127.0.0.1" if host in ANY_ADDRESS else host
    return f"[{host}]" if ":" in host else host


def check_api(settings: Settings) -> str:
    """The REST API answers ``/healthz``."""
    url = f"http://{_loopback(settings.api_host)}:{settings.api_port}/healthz"
    _probe(url)
    return f"api answers on {url}"


def check_flower(settings: Settings, address: str = "127.0.0.1") -> str:
    """Flower answers its (unauthenticated) ``/healthcheck``."""
    url = f"http://{_loopback(address)}:{settings.flower_port}/healthcheck"
    _probe(url, b"OK")
    return f"flower answers on {url}"


def check_worker(settings: Settings, name: str) -> str:
    """The worker named ``name`` answers a ping on the broker."""
    from celery import Celery

    from jobsys.celery import broker_errors, celery_config, close_app

    node = expand_name(name)
    # The broker's configuration alone: a ping needs no job type, store or task.
    app = Celery("jobsys", set_as_current=False)
    app.conf.update(celery_config(settings))
    try:
        with broker_errors(settings):
            replies = app.control.ping([node], timeout=PROBE_TIMEOUT)
    finally:
        close_app(app)
    if not any(node in reply for reply in replies):
        raise Unhealthy(f"worker {node} does not answer a ping")
    return f"worker {node} answers"


def check_beat(settings: Settings, name: str) -> str:
    """The beat named ``name`` ticked within three scheduler loops (at least 15 s)."""
    path = heartbeat_path(settings, name)
    limit = max(15.0, 3 * settings.beat_max_loop_interval)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError as exc:
        raise Unhealthy(f"beat {expand_name(name)} never ticked (no {path})") from exc
    if age > limit:
        raise Unhealthy(f"beat {expand_name(name)} last ticked {age:.0f}s ago (limit {limit:g}s)")
    return f"beat {expand_name(name)} ticked {age:.1f}s ago"
