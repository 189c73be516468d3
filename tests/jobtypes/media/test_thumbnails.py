"""generate_thumbnails, called as the plain function it is, on generated media."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from jobsys import FatalJobError, JobContext, RetryableJobError
from tasks.media import profiles
from tasks.media.thumbnails import ThumbnailInput, fit, generate_thumbnails, times
from tests.jobtypes.media import synth

MakeContext = Callable[..., JobContext]
ASSET = uuid.UUID("7f1d2c3b-0000-4000-8000-000000000002")


def thumbs_of(source: Path, profile: str = "strip_5") -> ThumbnailInput:
    return ThumbnailInput(asset_uuid=ASSET, source_path=str(source), thumbnail_profile=profile)


def test_count_profile_gives_evenly_spaced_images_of_the_profiles_size(
    clip: Path, make_context: MakeContext
) -> None:
    ctx = make_context()

    out = generate_thumbnails(thumbs_of(clip), ctx)

    assert [t.time_seconds for t in out.thumbnails] == [0.2, 0.6, 1.0, 1.4, 1.8]
    for thumb in out.thumbnails:
        with Image.open(ctx.staging_path / thumb.file) as image:
            assert image.format == "JPEG"
            # 320x240 fitted into the profile's 160x90 box keeps 4:3.
            assert image.size == (thumb.width, thumb.height) == (120, 90)
            red = image.convert("RGB").getpixel((60, 45))[0]
        # Each image is the frame at its time, not any frame.
        assert abs(red - synth.red_level(thumb.time_seconds)) <= 12
    assert ctx.progress.processed == 5  # type: ignore[attr-defined]


def test_interval_profile_takes_one_frame_per_interval_in_its_format(
    clip: Path, make_context: MakeContext
) -> None:
    ctx = make_context()

    out = generate_thumbnails(thumbs_of(clip, "every_10s"), ctx)

    (thumb,) = out.thumbnails  # a 2 s clip has one 10 s interval
    assert (thumb.file, thumb.time_seconds) == ("thumb_0000.webp", 0.0)
    with Image.open(ctx.staging_path / thumb.file) as image:
        assert (image.format, image.size) == ("WEBP", (240, 180))


def test_times_and_sizes_follow_the_profile() -> None:
    every_10s = profiles.thumbnail("every_10s")
    assert times(every_10s, 35.0) == [0.0, 10.0, 20.0, 30.0]
    assert times(profiles.thumbnail("poster"), 60.0) == [30.0]
    assert fit(1920, 1080, 160, 90) == (160, 90)
    assert fit(1080, 1920, 160, 90) == (51, 90)


@pytest.mark.parametrize("source", ["truncated", "not_media", "tone_wav"])
def test_an_unreadable_source_or_one_without_pictures_is_fatal(
    source: str, request: pytest.FixtureRequest, make_context: MakeContext
) -> None:
    with pytest.raises(FatalJobError, match="unreadable|no video track"):
        generate_thumbnails(thumbs_of(request.getfixturevalue(source)), make_context())


def test_a_rendering_error_is_retryable(clip: Path, make_context: MakeContext) -> None:
    ctx = make_context()
    (ctx.staging_dir / "thumb_0002.jpg").mkdir()  # the third image cannot be written

    with pytest.raises(RetryableJobError, match="encoding thumb_0002.jpg failed"):
        generate_thumbnails(thumbs_of(clip), ctx)


def test_a_profile_needs_exactly_one_of_count_and_interval() -> None:
    with pytest.raises(ValueError, match="exactly one of count and interval_seconds"):
        profiles.ThumbnailProfile(width=10, height=10)
    with pytest.raises(ValueError, match="unknown thumbnail profile 'contact_sheet'"):
        thumbs_of(Path("/x.mp4"), "contact_sheet")


def test_the_same_job_twice_gives_byte_identical_images(
    clip: Path, make_context: MakeContext
) -> None:
    runs = []
    for _ in range(2):
        ctx = make_context()
        out = generate_thumbnails(thumbs_of(clip), ctx)
        runs.append([(ctx.staging_path / t.file).read_bytes() for t in out.thumbnails])
    assert runs[0] == runs[1]
