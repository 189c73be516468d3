"""Store writes that survive a short outage: retried with backoff for a bounded time.

A worker that has run a job must not lose the JobRun because PostgreSQL restarted or a
proxy dropped its connections: ``retrying`` calls the write again (on a fresh connection:
the pool drops invalidated ones) while the error is a connection error, for at most
``store_retry_seconds``; then it raises ``StoreUnavailable`` and the caller gives the
message back to the broker. Each retry is logged, naming what is retried, never the URL's
password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from jobsys.errors import StoreUnavailable
from jobsys.settings import Settings
from jobsys.store.session import SETTING, display_url

log = logging.getLogger(__name__)

T = TypeVar("T")
#: the first pause, its growth per retry, and the longest pause (seconds)
FIRST_PAUSE, GROWTH, MAX_PAUSE = 0.1, 2.0, 2.0


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the store could not be reached (worth retrying), not a bad query."""
    if isinstance(exc, OperationalError | InterfaceError):
        text = str(exc.orig) if exc.orig is not None else str(exc)
        return "no such table" not in text and "does not exist" not in text
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def retrying(
    settings: Settings,
    what: str,
    call: Callable[[], T],
    *,
    seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, again after each connection error until ``seconds`` (default
    ``settings.store_retry_seconds``) have passed; then ``StoreUnavailable``."""
    budget = settings.store_retry_seconds if seconds is None else seconds
    deadline = time.monotonic() + budget
    pause, attempt = FIRST_PAUSE, 1
    while True:
        try:
            result = call()
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            left = deadline - time.monotonic()
            url = display_url(settings.effective_database_url)
            if left <= 0:
                log.error(
                    "store unavailable: gave up on %s after %d attempt(s) in %gs (%s=%s): %s",
                    what,
                    attempt,
                    budget,
                    SETTING,
                    url,
                    _first_line(exc),
                )
                raise StoreUnavailable(
                    f"cannot reach the store at {SETTING}={url} for {what}: {_first_line(exc)}",
                    setting=SETTING,
                ) from exc
            log.warning(
                "store unavailable, retrying %s (attempt %d, next in %.1fs): %s",
                what,
                attempt,
                min(pause, left),
                _first_line(exc),
            )
            sleep(min(pause, left))
            pause, attempt = min(pause * GROWTH, MAX_PAUSE), attempt + 1
            continue
        if attempt > 1:
            log.warning("store reachable again: %s done after %d attempt(s)", what, attempt)
        return result
