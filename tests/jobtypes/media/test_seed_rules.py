"""Seed 003's rules as the code enforces them for the media job types: structure refused
at submit, source unchanged, no undocumented output, deterministic output location."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobsys import FatalJobError, JobContext
from jobsys.client import validate_inputs
from jobsys.errors import InputError
from jobsys.execution import invariants, placement
from jobsys.jobtypes import JobType, discover, spec_of
from tasks.media.proxies import ProxyInput, generate_video_proxies
from tasks.media.waveform import WaveformInput, generate_audio_waveform

MakeContext = Callable[..., JobContext]
ASSET = uuid.UUID("7f1d2c3b-0000-4000-8000-000000000005")

MEDIA = {
    "generate_video_proxies": "media.proxies.video@1",
    "generate_thumbnails": "media.thumbnails@1",
    "generate_audio_waveform": "audio.waveform@1",
    "transcribe_audio": "speech.transcription@1",
}


def test_the_media_job_types_are_registered_on_their_capabilities() -> None:
    registry = discover()
    for name, capability in MEDIA.items():
        spec = registry.get(name)
        assert str(spec.capability) == capability
        assert (spec.asset, spec.source) == ("asset_uuid", "source_path")
        names = [i.name for i in spec.invariants]
        assert {"source_unchanged", "outputs_documented", "outputs_recreatable"} <= set(names)
        assert spec.missing_engines() == []
    assert "pocketsphinx" in registry.get("transcribe_audio").engines


@pytest.mark.parametrize("missing", ["asset_uuid", "source_path"])
def test_a_job_missing_part_of_its_structure_is_refused_at_submit(missing: str) -> None:
    spec = spec_of(generate_video_proxies)
    inputs = {"asset_uuid": str(ASSET), "source_path": "/media/a.mp4"}
    del inputs[missing]
    with pytest.raises(InputError, match=f"input '{missing}': Field required"):
        validate_inputs(spec, inputs)


def run_with_invariants(spec: JobType[Any, Any], inputs: Any, ctx: JobContext, between: Any) -> Any:
    """What the runner does around the function: snapshots, the call, ``between()``, checks."""
    snapshots = invariants.before(spec, inputs, ctx)
    output = spec.fn(inputs, ctx)
    between()
    invariants.after(spec, inputs, output, ctx, snapshots)
    return output


def test_a_source_modified_during_the_run_violates_an_invariant(
    clip: Path, tmp_path: Path, make_context: MakeContext
) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(clip.read_bytes())
    spec = spec_of(generate_audio_waveform)
    inputs = WaveformInput(asset_uuid=ASSET, source_path=str(source))

    def append() -> None:
        with source.open("ab") as f:
            f.write(b"\0")

    with pytest.raises(FatalJobError, match="source_unchanged violated: .* changed .*size"):
        run_with_invariants(spec, inputs, make_context(), append)
    with pytest.raises(FatalJobError, match="source_unchanged violated: .* moved or deleted"):
        run_with_invariants(
            spec, inputs, make_context(), lambda: source.rename(source.with_suffix(".bak"))
        )


def test_an_untouched_source_passes_and_keeps_its_mtime(
    clip: Path, make_context: MakeContext
) -> None:
    before = os.stat(clip).st_mtime_ns
    spec = spec_of(generate_video_proxies)
    inputs = ProxyInput(asset_uuid=ASSET, source_path=str(clip), proxy_profile="h264_180p")

    run_with_invariants(spec, inputs, make_context(), lambda: None)

    assert os.stat(clip).st_mtime_ns == before


def test_an_undocumented_output_file_violates_an_invariant(
    clip: Path, make_context: MakeContext
) -> None:
    ctx = make_context()
    spec = spec_of(generate_audio_waveform)
    inputs = WaveformInput(asset_uuid=ASSET, source_path=str(clip))

    def leave_a_file() -> None:
        (ctx.staging_path / "debug.wav").write_bytes(b"RIFF")

    with pytest.raises(
        FatalJobError, match=r"outputs_documented violated: undocumented files \['debug.wav'\]"
    ):
        run_with_invariants(spec, inputs, ctx, leave_a_file)


def test_outputs_live_where_asset_job_type_profile_and_capability_version_say(
    tmp_path: Path,
) -> None:
    spec = spec_of(generate_video_proxies)
    inputs = ProxyInput(asset_uuid=ASSET, source_path="/m/a.mp4", proxy_profile="h264_720p")

    first = placement.output_location(tmp_path, spec, inputs, "job-1")
    second = placement.output_location(tmp_path, spec, inputs, "job-2")

    assert first == second == tmp_path / "generate_video_proxies" / str(ASSET) / "h264_720p" / "v1"
    waveform = spec_of(generate_audio_waveform)
    w_inputs = WaveformInput(asset_uuid=ASSET, source_path="/m/a.mp4")
    assert placement.output_location(tmp_path, waveform, w_inputs, "job-3").parts[-3:] == (
        str(ASSET),
        "default",
        "v1",
    )


def test_the_profiles_in_config_mirror_the_packaged_ones() -> None:
    root = Path(__file__).resolve().parents[3]
    packaged = root / "tasks" / "media" / "profiles.toml"
    assert (root / "config" / "media" / "profiles.toml").read_text() == packaged.read_text()
