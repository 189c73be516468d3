"""Media made for the tests with PyAV and numpy (no ffmpeg CLI), and speech with espeak-ng.

The synthetic clip is small on purpose: 320x240, 10 frames/s, 2 s. Frame ``i``'s red
level is ``255 * i / frames`` (so a thumbnail tells which frame it is) and its audio is
a 440 Hz tone whose amplitude doubles halfway (so the waveform's peaks can be checked).
"""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 10, 2.0
SAMPLE_RATE = 16_000
#: the tone's amplitude (of full scale) before and after the middle of the clip
AMPLITUDES = (0.25, 0.5)


def red_level(seconds: float) -> int:
    """The red level of the frame shown at ``seconds``."""
    frames = int(FPS * SECONDS)
    return 255 * min(int(round(seconds * FPS)), frames - 1) // frames


def _tone() -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * SECONDS)) / SAMPLE_RATE
    amplitude = np.where(t < SECONDS / 2, AMPLITUDES[0], AMPLITUDES[1])
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def make_clip(path: Path, *, audio: bool = True) -> Path:
    """Write the synthetic H.264/AAC MP4 (or video only) to ``path``."""
    frames = int(FPS * SECONDS)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = out.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio else None
        for i in range(frames):
            image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
            image[:, :, 0] = 255 * i // frames
            image[:, :, 1] = 128
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
        if sound is not None:
            tone = _tone()
            for start in range(0, len(tone), 1024):
                frame = av.AudioFrame.from_ndarray(
                    tone[None, start : start + 1024], format="flt", layout="mono"
                )
                frame.sample_rate, frame.pts = SAMPLE_RATE, start
                frame.time_base = Fraction(1, SAMPLE_RATE)
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
    return path


def make_tone_wav(path: Path) -> Path:
    """The clip's tone alone, as 16-bit PCM WAV (an audio-only source)."""
    with av.open(str(path), "w") as out:
        sound = out.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout="mono")
        samples = (_tone() * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    return path


def truncate(source: Path, path: Path) -> Path:
    """The first half of ``source``'s bytes: a download cut short."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def speak(text: str, path: Path) -> Path:
    """``text`` spoken by espeak-ng (en-us, klatt voice, 120 words/min) into a WAV file.

    DESIGN.md: pocketsphinx hears this voice best; the default voice loses words.
    """
    espeak = shutil.which("espeak-ng")
    assert espeak is not None, "espeak-ng is not installed"
    subprocess.run(
        [espeak, "-v", "en-us+klatt", "-s", "120", "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path
