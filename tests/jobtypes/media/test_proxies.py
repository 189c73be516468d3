"""generate_video_proxies, called as the plain function it is, on generated media."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import pytest
from pydantic import ValidationError

from jobsys import FatalJobError, JobContext, RetryableJobError
from tasks.media.proxies import ProxyInput, frame_size, generate_video_proxies
from tests.jobtypes.media import synth

MakeContext = Callable[..., JobContext]
ASSET = uuid.UUID("7f1d2c3b-0000-4000-8000-000000000001")


def proxy_of(source: Path, profile: str = "h264_180p") -> ProxyInput:
    return ProxyInput(asset_uuid=ASSET, source_path=str(source), proxy_profile=profile)


def test_the_proxy_decodes_at_the_profiles_size_with_every_frame_and_the_audio(
    clip: Path, make_context: MakeContext
) -> None:
    ctx = make_context("generate_video_proxies")

    out = generate_video_proxies(proxy_of(clip), ctx)

    (proxy,) = out.proxy_files
    # The 4:3 source fitted in the profile's 320x180 box: 240x180, not stretched.
    assert (proxy.file, proxy.width, proxy.height) == ("proxy_h264_180p.mp4", 240, 180)
    path = ctx.staging_path / proxy.file
    assert proxy.size_bytes == path.stat().st_size
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert audio.codec_context.sample_rate == 48000
        frames = list(container.decode(video=0))
    assert {(f.width, f.height) for f in frames} == {(240, 180)}
    assert len(frames) == synth.FPS * synth.SECONDS
    # The picture is the source's, scaled: the last frame is the reddest.
    first, last = (f.to_ndarray(format="rgb24")[:, :, 0].mean() for f in (frames[0], frames[-1]))
    assert last - first > 150


def test_technical_metadata_describes_the_source(clip: Path, make_context: MakeContext) -> None:
    meta = generate_video_proxies(proxy_of(clip), make_context()).technical_metadata

    assert meta.duration_seconds == pytest.approx(synth.SECONDS, abs=0.1)
    assert (meta.video_codec, meta.width, meta.height, meta.frame_rate) == ("h264", 320, 240, 10)
    assert (meta.audio_codec, meta.audio_channels, meta.audio_sample_rate) == ("aac", 1, 16000)
    assert [(s.index, s.type) for s in meta.streams] == [(0, "video"), (1, "audio")]


def test_the_same_job_twice_gives_byte_identical_proxies(
    clip: Path, make_context: MakeContext
) -> None:
    digests = []
    for _ in range(2):
        ctx = make_context()
        (proxy,) = generate_video_proxies(proxy_of(clip), ctx).proxy_files
        digests.append(hashlib.sha256((ctx.staging_path / proxy.file).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_a_source_without_audio_gets_a_proxy_without_audio(
    silent_clip: Path, make_context: MakeContext
) -> None:
    ctx = make_context()
    out = generate_video_proxies(proxy_of(silent_clip), ctx)

    assert out.proxy_files[0].audio_codec is None
    assert out.technical_metadata.audio_codec is None
    with av.open(str(ctx.staging_path / out.proxy_files[0].file)) as container:
        assert len(container.streams.audio) == 0
        assert container.streams.video[0].codec_context.height == 180


@pytest.mark.parametrize("source", ["truncated", "not_media", "missing", "tone_wav"])
def test_an_unreadable_source_or_one_without_video_is_fatal(
    source: str, request: pytest.FixtureRequest, tmp_path: Path, make_context: MakeContext
) -> None:
    path = tmp_path / "gone.mp4" if source == "missing" else request.getfixturevalue(source)
    ctx = make_context()

    with pytest.raises(FatalJobError, match="unreadable|no video track") as caught:
        generate_video_proxies(proxy_of(path), ctx)
    assert str(path) in str(caught.value)
    assert not any(ctx.staging_path.glob("*.mp4")), "no half-written proxy is left behind"


def test_the_proxy_keeps_the_sources_display_shape() -> None:
    assert frame_size(1920, 1080, None, (640, 360)) == (640, 360)
    assert frame_size(1080, 1920, None, (640, 360)) == (202, 360)
    assert frame_size(720, 576, Fraction(16, 15), (640, 360)) == (480, 360)  # PAL 4:3
    assert frame_size(1440, 1080, Fraction(4, 3), (1280, 720)) == (1280, 720)  # HDV 16:9


def test_an_encoding_error_is_retryable(clip: Path, make_context: MakeContext) -> None:
    ctx = make_context()
    (ctx.staging_dir / "proxy_h264_180p.mp4").mkdir()  # the output cannot be written

    with pytest.raises(RetryableJobError, match="encoding proxy_h264_180p.mp4 failed"):
        generate_video_proxies(proxy_of(clip), ctx)


def test_inputs_name_a_known_profile_and_an_absolute_source(clip: Path) -> None:
    with pytest.raises(ValidationError, match="unknown proxy profile 'h264_8k'.*h264_360p"):
        proxy_of(clip, "h264_8k")
    with pytest.raises(ValidationError, match="source_path must be absolute"):
        ProxyInput(asset_uuid=ASSET, source_path="clip.mp4")
    with pytest.raises(ValidationError, match="asset_uuid"):
        ProxyInput.model_validate({"source_path": str(clip)})
