"""The loopback cluster: compose.yaml's services as real processes on Redis and PostgreSQL.

One cluster (migrate, api, beat, the three worker groups, flower) runs a job of each
group to completion, answers on the API and on Flower (with basic auth), shows every
service healthy in ``jobsys cluster status``, and leaves no process behind when it is
brought down. A service that dies while the cluster starts stops everything started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from jobsys.client import Client
from jobsys.cluster import Cluster, ClusterError
from jobsys.lifecycle import JobState
from tests.jobtypes.media import synth

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AUTH = ("ops", "cluster-test-password")
ASSET = "0b6a2a58-2b7f-4d0e-9f0e-4c1b2a3d4e5f"


def _cluster_env(jobsys_env: dict[str, str]) -> dict[str, str]:
    return {
        **jobsys_env,
        "JOBSYS_FLOWER_BASIC_AUTH": ":".join(AUTH),
        "JOBSYS_API_TOKENS": "[]",
        "JOBSYS_WORKER_CONCURRENCY": "1",
    }


def _running_under(home: Path) -> list[psutil.Process]:
    """Every live process whose JOBSYS_HOME is ``home``: the cluster's, found without it."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("JOBSYS_HOME") == str(home) and proc.pid != os.getpid():
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
        except psutil.Error:
            continue
    return found


def test_cluster_runs_a_job_of_each_group_and_leaves_nothing_behind(
    jobsys_env: dict[str, str], client: Client, tmp_path: Path
) -> None:
    env = _cluster_env(jobsys_env)
    home = Path(jobsys_env["JOBSYS_HOME"])
    folder = tmp_path / "scanned"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("bb")
    wav = synth.make_tone_wav(tmp_path / "tone.wav")

    cluster = Cluster(home=home, env=env, compose_file=ROOT / "compose.yaml")
    services = ["api", "beat", "worker-data", "worker-media", "worker-speech", "flower"]
    with cluster:
        cluster.up(timeout=50)
        assert all(cluster.healthy(s) for s in services)
        assert len(cluster.worker_children("worker-data")) == 1  # JOBSYS_WORKER_CONCURRENCY

        jobs = {
            "noop": client.submit("jobsys.noop"),
            "scan": client.submit("data.scan", root=str(folder)),
            "waveform": client.submit(
                "generate_audio_waveform", asset_uuid=ASSET, source_path=str(wav)
            ),
            "speech": client.submit("transcribe_audio", asset_uuid=ASSET, source_path=str(wav)),
        }
        for name, job in jobs.items():
            assert job.wait(timeout=30) is JobState.COMPLETED, (name, job.runs())
        assert jobs["scan"].result().model_dump()["files_total"] == 2  # type: ignore[union-attr]

        api = f"http://127.0.0.1:{cluster.ports('api')['JOBSYS_API_PORT']}"
        assert httpx.get(f"{api}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{api}/v1/jobs", timeout=5).status_code == 401  # no token configured
        flower = f"http://127.0.0.1:{cluster.ports('flower')['JOBSYS_FLOWER_PORT']}"
        assert httpx.get(f"{flower}/api/workers", timeout=5).status_code == 401
        workers = httpx.get(f"{flower}/api/workers?refresh=1", auth=AUTH, timeout=10)
        assert workers.status_code == 200
        assert {"data", "media", "speech"} <= {name.split("@")[0] for name in workers.json()}

        status = subprocess.run(
            [sys.executable, "-m", "jobsys", "cluster", "status"],
            env={**os.environ, "JOBSYS_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        rows = [line for line in status.stdout.splitlines() if line.startswith("│")]
        assert {row.split("│")[1].strip() for row in rows} == {"migrate", *services}
        assert all(row.split("│")[3].strip() == "yes" for row in rows), status.stdout

        mains = {p.pid for s in services for p in cluster.processes(s)}
        pools = {p.pid for s in services for p in cluster.worker_children(s)}
        assert len(mains) == len(services) and len(pools) == 3  # one pool process per worker
        assert mains | pools <= {p.pid for p in _running_under(home)}
    assert _running_under(home) == []
    assert not (home / "cluster" / "state.json").exists()
    assert "serving: data.scan@1" in cluster.log_path("worker-data").read_text()


def test_a_service_that_dies_while_starting_stops_the_cluster_and_shows_its_log(
    jobsys_env: dict[str, str],
) -> None:
    env = {**_cluster_env(jobsys_env), "JOBSYS_FLOWER_BASIC_AUTH": ""}
    home = Path(jobsys_env["JOBSYS_HOME"])
    cluster = Cluster(
        home=home,
        env=env,
        compose_file=ROOT / "compose.yaml",
        services=["api", "flower"],
    )
    with pytest.raises(ClusterError) as info:
        cluster.up(timeout=40)
    assert info.value.service == "flower"
    assert "JOBSYS_FLOWER_BASIC_AUTH" in info.value.log_tail
    # api was started (whether it got as far as listening depends on timing), then stopped
    assert "starting" in cluster.log_path("api").read_text()
    assert _running_under(home) == []
    assert not (home / "cluster" / "state.json").exists()
