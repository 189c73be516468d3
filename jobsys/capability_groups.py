"""Capability groups (``config/capabilities.toml``): which worker serves which queues.

A group names the capabilities one kind of worker serves (``data``, ``media``,
``speech``, ...). ``jobsys worker --group data`` serves exactly the group's queues, and
compose.yaml runs one worker service per group with the same names::

    [groups.media]
    description = "video proxies, thumbnails and audio waveforms"
    capabilities = ["media.proxies.video@1", "media.thumbnails@1", "audio.waveform@1"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jobsys.capabilities import Capability
from jobsys.errors import ConfigError, DefinitionError

#: where the groups file is looked for, relative to the working directory
GROUPS_FILE = Path("config") / "capabilities.toml"


@dataclass(frozen=True)
class CapabilityGroup:
    """One group: its name, what it is for, and the capabilities (queues) it serves."""

    name: str
    description: str
    capabilities: tuple[str, ...]


def default_groups_file() -> Path:
    """``./config/capabilities.toml``, else the one of the source tree jobsys runs from."""
    here = Path.cwd() / GROUPS_FILE
    if here.is_file():
        return here
    beside = Path(__file__).resolve().parent.parent / GROUPS_FILE
    return beside if beside.is_file() else here


def load_groups(path: Path | None = None) -> dict[str, CapabilityGroup]:
    """Read every group of ``path``; a ``ConfigError`` names the file (and line) if it is bad."""
    path = path or default_groups_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such capability groups file", setting="--group") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", setting="--group") from exc
    tables = data.get("groups")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{path}: no [groups.NAME] table", setting="--group")
    groups: dict[str, CapabilityGroup] = {}
    for name, table in tables.items():
        caps = table.get("capabilities") if isinstance(table, dict) else None
        if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
            raise ConfigError(
                f"{path}: [groups.{name}]: `capabilities` must be a list of name@major strings",
                setting="--group",
            )
        try:
            parsed = tuple(str(Capability.parse(c)) for c in caps)
        except DefinitionError as exc:
            raise ConfigError(f"{path}: [groups.{name}]: {exc}", setting="--group") from exc
        groups[name] = CapabilityGroup(name, str(table.get("description", "")), parsed)
    return groups


def group_capabilities(names: Sequence[str], path: Path | None = None) -> list[str]:
    """The capabilities of the named groups, in order, without repeats.

    An unknown group is a ``ConfigError`` naming the file and the groups it defines.
    """
    path = path or default_groups_file()
    groups = load_groups(path)
    capabilities: list[str] = []
    for name in names:
        group = groups.get(name)
        if group is None:
            raise ConfigError(
                f"{path}: no capability group {name!r} (groups: {', '.join(groups)})",
                setting="--group",
            )
        capabilities += [c for c in group.capabilities if c not in capabilities]
    return capabilities
