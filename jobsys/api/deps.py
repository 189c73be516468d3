"""What routes receive: the client, the caller's token, and which capabilities no worker serves."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobsys.api.auth import ApiToken, TokenBook
from jobsys.api.ratelimit import AuthFailureLimiter
from jobsys.client import Client
from jobsys.errors import Unauthorized

bearer = HTTPBearer(
    auto_error=False,
    description="A token whose SHA-256 is in JOBSYS_API_TOKENS: scope read for GET, "
    "admin for every POST.",
)


def get_client(request: Request) -> Client:
    """The app's client: the one run path."""
    client: Client = request.app.state.client
    return client


def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiToken:
    """The caller's token if it allows this request's method (401/403 otherwise).

    An address locked out for failed authentications gets 429 whatever it presents.
    """
    tokens: TokenBook = request.app.state.tokens
    limiter: AuthFailureLimiter = request.app.state.auth_limiter
    address = request.client.host if request.client else "unknown"
    limiter.check(address)
    token = credentials.credentials if credentials else None
    try:
        return tokens.authorize(token, request.method)
    except Unauthorized:
        if token and tokens.tokens:  # a guess, not a request that forgot its token
            limiter.failed(address)
        raise


class WorkerWatch:
    """Which capabilities some worker serves, asked of the workers at most every ``ttl`` s.

    Asking takes a broadcast round (``inspect_timeout``); a listing of queued jobs
    should not pay it on every request.
    """

    def __init__(self, client: Client, ttl: float = 5.0, inspect_timeout: float = 0.5) -> None:
        self.client, self.ttl, self.inspect_timeout = client, ttl, inspect_timeout
        self._lock = threading.Lock()
        self._served: frozenset[str] = frozenset()
        self._asked_at: float | None = None

    def served(self) -> frozenset[str]:
        """Capabilities at least one live worker serves."""
        with self._lock:
            now = time.monotonic()
            if self._asked_at is None or now - self._asked_at >= self.ttl:
                infos = self.client.capabilities(self.inspect_timeout)
                self._served = frozenset(i.capability for i in infos if i.workers)
                self._asked_at = now
            return self._served

    def waiting(self, jobs: Iterable[Any]) -> set[str]:
        """Capabilities of queued ``jobs`` that no worker serves (the CLI's note, as data)."""
        queued = {j.capability for j in jobs if j.status in ("QUEUED", "PENDING")}
        return queued - self.served() if queued else set()


def get_watch(request: Request) -> WorkerWatch:
    """The app's worker watch."""
    watch: WorkerWatch = request.app.state.watch
    return watch


ClientDep = Annotated[Client, Depends(get_client)]
WatchDep = Annotated[WorkerWatch, Depends(get_watch)]
