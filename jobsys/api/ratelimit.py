"""A limit on failed API authentications per client address (in this process).

After ``limit`` failed authentications (a bearer token that matches no configured
token) from one address within ``window`` seconds, the address is locked out for
``window`` seconds: every ``/v1`` request from it gets 429 with ``Retry-After``,
even one with a valid token. Were a valid token let through during the lockout, a
guesser would still learn when it guessed right, and the limit would slow nothing.
A request with no token at all is refused (401) but not counted: it guesses nothing.

The counts live in memory, per ``jobsys api`` process: with several API processes
behind a balancer, each counts on its own (an address may make ``limit`` failures
per process). Only the stdlib is needed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from jobsys.errors import RateLimited

log = logging.getLogger("jobsys.api")

#: addresses tracked at most; the least recently seen are forgotten first
MAX_ADDRESSES = 10_000


class AuthFailureLimiter:
    """Counts failed authentications per address and locks out those over the limit."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._max = max_addresses
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._locked_until: dict[str, float] = {}

    @property
    def enabled(self) -> bool:
        """Whether there is a limit at all (``limit`` 0 turns it off)."""
        return self.limit > 0

    def check(self, address: str) -> None:
        """Raise ``RateLimited`` if ``address`` is locked out now."""
        if not self.enabled:
            return
        with self._lock:
            until = self._locked_until.get(address)
            if until is None:
                return
            left = until - self._clock()
            if left <= 0:
                del self._locked_until[address]
                return
        retry_after = max(1, math.ceil(left))
        raise RateLimited(
            f"too many failed authentications from {address}: retry after {retry_after}s",
            retry_after=retry_after,
        )

    def failed(self, address: str) -> None:
        """Record a failed authentication; lock the address out when it reaches the limit."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            times = self._failures.pop(address, None) or deque()
            self._failures[address] = times  # now the most recently seen
            while times and times[0] <= now - self.window:
                times.popleft()
            times.append(now)
            locked = len(times) >= self.limit
            if locked:
                self._locked_until[address] = now + self.window
                del self._failures[address]
            while len(self._failures) > self._max:
                self._failures.popitem(last=False)
            for gone in [a for a, t in self._locked_until.items() if t <= now]:
                del self._locked_until[gone]
        if locked:
            log.warning(
                "api: %s locked out for %gs after %d failed authentications within %gs",
                address,
                self.window,
                self.limit,
                self.window,
            )
