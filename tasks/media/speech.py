"""Speech engines behind one small interface, so another (e.g. Whisper) can be added.

An engine takes mono signed 16-bit samples at its ``sample_rate`` and returns a
``Transcript``. ``engine(name)`` builds one; an engine that is not installed or
whose model does not load raises ``RetryableJobError`` (seed 003: engine
unavailable is retryable). ``ENGINE_VERSION`` names the output's shape: when an
engine's output changes incompatibly, bump it and ``speech.transcription@N``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from jobsys import FatalJobError, RetryableJobError


@dataclass(frozen=True)
class Segment:
    """A span of recognized speech."""

    start_ms: int
    end_ms: int
    text: str
    confidence: float


@dataclass(frozen=True)
class Transcript:
    """What an engine heard."""

    text: str
    segments: list[Segment]
    confidence: float | None


class SpeechEngine(Protocol):
    """Transcribes mono int16 samples at ``sample_rate`` Hz."""

    name: str
    sample_rate: int
    languages: tuple[str, ...]

    def transcribe(self, samples: Any, language: str) -> Transcript:
        """The transcript of ``samples`` (a numpy int16 array)."""
        ...


#: pocketsphinx's decoder runs at 100 frames per second
_FRAMES_PER_SECOND = 100
#: tokens that mark silence or noise, not words
_NOT_WORDS = {"<s>", "</s>", "<sil>", "[noise]", "<unk>"}


class PocketSphinx:
    """CMU PocketSphinx 5 with the en-us acoustic model and language model its wheel ships."""

    name = "pocketsphinx"
    sample_rate = 16_000
    languages: tuple[str, ...] = ("en-us",)

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise RetryableJobError(
                "speech engine pocketsphinx is not installed (pip install jobsys[speech])"
            ) from exc
        try:
            self._decoder = Decoder(samprate=self.sample_rate, logfn="/dev/null")
        except (RuntimeError, OSError, ValueError) as exc:
            raise RetryableJobError(f"speech engine pocketsphinx did not load: {exc}") from exc

    def transcribe(self, samples: Any, language: str) -> Transcript:
        """Decode the whole recording as one utterance; one segment per recognized word."""
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(samples.tobytes(), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        segments = []
        for seg in decoder.seg() if hyp is not None else []:
            word = seg.word.split("(")[0]  # "word(2)" is an alternative pronunciation
            if word.lower() in _NOT_WORDS or word.startswith("++") or not word:
                continue
            segments.append(
                Segment(
                    start_ms=seg.start_frame * 1000 // _FRAMES_PER_SECOND,
                    end_ms=(seg.end_frame + 1) * 1000 // _FRAMES_PER_SECOND,
                    text=word,
                    confidence=round(float(seg.prob), 4),
                )
            )
        text = " ".join(s.text for s in segments)
        confidence = (
            round(sum(s.confidence for s in segments) / len(segments), 4) if segments else None
        )
        return Transcript(text=text, segments=segments, confidence=confidence)


_ENGINES: dict[str, type[PocketSphinx]] = {"pocketsphinx": PocketSphinx}


@cache
def engine(name: str) -> SpeechEngine:
    """The engine ``name``, loaded once per process (loading a model takes a while)."""
    cls = _ENGINES.get(name)
    if cls is None:
        raise FatalJobError(f"unknown speech engine {name!r} (known: {', '.join(_ENGINES)})")
    return cls()
