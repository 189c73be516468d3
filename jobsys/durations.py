"""Durations as people write them: ``90m``, ``12h``, ``30d``, ``2w`` (pure, no I/O).

``parse_duration`` is the one parser; the CLI's ``--older-than`` and the
``history_retention`` setting both use it, so they accept the same spellings.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNITS: dict[str, timedelta] = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DURATION = re.compile(r"\s*(?P<amount>\d+)\s*(?P<unit>[smhdw])\s*")
HINT = "a whole number and a unit s, m, h, d or w (e.g. 90m, 12h, 30d)"


def parse_duration(text: str) -> timedelta:
    """``"30d"`` -> ``timedelta(days=30)``; ``ValueError`` saying what is expected otherwise."""
    match = _DURATION.fullmatch(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: expected {HINT}")
    amount = int(match["amount"])
    if amount == 0:
        raise ValueError(f"{text!r} is not a duration: it must be more than zero")
    try:
        return amount * UNITS[match["unit"]]
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


def format_duration(value: timedelta) -> str:
    """The largest unit that divides ``value`` exactly: ``timedelta(days=30)`` -> ``"30d"``."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = int(UNITS[unit].total_seconds())
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
