"""``qenv train --address``: the same command on an existing Ray cluster (slow: starts one).

The cluster is a real Ray head started with ``ray start --head --block`` in a
subprocess (terminating it stops the processes it started, and only those). The run's
env runner is an actor placed on that cluster: ``ray.init(address=...)`` fails when no
cluster answers there, so a finished run proves the driver joined it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qenv.cli import main
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
    head = subprocess.Popen(
        [str(ray), "start", "--head", "--block", "--port", str(port), "--num-cpus", "2",
         "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp_dir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start --head did not come up (exit code {head.poll()})")
            time.sleep(0.5)
        yield address
    finally:
        head.terminate()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_train_runs_on_an_existing_cluster(
    tmp_path: Path, ray_head: str, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = ["train", "--config", str(config), "--storage-path", str(run)]
    assert main([*argv, "--stop-iters", "1", "--address", ray_head]) == 0
    assert json.loads((run / "summary.json").read_text())["iteration"] == 1
    # RAY_ADDRESS works as --address does.
    monkeypatch.setenv("RAY_ADDRESS", ray_head)
    assert main(["train", "--storage-path", str(run), "--resume", "--stop-iters", "2"]) == 0
    assert json.loads((run / "summary.json").read_text())["iteration"] == 2
