"""Scoped bearer tokens, configured by hash (``Settings.api_tokens``).

An entry is ``<scope>:<sha256 hex of the token>[:<name>]``. A token is never kept
or logged in clear: the presented token is hashed and compared in constant time
with every configured digest. ``read`` allows GET; ``admin`` allows everything.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from jobsys.errors import ConfigError, Forbidden, Unauthorized
from jobsys.settings import TOKEN_ENTRY

Scope = Literal["read", "admin"]
SETTING = "JOBSYS_API_TOKENS"
#: HTTP methods a ``read`` token may use; every other method is a mutation and needs ``admin``
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class ApiToken:
    """A configured token: its scope, the SHA-256 of its value, and a name for logs."""

    scope: Scope
    digest: str
    name: str

    def allows(self, method: str) -> bool:
        """Whether this token may make a request with this HTTP method."""
        return self.scope == "admin" or method.upper() in READ_METHODS


def hash_token(token: str) -> str:
    """The SHA-256 hex digest of a token: what ``api_tokens`` entries hold."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_entry(entry: str, index: int = 0) -> ApiToken:
    """One ``api_tokens`` entry, or a ``ConfigError`` naming the setting."""
    match = TOKEN_ENTRY.fullmatch(entry)
    if match is None:
        raise ConfigError(
            f"{SETTING} entry {index} is not `<read|admin>:<sha256 hex>[:<name>]`", setting=SETTING
        )
    scope: Scope = "admin" if match["scope"] == "admin" else "read"
    return ApiToken(scope, match["digest"], match["name"] or f"token-{index}")


class TokenBook:
    """The configured tokens; answers who a presented token is, or raises."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.tokens = tuple(parse_entry(e, i) for i, e in enumerate(entries))

    def authenticate(self, token: str | None) -> ApiToken:
        """The configured token matching ``token``, or ``Unauthorized`` saying why not."""
        if not self.tokens:
            raise Unauthorized(f"no API tokens are configured (set {SETTING}): access refused")
        if not token:
            raise Unauthorized("missing bearer token: send `Authorization: Bearer <token>`")
        digest = hash_token(token)
        found: ApiToken | None = None
        for candidate in self.tokens:  # no early exit: the time taken does not say which matched
            if hmac.compare_digest(digest, candidate.digest):
                found = candidate
        if found is None:
            raise Unauthorized("invalid bearer token")
        return found

    def authorize(self, token: str | None, method: str) -> ApiToken:
        """The token if it may use ``method``; else ``Unauthorized`` or ``Forbidden``."""
        found = self.authenticate(token)
        if not found.allows(method):
            raise Forbidden(
                f"token {found.name!r} has scope {found.scope}; {method.upper()} needs admin",
                scope="admin",
            )
        return found
