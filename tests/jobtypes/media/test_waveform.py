"""generate_audio_waveform, called as the plain function it is, on generated media."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from jobsys import FatalJobError, JobContext
from tasks.media.waveform import WaveformInput, generate_audio_waveform, peaks
from tests.jobtypes.media import synth

MakeContext = Callable[..., JobContext]
ASSET = uuid.UUID("7f1d2c3b-0000-4000-8000-000000000003")


def waveform_of(source: Path) -> WaveformInput:
    return WaveformInput(asset_uuid=ASSET, source_path=str(source))


def read(ctx: JobContext) -> dict[str, object]:
    data: dict[str, object] = json.loads((ctx.staging_path / "waveform.json").read_text())
    return data


@pytest.mark.parametrize("source", ["clip", "tone_wav"])
def test_the_peaks_follow_the_tones_amplitude(
    source: str, request: pytest.FixtureRequest, make_context: MakeContext
) -> None:
    ctx = make_context()

    out = generate_audio_waveform(waveform_of(request.getfixturevalue(source)), ctx)

    doc = read(ctx)
    assert {k: doc[k] for k in ("version", "channels", "sample_rate", "samples_per_pixel")} == {
        "version": 2,
        "channels": 1,
        "sample_rate": synth.SAMPLE_RATE,
        "samples_per_pixel": 256,
    }
    assert doc["bits"] == 16 and doc["length"] == out.waveform_data.length
    data = np.array(doc["data"]).reshape(-1, 2)
    assert len(data) == doc["length"] >= synth.SAMPLE_RATE * synth.SECONDS // 256
    middle = int(synth.SAMPLE_RATE * synth.SECONDS / 2 / 256)
    quiet, loud = data[5 : middle - 5], data[middle + 5 : 2 * middle - 5]
    for part, amplitude in ((quiet, synth.AMPLITUDES[0]), (loud, synth.AMPLITUDES[1])):
        assert np.median(part[:, 1]) == pytest.approx(amplitude * 32767, rel=0.08)
        assert np.median(part[:, 0]) == pytest.approx(-amplitude * 32767, rel=0.08)
        assert (part[:, 0] < 0).all() and (part[:, 1] > 0).all()


def test_the_waveform_is_derived_identically_every_time(
    clip: Path, make_context: MakeContext
) -> None:
    first, second = make_context(), make_context()
    generate_audio_waveform(waveform_of(clip), first)
    generate_audio_waveform(waveform_of(clip), second)
    assert (first.staging_path / "waveform.json").read_bytes() == (
        second.staging_path / "waveform.json"
    ).read_bytes()


def test_peaks_are_min_and_max_per_pixel_with_a_short_last_pixel() -> None:
    samples = np.array([1, -2, 3, 4, -5, 0, 7], dtype=np.int16)
    assert peaks(samples, 3).tolist() == [-2, 3, -5, 4, 7, 7]


def test_a_source_without_audio_is_fatal(silent_clip: Path, make_context: MakeContext) -> None:
    with pytest.raises(FatalJobError, match="has no audio track"):
        generate_audio_waveform(waveform_of(silent_clip), make_context())


@pytest.mark.parametrize("source", ["truncated", "not_media"])
def test_an_unreadable_source_is_fatal(
    source: str, request: pytest.FixtureRequest, make_context: MakeContext
) -> None:
    with pytest.raises(FatalJobError, match="unreadable"):
        generate_audio_waveform(waveform_of(request.getfixturevalue(source)), make_context())
