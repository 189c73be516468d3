"""Media sources generated once per session: a clip with a tone, one without audio,
a tone-only WAV, a truncated file, bytes that are not media, and spoken words."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.jobtypes.media import synth

#: the sentence the speech fixture says (pocketsphinx transcribes it exactly, see DESIGN.md)
SPOKEN = "the weather is nice today"


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's generated media live."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """2 s of 320x240 H.264 at 10 frames/s with an AAC tone whose amplitude doubles halfway."""
    return synth.make_clip(media_dir / "clip.mp4")


@pytest.fixture(scope="session")
def silent_clip(media_dir: Path) -> Path:
    """The same picture with no audio track."""
    return synth.make_clip(media_dir / "silent.mp4", audio=False)


@pytest.fixture(scope="session")
def tone_wav(media_dir: Path) -> Path:
    """The tone alone, as a WAV file (audio, no video)."""
    return synth.make_tone_wav(media_dir / "tone.wav")


@pytest.fixture(scope="session")
def truncated(clip: Path, media_dir: Path) -> Path:
    """The clip cut in half (its MP4 index is lost)."""
    return synth.truncate(clip, media_dir / "truncated.mp4")


@pytest.fixture(scope="session")
def not_media(media_dir: Path) -> Path:
    """Random bytes named like a video."""
    path = media_dir / "noise.mp4"
    path.write_bytes(os.urandom(64 * 1024))
    return path


@pytest.fixture(scope="session")
def speech_wav(media_dir: Path) -> Path:
    """``SPOKEN`` said by espeak-ng; skipped locally, failed under CI=true, without it."""
    if shutil.which("espeak-ng") is None:
        message = "espeak-ng is not installed (.ci/run installs it: apt-get install espeak-ng)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: a missing dependency is a failure)")
        pytest.skip(message)
    return synth.speak(SPOKEN, media_dir / "speech.wav")
