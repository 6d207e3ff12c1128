"""``qenv train --address``: the same command on an existing Ray cluster (slow: starts one).

The cluster is a real Ray head started with ``ray start --head --block`` in a
subprocess (terminating it stops the processes it started, and only those), with its
own temp dir and ports. Each ``qenv train`` runs in a fresh process, as a user runs it.
The run's env runner is an actor placed on that cluster: ``ray.init(address=...)``
fails when no cluster answers there, so a finished run proves the driver joined it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from training.config import apply_overrides, load_experiment, write_experiment

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def ray_head(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Ray 2.60 authenticates clients with a token by default; a throwaway local cluster
    # opts out (the driver reads the same variable).
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    port = _free_port()
    ray = Path(sys.executable).with_name("ray")
    # Its own temp dir (short: Ray's socket paths have a length limit): a plain
    # ray.init() elsewhere (other tests under xdist) must not discover and join it.
    temp_dir = tempfile.mkdtemp(prefix="qenv-ray-")
    # Ports of its own, too: under xdist a local Ray of another test runs beside it, and
    # Ray's fixed defaults (worker ports 10002-19999, the dashboard agent's 52365) would
    # collide.
    head = subprocess.Popen(
        [str(ray), "start", "--head", "--block", "--port", str(port), "--num-cpus", "2",
         "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp_dir,
         "--min-worker-port", "23000", "--max-worker-port", "23999",
         "--dashboard-agent-listen-port", str(_free_port())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        # Ready when a client sees the node's 2 CPUs (the GCS port opens before the
        # raylet has registered).
        probe = (
            "import sys, ray; ray.init(address=sys.argv[1], log_to_driver=False); "
            "sys.exit(0 if ray.cluster_resources().get('CPU', 0) >= 2 else 1)"
        )
        deadline = time.monotonic() + 180
        while True:
            with socket.socket() as s:
                up = s.connect_ex(("127.0.0.1", port)) == 0
            if up and subprocess.run([sys.executable, "-c", probe, address],
                                     capture_output=True).returncode == 0:  # fmt: skip
                break
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start --head did not come up (exit code {head.poll()})")
            time.sleep(1.0)
        yield address
    finally:
        head.terminate()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_train_runs_on_an_existing_cluster(tmp_path: Path, ray_head: str) -> None:
    exp = apply_overrides(
        load_experiment(CONFIGS / "dpem_quick.yaml"),
        {
            "env.kwargs": {"horizon": 60},
            "model.hidden": [16],
            "ppo.train_batch_size": 120,
            "ppo.minibatch_size": 60,
            "ppo.num_epochs": 1,
            "resources.num_env_runners": 1,  # an actor on the cluster
            "resources.num_envs_per_env_runner": 1,
            "evaluation.episodes": 0,
            "wandb.mode": "disabled",
        },
        "cluster test",
    )
    config = tmp_path / "exp.yaml"
    write_experiment(exp, config)
    run = tmp_path / "run"

    # Each run is `qenv train` in a fresh process, as a user runs it (a process that has
    # already run Ray locally, as an xdist worker has, is not a clean driver).
    def qenv_train(*args: str, ray_address: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        if ray_address is not None:
            env["RAY_ADDRESS"] = ray_address
        cmd = [sys.executable, "-m", "qenv.cli", "train", "--storage-path", str(run), *args]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]

    qenv_train("--config", str(config), "--stop-iters", "1", "--address", ray_head)
    assert json.loads((run / "summary.json").read_text())["iteration"] == 1
    # RAY_ADDRESS works as --address does.
    qenv_train("--resume", "--stop-iters", "2", ray_address=ray_head)
    assert json.loads((run / "summary.json").read_text())["iteration"] == 2
