"""The Redis broker: kombu's ``redis://`` transport, surviving a Redis restart.

When Redis goes away, Celery's consumer closes the broken connection, and closing a
channel restores its unacknowledged messages, which needs a Redis client. By then the
transport's connection is gone, so kombu builds the client from ``None`` and raises an
``AttributeError``. That is not a connection error, so Celery does not ignore it: the
worker stops with "Unrecoverable error" instead of reconnecting (seen when the fault
tests restart Redis). Here that case raises redis's ``ConnectionError``, which kombu
counts as a connection error: the close is ignored and the worker reconnects. (A Redis
restarted empty had lost those messages anyway; one that kept its data hands them out
again after the visibility timeout.)
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(redis.Channel):  # type: ignore[misc]
    """A Redis channel that reports a closed transport as a connection error."""

    def _connparams(self, asynchronous: bool = False) -> Any:
        if getattr(self.connection, "client", None) is None:
            raise RedisConnectionError("the broker connection was closed (Redis went away)")
        return super()._connparams(asynchronous)


class Transport(redis.Transport):  # type: ignore[misc]
    """kombu's Redis transport with ``Channel`` above."""

    Channel = Channel
