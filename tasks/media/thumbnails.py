"""``generate_thumbnails`` (``media.thumbnails@1``): still images at chosen times.

The profile gives the times (``count`` frames spread evenly, or one every
``interval_seconds``), the box each image fits in, and the format. For each time
the source is sought to the keyframe before it and decoded forward to the first
frame at or after it, so the frame chosen depends only on the source.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, field_validator

from jobsys import FatalJobError, JobContext, RetryPolicy, job_type
from tasks.media import profiles
from tasks.media._invariants import MEDIA_INVARIANTS
from tasks.media._probe import describe, open_source, reading, video_stream, writing
from tasks.media._source import AssetSource

_EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp"}


class ThumbnailInput(AssetSource):
    """The asset, its source (read-only) and the thumbnail profile."""

    thumbnail_profile: str = "strip_5"

    @field_validator("thumbnail_profile")
    @classmethod
    def _known(cls, name: str) -> str:
        profiles.thumbnail(name)
        return name


class Thumbnail(BaseModel):
    """One image, relative to the job's output folder."""

    file: str
    time_seconds: float
    width: int
    height: int


class ThumbnailOutput(BaseModel):
    """The thumbnails, in time order."""

    thumbnails: list[Thumbnail]

    def files(self) -> list[str]:
        """The files this output names."""
        return [t.file for t in self.thumbnails]


def times(profile: profiles.ThumbnailProfile, duration: float) -> list[float]:
    """When to take each thumbnail, in seconds (at least one, at 0, for a zero duration)."""
    if profile.count is not None:
        return [round(duration * (i + 0.5) / profile.count, 3) for i in range(profile.count)]
    step = profile.interval_seconds or duration or 1.0
    count = max(1, int(duration // step) + (1 if duration % step else 0))
    return [round(i * step, 3) for i in range(count)]


def fit(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The size of a ``width``x``height`` picture scaled to fit in the box, aspect kept."""
    scale = min(box_w / width, box_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class _Frames:
    """Frames at ascending times, decoding as little as possible.

    A target is reached by seeking to the keyframe before it and decoding forward to
    the first frame at or after it, unless the decoder is already past that keyframe:
    then it just decodes on. Either way the frame chosen is the same, so the result
    depends only on the source.
    """

    def __init__(self, src: Any, stream: Any, path: str) -> None:
        self.src, self.stream, self.path = src, stream, path
        with reading(path):  # demuxing only (no decoding): cheap
            self.keyframes = [
                float(p.pts * p.time_base)
                for p in src.demux(stream)
                if p.is_keyframe and p.pts is not None
            ]
        self.keyframes.sort()
        self.decoded: Iterator[Any] | None = None
        self.last: Any = None

    def at(self, seconds: float) -> Any:
        """The first frame at or after ``seconds`` (the last frame if the stream ends before)."""
        if self.last is not None and self.last.time is not None:
            if self.last.time >= seconds - 1e-6:
                return self.last
            key = self.keyframes[max(0, bisect.bisect_right(self.keyframes, seconds) - 1)]
            if self.decoded is not None and key <= self.last.time:
                return self._forward(seconds)
        with reading(self.path):
            offset = int(seconds / self.stream.time_base)
            self.src.seek(offset, stream=self.stream, backward=True, any_frame=False)
            self.decoded = iter(self.src.decode(self.stream))
        return self._forward(seconds)

    def _forward(self, seconds: float) -> Any:
        assert self.decoded is not None
        with reading(self.path):
            for frame in self.decoded:
                self.last = frame
                if frame.time is not None and frame.time >= seconds - 1e-6:
                    break
        if self.last is None:
            raise FatalJobError(f"source {self.path!r} is unreadable: no frame decodes")
        return self.last


@job_type(
    "generate_thumbnails",
    capability="media.thumbnails@1",
    invariants=MEDIA_INVARIANTS,
    asset="asset_uuid",
    source="source_path",
    output_key=lambda inputs: inputs.thumbnail_profile,
    engines=["av", "PIL"],
    retry=RetryPolicy(max_attempts=3, backoff=5.0),
)
def generate_thumbnails(inputs: ThumbnailInput, ctx: JobContext) -> ThumbnailOutput:
    """Render thumbnails of the source as the named profile says."""
    p = profiles.thumbnail(inputs.thumbnail_profile)
    ext = _EXTENSIONS[p.format]
    made: list[Thumbnail] = []
    src = open_source(inputs.source_path)
    with src:
        stream = video_stream(src, inputs.source_path)
        stream.thread_type = "AUTO"
        at = times(p, describe(src).duration_seconds)
        frames = _Frames(src, stream, inputs.source_path)
        for i, seconds in enumerate(at):
            frame = frames.at(seconds)
            size = fit(frame.width, frame.height, p.width, p.height)
            name = f"thumb_{i:04d}.{ext}"
            with writing(name):
                image = frame.reformat(size[0], size[1], "rgb24").to_image()
                options: dict[str, Any] = {} if p.format == "png" else {"quality": p.quality}
                image.save(ctx.staging_dir / name, format=p.format.upper(), **options)
            made.append(Thumbnail(file=name, time_seconds=seconds, width=size[0], height=size[1]))
            ctx.progress.update(i + 1, len(at))
    return ThumbnailOutput(thumbnails=made)
