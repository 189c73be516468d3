"""Open a media source read-only, describe it, and classify failures as seed 003 says.

- ``open_source(path)``: a PyAV input container; a missing, unreadable or undecodable
  source is a ``FatalJobError`` (no retry can make it readable).
- ``reading(path)``: demuxing/decoding errors while reading are fatal for the same reason.
- ``writing(what)``: encoding, rendering and output-writing errors are retryable.
- ``audio_stream`` / ``video_stream``: the first stream of a kind; a missing one is fatal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from jobsys import FatalJobError, RetryableJobError

if TYPE_CHECKING:
    import av.container
    import av.stream


class StreamInfo(BaseModel):
    """One stream of the source."""

    index: int
    type: str
    codec: str
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    sample_rate: int | None = None
    channels: int | None = None


class TechnicalMetadata(BaseModel):
    """What the source is: duration, streams and codecs, picture and sound."""

    container: str
    duration_seconds: float
    streams: list[StreamInfo]
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    audio_codec: str | None = None
    audio_channels: int | None = None
    audio_sample_rate: int | None = None


def _av_error() -> type[Exception]:
    import av

    error: type[Exception] = av.FFmpegError
    return error


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Map errors met while reading ``path`` to ``FatalJobError``: the source is unreadable."""
    try:
        yield
    except (_av_error(), OSError, UnicodeDecodeError) as exc:
        raise FatalJobError(f"source {str(path)!r} is unreadable: {exc}") from exc


@contextmanager
def writing(what: str) -> Iterator[None]:
    """Map errors met while encoding or writing ``what`` to ``RetryableJobError``."""
    try:
        yield
    except (_av_error(), OSError) as exc:
        raise RetryableJobError(f"encoding {what} failed: {exc}") from exc


def open_source(path: str | Path) -> av.container.InputContainer:
    """Open ``path`` for reading only; ``FatalJobError`` if it is not a readable media file."""
    import av

    if not Path(path).is_file():
        raise FatalJobError(f"source {str(path)!r} is unreadable: no such file")
    with reading(path):
        container = av.open(str(path), mode="r")
    if not container.streams.video and not container.streams.audio:
        container.close()
        raise FatalJobError(f"source {str(path)!r} is unreadable: no audio or video stream")
    return container


def video_stream(container: av.container.InputContainer, path: str | Path) -> Any:
    """The first video stream; ``FatalJobError`` when the source has none."""
    if not container.streams.video:
        raise FatalJobError(f"source {str(path)!r} has no video track")
    return container.streams.video[0]


def audio_stream(container: av.container.InputContainer, path: str | Path) -> Any:
    """The first audio stream; ``FatalJobError`` when the source has none (seed 003)."""
    if not container.streams.audio:
        raise FatalJobError(f"source {str(path)!r} has no audio track")
    return container.streams.audio[0]


def _rate(value: Fraction | None) -> float | None:
    return round(float(value), 3) if value else None


def _duration(container: av.container.InputContainer) -> float:
    if container.duration is not None:
        return container.duration / 1_000_000
    longest = 0.0
    for s in container.streams:
        if s.duration is not None and s.time_base is not None:
            longest = max(longest, float(s.duration * s.time_base))
    return longest


def describe(container: av.container.InputContainer) -> TechnicalMetadata:
    """The source's technical metadata (from its headers: nothing is decoded)."""
    streams: list[StreamInfo] = []
    for s in container.streams:
        cc: Any = s.codec_context
        info = StreamInfo(index=s.index, type=s.type, codec=cc.name if cc else "unknown")
        if s.type == "video":
            info.width, info.height = cc.width, cc.height
            info.frame_rate = _rate(s.average_rate or s.guessed_rate)
        elif s.type == "audio":
            info.sample_rate, info.channels = cc.sample_rate, cc.channels
        streams.append(info)
    video = next((s for s in streams if s.type == "video"), None)
    audio = next((s for s in streams if s.type == "audio"), None)
    return TechnicalMetadata(
        container=container.format.name,
        duration_seconds=round(_duration(container), 3),
        streams=streams,
        video_codec=video.codec if video else None,
        width=video.width if video else None,
        height=video.height if video else None,
        frame_rate=video.frame_rate if video else None,
        audio_codec=audio.codec if audio else None,
        audio_channels=audio.channels if audio else None,
        audio_sample_rate=audio.sample_rate if audio else None,
    )


def decode_mono_s16(src: av.container.InputContainer, stream: Any, rate: int, path: str) -> Any:
    """All of ``stream``'s audio as one numpy int16 array: mixed to mono, at ``rate`` Hz."""
    import av
    import numpy as np

    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    stream.thread_type = "AUTO"
    chunks: list[Any] = []
    with reading(path):
        for frame in src.decode(stream):
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
