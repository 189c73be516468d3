"""The Redis transport reports a channel whose connection was closed (Redis went away) as a
connection error, which Celery's consumer ignores while it reconnects, instead of an
``AttributeError`` that stops the worker with "Unrecoverable error"."""

from __future__ import annotations

import pytest
from kombu import Connection
from kombu.common import ignore_errors
from redis.exceptions import ConnectionError as RedisConnectionError

pytestmark = [pytest.mark.integration]


def test_a_channel_left_over_from_a_closed_connection_raises_a_connection_error(
    redis_url: str,
) -> None:
    conn = Connection(redis_url, transport="jobsys.redis_broker:Transport")
    channel = conn.channel()
    conn.transport.client = None  # what closing the broken connection leaves behind
    with pytest.raises(RedisConnectionError, match="broker connection was closed"):
        channel._connparams()
    # the close Celery attempts after a connection loss is then ignored, not fatal
    ignore_errors(conn, lambda: channel._connparams())
