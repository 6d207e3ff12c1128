"""``qenv train`` end to end (slow: Ray, RLlib): smoke run with FedAvg + DP, resume, evaluate.

Each run is the shipped ``configs/dpem_quick.yaml`` shrunk to seconds: 60-slot
episodes, 120-slot iterations, one SGD epoch, sampling in the driver (no env-runner
processes), FedAvg every iteration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qenv.cli import main
from training.config import apply_overrides, load_experiment, write_experiment

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY: dict[str, Any] = {
    "env.kwargs": {"horizon": 60},
    "model.hidden": [16],
    "ppo.train_batch_size": 120,
    "ppo.minibatch_size": 60,
    "ppo.num_epochs": 1,
    "resources.num_env_runners": 0,
    "resources.num_envs_per_env_runner": 1,
    "resources.num_cpus": 1,
    "federated.every": 1,
    "evaluation.episodes": 1,
    "evaluation.baselines": "greedy",
    "wandb.mode": "disabled",
    "metrics_smoothing": 2,
}


def tiny_config(tmp_path: Path, **extra: Any) -> Path:
    exp = load_experiment(CONFIGS / "dpem_quick.yaml")
    exp = apply_overrides(exp, {**TINY, **extra}, "tiny")
    path = tmp_path / "tiny.yaml"
    write_experiment(exp, path)
    return path


def rows(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]


def test_smoke_fedavg_dp_checkpoint_summary_and_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    monkeypatch.delenv("WANDB_MODE", raising=False)
    config = tiny_config(tmp_path, **{"wandb.mode": "offline"})
    argv = ["train", "--config", str(config), "--storage-path", str(run), "--stop-iters", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "iter    1 |" in out and "iter    2 |" in out and "fedavg r2 ε=" in out

    summary = json.loads((run / "summary.json").read_text())
    assert summary["iteration"] == 2 and summary["stopped_by"] == "stop.iters=2"
    # dpem_quick: one module per edge cloud, 2 clouds.
    assert summary["timesteps"] == 240 and summary["modules"] == 2
    assert summary["epsilon"] > 0 and summary["delta"] == 1e-5
    assert summary["fedavg"]["rounds"] == 2 and summary["fedavg"]["averaged"] is True
    # Episodes of 60 slots may end before any request completes or expires (rate None).
    rate = summary["evaluation"]["greedy"]["delivery_rate"]
    assert rate is None or 0.0 <= rate <= 1.0
    assert summary["evaluation"]["greedy"]["pairs_requested"] >= 0
    assert "ppo:dpem_quick" in summary["evaluation"]

    ckpt = run / "checkpoints" / "iter_000002"
    meta = json.loads((ckpt / "qenv_checkpoint.json").read_text())
    assert meta["iteration"] == 2 and meta["env_kwargs"] == {"scenario": "mesh8", "horizon": 60}
    assert set(meta["agent_to_module"]) == {f"node_{i}" for i in range(8)}
    assert (ckpt / "learner_group" / "learner" / "rl_module" / "cloud_0").is_dir()
    assert load_experiment(run / "config.yaml").stop.iters == 2  # the flag is resolved in
    assert [r["iteration"] for r in rows(run)] == [1, 2]
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert set(evaluation["results"]) == {"ppo:dpem_quick", "greedy"}
    # W&B ran offline into the run directory.
    assert list((run / "wandb").glob("offline-run-*"))

    # The checkpoint is a policy of `qenv evaluate`, on the run's env by default.
    report = tmp_path / "eval.json"
    argv = [
        "evaluate",
        "--policy",
        str(run),
        "--baselines",
        "random",
        "--episodes",
        "2",
        "--no-progress",
        "--out",
        str(report),
    ]
    assert main(argv) == 0
    result = json.loads(report.read_text())
    assert result["env_kwargs"] == {"scenario": "mesh8", "horizon": 60}
    assert list(result["results"]) == ["ppo:dpem_quick", "random"]
    assert result["policy"] == "ppo:dpem_quick" and len(result["episodes"]) == 2
    # The same run dir cannot be started again by accident.
    assert main(["train", "--config", str(config), "--storage-path", str(run)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_resume_continues_from_the_last_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    config = tiny_config(tmp_path, **{"evaluation.episodes": 0, "checkpoint.freq": 2})
    # Iterations 1..3, checkpoint after 2 only: iteration 3 is lost as in a kill.
    argv = [
        "train",
        "--config",
        str(config),
        "--storage-path",
        str(run),
        "--stop-iters",
        "3",
        "--no-checkpoint-at-end",
    ]
    assert main(argv) == 0
    first = rows(run)
    assert [r["iteration"] for r in first] == [1, 2, 3]
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == ["iter_000002"]
    capsys.readouterr()

    assert main(["train", "--storage-path", str(run), "--resume", "--stop-iters", "4"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "(iteration 2)" in out
    second = rows(run)[3:]
    assert [r["iteration"] for r in second] == [3, 4]
    # Step counters continue from the checkpoint (2 iterations of 120 env steps).
    assert [r["timesteps"] for r in second] == [360, 480]
    assert [r["fedavg"]["rounds"] for r in second] == [3, 4]
    assert second[-1]["fedavg"]["epsilon"] > first[1]["fedavg"]["epsilon"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iteration"] == 4 and summary["epsilon"] == second[-1]["fedavg"]["epsilon"]
    assert (run / "checkpoints" / "iter_000004").is_dir()
    # Nothing left to do: the stop criterion is already met.
    assert main(["train", "--storage-path", str(run), "--resume", "--stop-iters", "4"]) == 0
    assert "reached before this session" in capsys.readouterr().out


def test_forecast_runs_train_checkpoint_and_evaluate_with_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from agents.forecast.model import ForecasterConfig, build_model
    from agents.forecast.train import save_model
    from qenv.envs import make
    from training.checkpoint import FORECAST_FILE, CheckpointPolicy

    model = tmp_path / "f.pt"
    config = ForecasterConfig(n_nodes=8, horizon=5, window_s=0.05, hidden=4)
    save_model(build_model(config, scale=np.ones(8), seed=1), model)
    run = tmp_path / "run"
    cfg = tiny_config(tmp_path, **{"env.forecast": str(model), "federated": None})
    argv = ["train", "--config", str(cfg), "--storage-path", str(run), "--stop-iters", "1"]
    assert main(argv) == 0
    ckpt = run / "checkpoints" / "iter_000001"
    meta = json.loads((ckpt / "qenv_checkpoint.json").read_text())
    assert meta["forecast"] == FORECAST_FILE and (ckpt / FORECAST_FILE).is_file()
    assert "forecast" not in meta["env_kwargs"]  # the env's own kwargs stay plain
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert set(evaluation["results"]) == {"ppo:dpem_quick", "greedy"}
    # The checkpoint fills the demand fields itself in a plain env.
    policy = CheckpointPolicy(run)
    assert policy.forecast is not None
    env = make("EntanglementAllocation-v0", scenario="mesh8", horizon=20)
    obs, _ = env.reset(seed=0)
    policy.reset(env, seed=0)
    policy.act(obs)
    dem = env.unwrapped.layout.fields["demand"]
    assert obs["node_0"]["observation"][dem].sum() > 0
    capsys.readouterr()
