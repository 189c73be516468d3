"""Media and speech job types on real, separate worker processes (Redis, PostgreSQL).

A transcription waits QUEUED while no worker serves ``speech.transcription@1`` and
runs once one starts; a rerun on an unchanged source is recorded SKIPPED; an
unreadable source fails at once, without retries.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from jobsys.client import Client
from jobsys.lifecycle import JobState, RunStatus
from jobsys.testing import WorkerProcess
from tests.e2e._cli import run_jobsys
from tests.jobtypes.media import synth

pytestmark = [pytest.mark.integration, pytest.mark.slow]

StartWorker = Callable[..., WorkerProcess]
MEDIA = ["media.proxies.video@1", "media.thumbnails@1", "audio.waveform@1"]
ASSET = "0b9f6a8e-5c1d-4e2f-8a3b-000000000010"


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    """A clip with a tone and a spoken sentence, in a folder of the test's own."""
    folder = tmp_path / "sources"
    folder.mkdir()
    if shutil.which("espeak-ng") is None and os.environ.get("CI") != "true":
        pytest.skip("espeak-ng is not installed (.ci/run installs it)")
    return {
        "clip": synth.make_clip(folder / "clip.mp4"),
        "speech": synth.speak("the weather is nice today", folder / "speech.wav"),
    }


def test_transcription_waits_for_a_speech_worker_while_media_jobs_run(
    client: Client,
    start_worker: StartWorker,
    sources: dict[str, Path],
    jobsys_env: dict[str, str],
    tmp_path: Path,
) -> None:
    start_worker(MEDIA)
    heard = client.submit("transcribe_audio", asset_uuid=ASSET, source_path=str(sources["speech"]))
    proxy = client.submit(
        "generate_video_proxies",
        asset_uuid=ASSET,
        source_path=str(sources["clip"]),
        proxy_profile="h264_180p",
    )

    assert proxy.wait(60) == JobState.COMPLETED
    assert heard.status() == JobState.QUEUED and heard.runs() == []
    infos = {i.capability: i for i in client.capabilities()}
    assert infos["speech.transcription@1"].workers == []
    assert infos["speech.transcription@1"].queued == 1
    assert len(infos["media.proxies.video@1"].workers) == 1
    shown = run_jobsys(["jobs", "show", heard.id], tmp_path, **jobsys_env)
    assert "waiting for capability speech.transcription@1 (no worker serves it)" in shown.stdout

    speech_worker = start_worker(["speech.transcription@1"])

    assert heard.wait(60) == JobState.COMPLETED
    (run,) = heard.runs()
    assert run.worker_id.startswith(speech_worker.name + ":")
    assert {"weather", "nice", "today"} <= set(heard.result().transcript_text.split())  # type: ignore[attr-defined]
    folder = Path(client.job(heard.id).output_path)
    assert folder.parts[-4:] == (ASSET, "default", "auto", "v1")
    assert json.loads((folder / "transcript.json").read_text())["engine"] == "pocketsphinx"


def test_a_rerun_on_an_unchanged_source_is_recorded_skipped(
    client: Client, start_worker: StartWorker, sources: dict[str, Path]
) -> None:
    start_worker(["audio.waveform@1"])
    params = {"asset_uuid": ASSET, "source_path": str(sources["clip"])}

    first = client.submit("generate_audio_waveform", **params)
    assert first.wait(60) == JobState.COMPLETED
    second = client.submit("generate_audio_waveform", **params)
    assert second.wait(60) == JobState.SKIPPED

    (run,) = second.runs()
    assert run.status == RunStatus.SKIPPED
    assert run.artifacts["duplicate_of"] == first.id
    assert second.result() == first.result()
    output_path = client.job(first.id).output_path
    assert client.job(second.id).output_path == output_path
    assert (Path(output_path) / "waveform.json").is_file()

    os.utime(sources["clip"])  # touched: no longer the same input
    third = client.submit("generate_audio_waveform", **params)
    assert third.wait(60) == JobState.COMPLETED
    assert client.job(third.id).output_path == output_path


def test_an_unreadable_source_fails_once_without_retry(
    client: Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    start_worker(["media.thumbnails@1"])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0" * 4096)

    job = client.submit("generate_thumbnails", asset_uuid=ASSET, source_path=str(broken))

    assert job.wait(60) == JobState.FAILED
    (run,) = job.runs()
    assert run.error_type == "FatalJobError"
    assert "is unreadable" in run.error
