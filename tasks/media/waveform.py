"""``generate_audio_waveform`` (``audio.waveform@1``): min/max peaks for waveform displays.

The output file follows the BBC audiowaveform JSON format, version 2, so players
that read audiowaveform's output (peaks.js, ...) read it as is::

    {"version": 2, "channels": 1, "sample_rate": 48000, "samples_per_pixel": 256,
     "bits": 16, "length": <pixels>, "data": [min0, max0, min1, max1, ...]}

The audio is decoded and mixed down to one channel of signed 16-bit samples at the
source's sample rate; each pixel holds the minimum and maximum sample of
``samples_per_pixel`` consecutive samples (the last pixel may cover fewer).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from jobsys import JobContext, RetryPolicy, job_type
from tasks.media._invariants import MEDIA_INVARIANTS
from tasks.media._probe import audio_stream, decode_mono_s16, open_source, writing
from tasks.media._source import AssetSource

SAMPLES_PER_PIXEL = 256
BITS = 16
FILE = "waveform.json"


class WaveformInput(AssetSource):
    """The asset and its source (read-only)."""


class WaveformData(BaseModel):
    """Where the peaks are, and the header of that file."""

    file: str
    format: str = "audiowaveform-json-v2"
    sample_rate: int
    samples_per_pixel: int
    bits: int
    channels: int
    length: int


class WaveformOutput(BaseModel):
    """The waveform."""

    waveform_data: WaveformData

    def files(self) -> list[str]:
        """The files this output names."""
        return [self.waveform_data.file]


def peaks(samples: Any, samples_per_pixel: int) -> Any:
    """Interleaved ``[min, max, ...]`` of int16 ``samples``, one pair per pixel."""
    import numpy as np

    pixels = -(-len(samples) // samples_per_pixel)
    padded = np.empty(pixels * samples_per_pixel, dtype=np.int16)
    padded[: len(samples)] = samples
    if len(samples) < len(padded):  # the last, partial pixel repeats its own last sample
        padded[len(samples) :] = samples[-1]
    blocks = padded.reshape(pixels, samples_per_pixel)
    out = np.empty(pixels * 2, dtype=np.int16)
    out[0::2] = blocks.min(axis=1)
    out[1::2] = blocks.max(axis=1)
    return out


@job_type(
    "generate_audio_waveform",
    capability="audio.waveform@1",
    invariants=MEDIA_INVARIANTS,
    asset="asset_uuid",
    source="source_path",
    engines=["av", "numpy"],
    retry=RetryPolicy(max_attempts=3, backoff=5.0),
)
def generate_audio_waveform(inputs: WaveformInput, ctx: JobContext) -> WaveformOutput:
    """Compute min/max peaks of the source's audio in audiowaveform's JSON format."""
    src = open_source(inputs.source_path)
    with src:
        stream = audio_stream(src, inputs.source_path)
        rate = stream.codec_context.sample_rate
        samples = decode_mono_s16(src, stream, rate, inputs.source_path)
    data = peaks(samples, SAMPLES_PER_PIXEL) if len(samples) else []
    header = {
        "version": 2,
        "channels": 1,
        "sample_rate": rate,
        "samples_per_pixel": SAMPLES_PER_PIXEL,
        "bits": BITS,
        "length": len(data) // 2,
    }
    with writing(FILE):
        with (ctx.staging_dir / FILE).open("w", encoding="utf-8") as out:
            json.dump({**header, "data": [int(v) for v in data]}, out, separators=(",", ":"))
    ctx.logger.info("waveform: %d samples at %d Hz, %d pixels", len(samples), rate, len(data) // 2)
    return WaveformOutput(
        waveform_data=WaveformData(
            file=FILE,
            sample_rate=rate,
            samples_per_pixel=SAMPLES_PER_PIXEL,
            bits=BITS,
            channels=1,
            length=len(data) // 2,
        )
    )
