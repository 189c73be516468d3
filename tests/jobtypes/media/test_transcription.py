"""transcribe_audio, called as the plain function it is, on speech made by espeak-ng."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from jobsys import FatalJobError, JobContext, RetryableJobError
from tasks.media import speech
from tasks.media.transcription import TranscriptionInput, transcribe_audio
from tests.jobtypes.media.conftest import SPOKEN

MakeContext = Callable[..., JobContext]
ASSET = uuid.UUID("7f1d2c3b-0000-4000-8000-000000000004")


def transcription_of(source: Path, **extra: str) -> TranscriptionInput:
    return TranscriptionInput(asset_uuid=ASSET, source_path=str(source), **extra)


def word_error_rate(reference: list[str], heard: list[str]) -> float:
    """Levenshtein distance over words, divided by the reference's length."""
    row = list(range(len(heard) + 1))
    for i, ref in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, word in enumerate(heard, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ref != word))
    return row[-1] / len(reference)


def test_the_transcript_contains_the_spoken_words_with_timings(
    speech_wav: Path, make_context: MakeContext
) -> None:
    ctx = make_context()

    out = transcribe_audio(transcription_of(speech_wav, language="en"), ctx)

    heard = out.transcript_text.split()
    assert {"weather", "nice", "today"} <= set(heard), out.transcript_text
    assert word_error_rate(SPOKEN.split(), heard) <= 0.2
    assert [s.text for s in out.segments] == heard
    starts = [s.start_ms for s in out.segments]
    assert starts == sorted(starts)
    assert all(0 <= s.start_ms < s.end_ms <= 3000 for s in out.segments)
    assert out.confidence is not None and 0 < out.confidence <= 1
    assert (out.language, out.engine) == ("en-us", "pocketsphinx")
    saved = json.loads((ctx.staging_path / "transcript.json").read_text())
    assert saved["transcript_text"] == out.transcript_text


def test_the_same_audio_gives_the_same_transcript(
    speech_wav: Path, make_context: MakeContext
) -> None:
    first = transcribe_audio(transcription_of(speech_wav), make_context())
    second = transcribe_audio(transcription_of(speech_wav), make_context())
    assert first == second


def test_a_source_without_audio_is_fatal(silent_clip: Path, make_context: MakeContext) -> None:
    with pytest.raises(FatalJobError, match="has no audio track"):
        transcribe_audio(transcription_of(silent_clip), make_context())


def test_a_language_the_engine_lacks_is_fatal(tone_wav: Path, make_context: MakeContext) -> None:
    with pytest.raises(FatalJobError, match="language 'fr' is not supported by pocketsphinx"):
        transcribe_audio(transcription_of(tone_wav, language="fr"), make_context())


@pytest.fixture
def engine_not_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``import pocketsphinx`` fail in this process, as on a machine without it."""
    speech.engine.cache_clear()
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    yield
    speech.engine.cache_clear()


@pytest.mark.usefixtures("engine_not_installed")
def test_an_unavailable_engine_is_retryable(tone_wav: Path, make_context: MakeContext) -> None:
    with pytest.raises(RetryableJobError, match="pocketsphinx is not installed"):
        transcribe_audio(transcription_of(tone_wav), make_context())


def test_an_unknown_profile_or_a_malformed_language_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown transcription profile 'whisper'"):
        transcription_of(Path("/a.wav"), transcription_profile="whisper")
    with pytest.raises(ValidationError, match="language"):
        transcription_of(Path("/a.wav"), language="../en")
