"""``transcribe_audio`` (``speech.transcription@1``): the words spoken in a source.

The audio is decoded with PyAV, mixed to mono and resampled to the engine's rate,
then transcribed by the profile's engine (``speech``). The worker serves
``speech.transcription@1`` only where pocketsphinx is installed; elsewhere the job
waits QUEUED for such a worker, however long that takes (seed 003 §3.4). The
output is also written as ``transcript.json`` beside the job's other outputs.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from pydantic import BaseModel, Field, field_validator

from jobsys import FatalJobError, JobContext, RetryPolicy, job_type
from tasks.media import profiles, speech
from tasks.media._invariants import MEDIA_INVARIANTS, NO_DECISION
from tasks.media._probe import audio_stream, decode_mono_s16, open_source, writing
from tasks.media._source import AssetSource

FILE = "transcript.json"
_LANGUAGE_ALIASES = {"en": "en-us", "en-us": "en-us", "en_us": "en-us"}


class TranscriptionInput(AssetSource):
    """The asset, its source (read-only), and optionally a language and a profile."""

    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
    transcription_profile: str | None = None

    @field_validator("transcription_profile")
    @classmethod
    def _known(cls, name: str | None) -> str | None:
        if name is not None:
            profiles.transcription(name)
        return name


class TranscriptSegment(BaseModel):
    """A span of speech, in milliseconds from the start."""

    start_ms: int
    end_ms: int
    text: str


class TranscriptionOutput(BaseModel):
    """The transcript, its timed segments and the engine's confidence (0..1)."""

    transcript_text: str
    segments: list[TranscriptSegment]
    confidence: float | None
    language: str
    engine: str
    transcript_file: str = FILE

    def files(self) -> list[str]:
        """The files this output names."""
        return [self.transcript_file]


def _key(inputs: TranscriptionInput) -> str:
    return f"{inputs.transcription_profile or 'default'}/{inputs.language or 'auto'}"


@job_type(
    "transcribe_audio",
    capability="speech.transcription@1",
    invariants=[*MEDIA_INVARIANTS, NO_DECISION],
    asset="asset_uuid",
    source="source_path",
    output_key=_key,
    engines=["av", "numpy", "pocketsphinx"],
    retry=RetryPolicy(max_attempts=3, backoff=30.0, max_backoff=600.0),
    soft_time_limit=3600,
    time_limit=3660,
)
def transcribe_audio(inputs: TranscriptionInput, ctx: JobContext) -> TranscriptionOutput:
    """Transcribe the source's speech with the profile's engine."""
    profile = profiles.transcription(inputs.transcription_profile or "default")
    wanted = (inputs.language or profile.language).lower()
    language = _LANGUAGE_ALIASES.get(wanted, wanted)
    src = open_source(inputs.source_path)
    with src:
        stream = audio_stream(src, inputs.source_path)
        eng = speech.engine(profile.engine)  # before decoding: an absent engine is retryable
        if language not in eng.languages:
            raise FatalJobError(
                f"language {wanted!r} is not supported by {eng.name} "
                f"(supported: {', '.join(eng.languages)})"
            )
        samples = decode_mono_s16(src, stream, eng.sample_rate, inputs.source_path)
    transcript = eng.transcribe(samples, language)
    output = TranscriptionOutput(
        transcript_text=transcript.text,
        segments=[
            TranscriptSegment(start_ms=s.start_ms, end_ms=s.end_ms, text=s.text)
            for s in transcript.segments
        ],
        confidence=transcript.confidence,
        language=language,
        engine=eng.name,
    )
    with writing(FILE):
        document = {
            **output.model_dump(mode="json"),
            "words": [asdict(s) for s in transcript.segments],
        }
        (ctx.staging_dir / FILE).write_text(json.dumps(document, indent=1), encoding="utf-8")
    ctx.logger.info(
        "transcribed %.1fs of audio: %d words",
        len(samples) / eng.sample_rate,
        len(transcript.segments),
    )
    return output
