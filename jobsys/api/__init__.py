"""The REST API: ``create_api(settings)`` builds the FastAPI app ``jobsys api`` serves.

FastAPI is the ``api`` extra: ``import jobsys`` never loads it, and neither does this
package until ``create_api`` is asked for (``jobsys.api.auth`` needs only the stdlib).
Every route calls ``jobsys.client.Client``, the one run path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobsys.api.app import create_api

__all__ = ["create_api"]


def __getattr__(name: str) -> Any:
    if name == "create_api":
        from jobsys.api.app import create_api

        return create_api
    raise AttributeError(f"module 'jobsys.api' has no attribute {name!r}")
