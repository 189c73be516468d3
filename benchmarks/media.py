"""Media benchmark: the media job types on a generated 60-second 1080p clip.

- proxy: ``generate_video_proxies`` (PyAV) vs the ``ffmpeg`` command line with the same
  settings (scale, codec, preset, bitrates, audio rate, faststart), each timed on the
  same source in this run; prints both speeds and ``ratio: <jobsys/ffmpeg speed>``;
- thumbnails per second (``generate_thumbnails``, profiles strip_5 and every_10s);
- waveform speed as a multiple of real time (``generate_audio_waveform``);
- transcription real-time factor (``transcribe_audio`` on espeak-ng speech), model
  loading timed apart.

The job types are called as plain functions (no broker, no store): this measures the
processing, which dominates media jobs. Needs ``ffmpeg`` (the clip and the baseline) and
``espeak-ng`` (the speech) on PATH.

    python benchmarks/media.py [--seconds 60] [--profile h264_360p] [--repeat 1]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobsys.testing import make_context  # noqa: E402
from tasks.media import profiles, speech  # noqa: E402
from tasks.media.proxies import ProxyInput, generate_video_proxies  # noqa: E402
from tasks.media.thumbnails import ThumbnailInput, generate_thumbnails  # noqa: E402
from tasks.media.transcription import TranscriptionInput, transcribe_audio  # noqa: E402
from tasks.media.waveform import WaveformInput, generate_audio_waveform  # noqa: E402

ASSET = uuid.UUID("00000000-0000-4000-8000-00000000be4c")
PASSAGE = (
    "the weather is nice today. we walked to the market in the morning and bought bread, "
    "apples and cheese. in the afternoon the children played in the park near the river "
    "while their parents talked about the news. when the sun went down everybody went home "
    "and had dinner together."
)


def run(args: list[str]) -> None:
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL)


def make_clip(path: Path, seconds: int) -> None:
    """A 1920x1080 30 fps H.264 clip with a stereo 48 kHz tone (ffmpeg's test sources)."""
    run(
        ["ffmpeg", "-nostdin", "-y", "-v", "error"]
        + ["-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}"]
        + ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
        + ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
        + ["-c:a", "aac", "-b:a", "192k", "-ac", "2", "-shortest", str(path)]
    )


def ffmpeg_proxy(source: Path, target: Path, name: str) -> None:
    """The proxy profile ``name`` as an ffmpeg command line."""
    p = profiles.proxy(name)
    run(
        ["ffmpeg", "-nostdin", "-y", "-v", "error", "-i", str(source)]
        + ["-vf", f"scale={p.width}:{p.height}:flags=bilinear", "-pix_fmt", "yuv420p"]
        + ["-c:v", p.video_codec, "-preset", p.preset, "-b:v", str(p.video_bitrate)]
        + ["-c:a", p.audio_codec, "-b:a", str(p.audio_bitrate), "-ar", str(p.audio_sample_rate)]
        + ["-movflags", "+faststart", str(target)]
    )


def timed(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def bench_proxy(source: Path, work: Path, name: str, repeat: int, seconds: int) -> float:
    inputs = ProxyInput(asset_uuid=ASSET, source_path=str(source), proxy_profile=name)
    cli, ours = [], []
    generate_video_proxies(  # warm up: imports and codec initialisation, not measured
        ProxyInput(asset_uuid=ASSET, source_path=str(source), proxy_profile="h264_180p"),
        make_context(work / "warm-up"),
    )
    for i in range(repeat):  # alternate, so both see the same machine load
        cli.append(timed(ffmpeg_proxy, source, work / f"ffmpeg-{i}.mp4", name))
        ctx = make_context(work / f"proxy-{i}")
        ours.append(timed(generate_video_proxies, inputs, ctx))
    best_cli, best_ours = min(cli), min(ours)
    print(f"proxy ffmpeg CLI: {best_cli:.2f} s ({seconds / best_cli:.2f}x real time)")
    print(f"proxy jobsys:     {best_ours:.2f} s ({seconds / best_ours:.2f}x real time)")
    ratio = best_cli / best_ours
    print(f"ratio: {ratio:.2f}")
    print(f"proxy target (>= 0.8x ffmpeg CLI): {'target met' if ratio >= 0.8 else 'target missed'}")
    return ratio


def bench_thumbnails(source: Path, work: Path) -> None:
    for name in ("strip_5", "every_10s"):
        inputs = ThumbnailInput(asset_uuid=ASSET, source_path=str(source), thumbnail_profile=name)
        count, elapsed = 0, float("inf")
        for i in range(2):  # the first run also imports Pillow's encoders
            start = time.perf_counter()
            count = len(
                generate_thumbnails(inputs, make_context(work / f"t-{name}-{i}")).thumbnails
            )
            elapsed = min(elapsed, time.perf_counter() - start)
        print(f"thumbnails {name}: {count} in {elapsed:.2f} s, {count / elapsed:.1f} thumbnails/s")


def bench_waveform(source: Path, work: Path, seconds: int) -> float:
    inputs = WaveformInput(asset_uuid=ASSET, source_path=str(source))
    elapsed = min(  # the first run also imports numpy
        timed(generate_audio_waveform, inputs, make_context(work / f"waveform-{i}"))
        for i in range(3)
    )
    speed = seconds / elapsed
    print(f"waveform: {elapsed:.3f} s for {seconds} s of audio, {speed:.0f}x real time")
    print(f"waveform target (>= 50x real time): {'target met' if speed >= 50 else 'target missed'}")
    return speed


def bench_transcription(work: Path) -> None:
    wav = work / "speech.wav"
    run(["espeak-ng", "-v", "en-us+klatt", "-s", "120", "-w", str(wav), PASSAGE])
    import av

    with av.open(str(wav)) as container:
        duration = float(container.duration or 0) / 1_000_000
    load = timed(speech.engine, "pocketsphinx")
    inputs = TranscriptionInput(asset_uuid=ASSET, source_path=str(wav))
    start = time.perf_counter()
    out = transcribe_audio(inputs, make_context(work / "speech"))
    elapsed = time.perf_counter() - start
    print(f"transcription model load: {load:.2f} s (once per worker process)")
    print(
        f"transcription: {elapsed:.2f} s for {duration:.1f} s of speech, "
        f"real-time factor {elapsed / duration:.2f} ({len(out.segments)} words heard)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the generated clip")
    parser.add_argument("--profile", default="h264_360p", choices=profiles.names("proxy"))
    parser.add_argument("--repeat", type=int, default=1, help="proxy runs each (best is kept)")
    args = parser.parse_args()
    for tool in ("ffmpeg", "espeak-ng"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="jobsys-media-bench-") as tmp:
        work = Path(tmp)
        source = work / "clip-1080p.mp4"
        start = time.perf_counter()
        make_clip(source, args.seconds)
        size_mb = source.stat().st_size / 1e6
        print(
            f"source: {args.seconds} s 1920x1080 30 fps H.264 + AAC stereo, {size_mb:.0f} MB "
            f"(generated in {time.perf_counter() - start:.1f} s); proxy profile {args.profile}",
            flush=True,
        )
        bench_proxy(source, work, args.profile, args.repeat, args.seconds)
        bench_thumbnails(source, work)
        bench_waveform(source, work, args.seconds)
        bench_transcription(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
