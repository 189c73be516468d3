"""Path inputs confined to configured roots (``JOBSYS_SOURCE_ROOTS``).

A job type marks an input field as a path it reads with ``SourcePath`` (a ``str``
annotated with the check). When roots are configured, every such value must resolve,
symlinks followed, to a place inside one of them: ``..`` segments, symlinks pointing
out and absolute paths elsewhere are refused with a ``PathRefused`` naming the field.

The check runs twice: at submit (``validate_inputs`` passes the roots to pydantic as
validation context, so a bad path is an ``InputError`` naming the field), and in the
worker just before the job runs (``JobContext.path_roots``): a symlink can be swapped
after submit. Paths a job finds at run time (a catalog selection) go through
``JobContext.confine``. With no roots configured nothing is confined (the default,
so a laptop works out of the box); a production deployment sets them.

Output locations are confined too: ``inside(root, path)`` refuses a computed output
folder that would land outside ``outputs_root`` (a ``..`` or a symlink on the way).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo
from pydantic_core import PydanticCustomError

from jobsys.errors import PathRefused

#: the pydantic validation-context key holding the roots (a sequence of resolved ``Path``)
ROOTS_CONTEXT = "jobsys.path_roots"
#: the environment variable a user sets to configure the roots
ROOTS_SETTING = "JOBSYS_SOURCE_ROOTS"
_SHOWN = 160  # a path longer than this is shortened in messages


def show(path: str) -> str:
    """``path`` as a message shows it: quoted when it has odd characters, shortened if long."""
    text = path if len(path) <= _SHOWN else f"{path[: _SHOWN // 2]}…{path[-_SHOWN // 2 :]}"
    return text if text.isprintable() and text.strip() == text and text else repr(text)


def _resolve(path: Path) -> Path:
    """``path`` with every symlink followed; a missing tail is kept as written (never ``..``)."""
    try:
        return path.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        # Not there (yet): the job itself reports a missing file. The part that exists is
        # still resolved, so a symlink on the way cannot lead out of the root.
        return path.resolve(strict=False)


def confine(value: str | os.PathLike[str], roots: Sequence[Path], *, field: str) -> Path:
    """``value`` resolved, or ``PathRefused`` when it is unusable or outside every root.

    ``roots`` are resolved folders; empty means unconfined (only NUL bytes are refused).
    """
    text = os.fspath(value)
    if "\x00" in text:
        raise PathRefused(field, show(text), "contains a NUL byte")
    if not text:
        raise PathRefused(field, show(text), "is empty")
    if not roots:
        return Path(text)
    try:
        resolved = _resolve(Path(text).expanduser())
    except (OSError, RuntimeError, ValueError) as exc:  # loops, too long, no such user
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise PathRefused(field, show(text), f"cannot be resolved: {reason}") from None
    if any(resolved.is_relative_to(root) for root in roots):
        return resolved
    where = ", ".join(str(r) for r in roots)
    via = f" (it resolves to {show(str(resolved))})" if str(resolved) != text else ""
    raise PathRefused(
        field, show(text), f"is outside the source roots ({where}){via}; set {ROOTS_SETTING}"
    )


def inside(root: Path, path: Path, *, field: str) -> Path:
    """``path`` if it stays inside ``root`` once resolved, else ``PathRefused``."""
    resolved_root = root.resolve()
    try:
        resolved = _resolve(path)
    except (OSError, RuntimeError, ValueError) as exc:
        raise PathRefused(field, show(str(path)), f"cannot be resolved: {exc}") from None
    if not resolved.is_relative_to(resolved_root):
        raise PathRefused(field, show(str(path)), f"escapes the outputs folder {resolved_root}")
    return path


_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")


def output_segment(value: object, *, field: str) -> str:
    """``value`` as one folder name of an output location, or ``PathRefused``.

    Letters, digits and ``. _ @ + -`` only, starting with a letter or digit, no ``..``:
    so no value can climb out of (or hide in) the outputs folder.
    """
    text = str(value)
    if not _SEGMENT.match(text) or ".." in text:
        raise PathRefused(
            field, show(text), "cannot name an output folder (letters, digits and . _ @ + - only)"
        )
    return text


def output_segments(key: str, *, field: str = "output_key") -> list[str]:
    """The folder names of a job type's ``output_key`` (``profile/language``), each checked."""
    return [output_segment(part, field=field) for part in key.split("/")]


def roots_of(info: ValidationInfo) -> Sequence[Path]:
    """The roots passed as validation context (none: unconfined)."""
    context = info.context
    if isinstance(context, dict):
        roots = context.get(ROOTS_CONTEXT)
        if roots:
            return tuple(roots)
    return ()


def _check(value: str, info: ValidationInfo) -> str:
    try:
        confine(value, roots_of(info), field=info.field_name or "path")
    except PathRefused as exc:
        # pydantic reports the field's location; the message says the rest.
        raise PydanticCustomError(
            "path_refused", "{reason}", {"reason": f"{exc.path} {exc.reason}"}
        ) from None
    return value


def context(roots: Sequence[Path]) -> dict[str, Any] | None:
    """The validation context confining ``SourcePath`` fields to ``roots`` (None: unconfined)."""
    return {ROOTS_CONTEXT: tuple(roots)} if roots else None


#: an input field holding a path the job reads: confined to the roots at submit and run time
SourcePath = Annotated[str, AfterValidator(_check)]
SourcePath.__module__ = __name__  # an alias of ``str``: say where it is defined
