"""Secret references (``secret://env/NAME``, ``secret://file/PATH``) and their resolvers.

Only references are ever stored; values are resolved at run time, inside the job,
and never logged. More schemes are added with ``SecretResolvers.register``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from jobsys.errors import ConfigError

PREFIX = "secret://"


class SecretResolver(Protocol):
    """Turns a ``secret://scheme/key`` reference into its value."""

    def resolve(self, ref: str) -> str:
        """Return the secret's value; raise ``ConfigError`` naming the reference."""
        ...


def _from_env(key: str) -> str:
    try:
        return os.environ[key]
    except KeyError:
        raise ConfigError(f"secret://env/{key}: environment variable {key} is not set") from None


def _from_file(key: str) -> str:
    path = Path("/" + key.lstrip("/")) if not key.startswith(".") else Path(key)
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"secret://file/{key}: {exc.strerror}") from None


class SecretResolvers:
    """A resolver that dispatches on the reference's scheme."""

    def __init__(self) -> None:
        self._schemes: dict[str, Callable[[str], str]] = {"env": _from_env, "file": _from_file}

    def register(self, scheme: str, fn: Callable[[str], str]) -> None:
        """Add a scheme (``vault``, ``k8s``, ...)."""
        self._schemes[scheme] = fn

    @property
    def schemes(self) -> frozenset[str]:
        """The schemes this resolver knows."""
        return frozenset(self._schemes)

    def resolve(self, ref: str) -> str:
        """Resolve ``secret://scheme/key``."""
        if not ref.startswith(PREFIX):
            raise ConfigError(f"{ref!r} is not a secret reference (secret://scheme/key)")
        scheme, _, key = ref.removeprefix(PREFIX).partition("/")
        fn = self._schemes.get(scheme)
        if fn is None or not key:
            known = ", ".join(sorted(self._schemes))
            raise ConfigError(f"{ref}: unknown secret scheme {scheme!r} (known: {known})")
        return fn(key)
