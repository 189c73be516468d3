"""``generate_video_proxies`` (``media.proxies.video@1``): a proxy per a named profile.

Decodes the source with PyAV (FFmpeg), scales each frame to the profile's size and
encodes it with the profile's codec and bitrate; the audio, when there is any, is
resampled and encoded alongside. The MP4 is written ``bitexact`` (no library
version or time in the header) and x264 is deterministic, so the same source and
profile give a byte-identical file on the same PyAV/FFmpeg build.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, field_validator

from jobsys import JobContext, RetryPolicy, job_type
from tasks.media import profiles
from tasks.media._invariants import MEDIA_INVARIANTS
from tasks.media._probe import (
    TechnicalMetadata,
    describe,
    open_source,
    reading,
    video_stream,
    writing,
)
from tasks.media._source import AssetSource

if TYPE_CHECKING:
    import av.container


class ProxyInput(AssetSource):
    """The asset, its source (read-only) and the proxy profile to encode."""

    proxy_profile: str = "h264_360p"

    @field_validator("proxy_profile")
    @classmethod
    def _known(cls, name: str) -> str:
        profiles.proxy(name)
        return name


class ProxyFile(BaseModel):
    """One proxy file, relative to the job's output folder."""

    file: str
    profile: str
    width: int
    height: int
    video_codec: str
    video_bitrate: int
    audio_codec: str | None
    size_bytes: int


class ProxyOutput(BaseModel):
    """The proxies and the source's technical metadata."""

    proxy_files: list[ProxyFile]
    technical_metadata: TechnicalMetadata

    def files(self) -> list[str]:
        """The files this output names."""
        return [p.file for p in self.proxy_files]


def frame_size(
    width: int, height: int, sar: Fraction | None, box: tuple[int, int]
) -> tuple[int, int]:
    """The proxy's size: the source's display shape fitted in ``box``, both sides even."""
    display_width = width * float(sar) if sar else float(width)
    scale = min(box[0] / display_width, box[1] / height)
    return (
        max(2, 2 * round(display_width * scale / 2)),
        max(2, 2 * round(height * scale / 2)),
    )


def _add_streams(
    out: av.container.OutputContainer,
    src_video: Any,
    src_audio: Any,
    p: profiles.ProxyProfile,
    size: tuple[int, int],
) -> tuple[Any, Any, Any]:
    import av

    rate = src_video.average_rate or src_video.guessed_rate or 25
    vout: Any = out.add_stream(p.video_codec, rate=rate)
    vout.width, vout.height, vout.pix_fmt = size[0], size[1], "yuv420p"
    vout.bit_rate = p.video_bitrate
    vout.options = {"preset": p.preset}
    vout.thread_type = "AUTO"
    if src_audio is None:
        return vout, None, None
    layout = "mono" if src_audio.codec_context.channels == 1 else "stereo"
    aout: Any = out.add_stream(p.audio_codec, rate=p.audio_sample_rate, layout=layout)
    aout.bit_rate = p.audio_bitrate
    fmt = aout.codec_context.format.name
    resampler = av.AudioResampler(
        format=fmt, layout=layout, rate=p.audio_sample_rate, frame_size=aout.frame_size or None
    )
    return vout, aout, resampler


def _transcode(
    src: av.container.InputContainer,
    path: str,
    target: Path,
    p: profiles.ProxyProfile,
    size: tuple[int, int],
) -> tuple[bool, int]:
    """Write the proxy; return (has audio, frames written)."""
    import av

    vin = video_stream(src, path)
    vin.thread_type = "AUTO"
    ain = src.streams.audio[0] if src.streams.audio else None
    scaler = av.video.reformatter.VideoReformatter()  # one scaling context for every frame
    frames = 0
    with writing(target.name):
        out = av.open(
            str(target),
            mode="w",
            options={"fflags": "+bitexact"},
            container_options={"movflags": "+faststart"},
        )
    with out:
        with writing(target.name):
            vout, aout, resampler = _add_streams(out, vin, ain, p, size)
        streams = [vin] if ain is None else [vin, ain]
        with reading(path):
            packets = src.demux(*streams)
        while True:
            with reading(path):
                packet = next(packets, None)
                decoded = packet.decode() if packet is not None else []
            if packet is None:
                break
            with writing(target.name):
                for frame in decoded:
                    if packet.stream is vin:
                        scaled = scaler.reformat(frame, size[0], size[1], "yuv420p")
                        out.mux(vout.encode(scaled))
                        frames += 1
                    elif resampler is not None:
                        for chunk in resampler.resample(frame):
                            out.mux(aout.encode(chunk))
        with writing(target.name):
            if resampler is not None:
                for chunk in resampler.resample(None):
                    out.mux(aout.encode(chunk))
                out.mux(aout.encode(None))
            out.mux(vout.encode(None))
    return ain is not None, frames


@job_type(
    "generate_video_proxies",
    capability="media.proxies.video@1",
    invariants=MEDIA_INVARIANTS,
    asset="asset_uuid",
    source="source_path",
    output_key=lambda inputs: inputs.proxy_profile,
    engines=["av"],
    retry=RetryPolicy(max_attempts=3, backoff=10.0, max_backoff=300.0),
)
def generate_video_proxies(inputs: ProxyInput, ctx: JobContext) -> ProxyOutput:
    """Encode a video proxy of the source with a named profile; report its metadata."""
    p = profiles.proxy(inputs.proxy_profile)
    src = open_source(inputs.source_path)
    with src:
        metadata = describe(src)
        video = video_stream(src, inputs.source_path)
        cc = video.codec_context
        size = frame_size(cc.width, cc.height, video.sample_aspect_ratio, (p.width, p.height))
        name = f"proxy_{inputs.proxy_profile}.{p.container}"
        target = ctx.staging_dir / name
        has_audio, frames = _transcode(src, inputs.source_path, target, p, size)
    ctx.logger.info("proxy %s: %d frames, %d bytes", name, frames, target.stat().st_size)
    proxy = ProxyFile(
        file=name,
        profile=inputs.proxy_profile,
        width=size[0],
        height=size[1],
        video_codec=p.video_codec,
        video_bitrate=p.video_bitrate,
        audio_codec=p.audio_codec if has_audio else None,
        size_bytes=target.stat().st_size,
    )
    return ProxyOutput(proxy_files=[proxy], technical_metadata=metadata)
