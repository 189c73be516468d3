"""Tokens and helpers for the API's unit tests (the app in-process on the embedded store)."""

from __future__ import annotations

from typing import Any

from jobsys.api.auth import hash_token

ADMIN, READER = "admin-secret-1", "reader-secret-2"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
AS_READER = {"Authorization": f"Bearer {READER}"}
TOKENS = [f"admin:{hash_token(ADMIN)}:ci", f"read:{hash_token(READER)}:dash"]
NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` of a JSON error body (which has nothing else)."""
    body = response.json()
    assert set(body) == {"error"}, body
    detail: dict[str, Any] = body["error"]
    return detail
