"""Named media profiles, read from the package's ``profiles.toml`` with tomllib.

Profiles are data: a job names one (``proxy_profile="h264_360p"``); an unknown name
is refused when the job is submitted, naming the known ones.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jobsys import errors

PROFILES_FILE = "profiles.toml"


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProxyProfile(_Profile):
    """A video proxy's settings."""

    width: int = Field(gt=0, multiple_of=2)
    height: int = Field(gt=0, multiple_of=2)
    video_codec: str
    video_bitrate: int = Field(gt=0)
    preset: str = "veryfast"
    audio_codec: str = "aac"
    audio_bitrate: int = Field(default=128_000, gt=0)
    audio_sample_rate: int = Field(default=48_000, gt=0)
    container: Literal["mp4", "mov", "mkv"] = "mp4"


class ThumbnailProfile(_Profile):
    """Which frames become thumbnails, and their size and format."""

    count: int | None = Field(default=None, ge=1, le=1000)
    interval_seconds: float | None = Field(default=None, gt=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    format: Literal["jpeg", "png", "webp"] = "jpeg"
    quality: int = Field(default=85, ge=1, le=100)

    @model_validator(mode="after")
    def _count_or_interval(self) -> ThumbnailProfile:
        if (self.count is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of count and interval_seconds")
        return self


class TranscriptionProfile(_Profile):
    """Which speech engine transcribes, and the default language."""

    engine: Literal["pocketsphinx"] = "pocketsphinx"
    language: str = "en-us"


_KINDS: dict[str, type[_Profile]] = {
    "proxy": ProxyProfile,
    "thumbnail": ThumbnailProfile,
    "transcription": TranscriptionProfile,
}


@cache
def _all() -> dict[str, dict[str, Any]]:
    text = resources.files(__package__).joinpath(PROFILES_FILE).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise errors.DefinitionError(str(exc), file=PROFILES_FILE) from exc
    unknown = set(data) - set(_KINDS)
    if unknown:
        raise errors.DefinitionError(f"unknown profile kinds {sorted(unknown)}", file=PROFILES_FILE)
    return {kind: dict(data.get(kind, {})) for kind in _KINDS}


def names(kind: str) -> list[str]:
    """The profile names of one kind (``proxy``, ``thumbnail``, ``transcription``)."""
    return sorted(_all()[kind])


def _load(kind: str, name: str) -> Any:
    table = _all()[kind].get(name)
    if table is None:
        raise ValueError(f"unknown {kind} profile {name!r} (known: {', '.join(names(kind))})")
    try:
        return _KINDS[kind].model_validate(table)
    except ValidationError as exc:
        raise errors.DefinitionError(
            f"[{kind}.{name}]: {exc.errors()[0]['msg']}", file=PROFILES_FILE
        ) from exc


def proxy(name: str) -> ProxyProfile:
    """The proxy profile ``name``; ``ValueError`` naming the known ones if there is none."""
    profile: ProxyProfile = _load("proxy", name)
    return profile


def thumbnail(name: str) -> ThumbnailProfile:
    """The thumbnail profile ``name``; ``ValueError`` naming the known ones if there is none."""
    profile: ThumbnailProfile = _load("thumbnail", name)
    return profile


def transcription(name: str) -> TranscriptionProfile:
    """The transcription profile ``name``; ``ValueError`` naming the known ones if none."""
    profile: TranscriptionProfile = _load("transcription", name)
    return profile
