"""Training benchmarks: RLlib sampling throughput at 100 nodes, and the dpem_quick learning curve.

Sampling (:func:`run`): env steps/s and agent-steps/s that RLlib's env runners sample
(policy inference included, no learning) on the 100-node experiment
(``configs/dpem_100.yaml``) with ``num_env_runners`` runners on ``num_cpus`` CPUs, at
both granularities:

* ``node``: one agent per node (100 agents), one module per edge cloud (10 modules);
* ``edge_cloud``: one agent per edge cloud (10 agents, MultiDiscrete actions over the
  members), one module each (10 modules).

Each repeat times ``EnvRunner.sample(num_timesteps=steps)`` on every runner at once
(after a warm-up call that builds the episodes' path caches and the numba kernels);
the rate is the env steps all runners sampled over the wall time of the call. The
machine's load average is recorded with the result (the rates are only comparable on
an idle machine).

Learning curve (:func:`learning_curve`): runs ``qenv train`` on ``configs/dpem_quick.yaml``
in a subprocess with a time budget, keeping a checkpoint every few iterations, then
evaluates every checkpoint on the seeds of the baseline table (deterministic policy):
delivery rate against training time. The training-time metrics are returned too, but
they are noisy (a few stochastic-policy episodes per iteration).

    python -m bench.train_bench --out bench/train_results.json            # sampling only
    python -m bench.train_bench --curve --curve-time 600 --out bench/train_results.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DPEM_100 = ROOT / "configs" / "dpem_100.yaml"
DPEM_QUICK = ROOT / "configs" / "dpem_quick.yaml"

#: Experiment overrides of each granularity (on top of ``configs/dpem_100.yaml``).
GRANULARITIES: dict[str, dict[str, Any]] = {
    "node": {
        "env.kwargs": {"agents_per": "node"},
        "policies": "per_edge_cloud",
        "edge_clouds": 10,
    },
    "edge_cloud": {
        "env.kwargs": {"agents_per": "edge_cloud", "n_edge_clouds": 10},
        "policies": "per_agent",
    },
}


def _count(episodes: list[Any]) -> tuple[int, int]:
    """(env steps, agent steps) of the episode chunks one ``sample`` call returned."""
    env_steps = sum(len(e) for e in episodes)
    agent_steps = sum(int(e.agent_steps()) for e in episodes)
    return env_steps, agent_steps


def sampling_throughput(
    granularity: str,
    steps: int = 1000,
    repeats: int = 3,
    num_env_runners: int = 2,
    num_envs_per_env_runner: int = 1,
    num_cpus: int = 2,
) -> dict[str, Any]:
    """Env steps/s and agent-steps/s sampled by the env runners at one granularity."""
    import ray

    from training.algo import build_ppo_config
    from training.config import apply_overrides, load_experiment

    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {sorted(GRANULARITIES)}, got {granularity!r}")
    exp = apply_overrides(
        load_experiment(DPEM_100),
        {
            **GRANULARITIES[granularity],
            "federated": None,
            "resources.num_env_runners": num_env_runners,
            "resources.num_envs_per_env_runner": num_envs_per_env_runner,
            "resources.num_cpus": num_cpus,
        },
        f"{DPEM_100} ({granularity})",
    )
    config, table = build_ppo_config(exp)
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        algo = config.build_algo()
        group = algo.env_runner_group
        per_runner = max(1, steps // max(1, num_env_runners))

        def sample(runner: Any) -> tuple[int, int]:
            return _count(runner.sample(num_timesteps=per_runner))

        remote = num_env_runners > 0
        group.foreach_env_runner(sample, local_env_runner=not remote)  # warm-up
        env_rates, agent_rates = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            counts = group.foreach_env_runner(sample, local_env_runner=not remote)
            elapsed = time.perf_counter() - start
            env_rates.append(sum(c[0] for c in counts) / elapsed)
            agent_rates.append(sum(c[1] for c in counts) / elapsed)
        algo.stop()
    finally:
        ray.shutdown()
    return {
        "granularity": granularity,
        "agents": len(table),
        "modules": len(set(table.values())),
        "num_env_runners": num_env_runners,
        "num_envs_per_env_runner": num_envs_per_env_runner,
        "num_cpus": num_cpus,
        "steps_per_repeat": per_runner * max(1, num_env_runners),
        "env_steps_per_s_median": statistics.median(env_rates),
        "agent_steps_per_s_median": statistics.median(agent_rates),
        "env_steps_per_s_all": env_rates,
        "agent_steps_per_s_all": agent_rates,
    }


def run(
    steps: int = 1000,
    repeats: int = 3,
    num_env_runners: int = 2,
    num_envs_per_env_runner: int = 1,
    num_cpus: int = 2,
) -> dict[str, Any]:
    """Sampling throughput at 100 nodes for both granularities (see the module docstring)."""
    load_before = os.getloadavg()
    results = {
        g: sampling_throughput(
            g, steps, repeats, num_env_runners, num_envs_per_env_runner, num_cpus
        )
        for g in GRANULARITIES
    }
    return {
        "experiment": str(DPEM_100.relative_to(ROOT)),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "sampling": results,
    }


def checkpoint_curve(
    run_dir: str | Path, episodes: int = 10, seed: int = 0
) -> list[dict[str, Any]]:
    """Each checkpoint of a run evaluated (greedy in its logits) on seeds ``seed..``: the
    delivery rate (or throughput) against training time, free of the sampling noise of
    the training-time metrics."""
    from qenv.evaluate import evaluate
    from training.checkpoint import CheckpointPolicy, list_checkpoints, read_meta

    out = []
    for ckpt in list_checkpoints(run_dir):
        meta = read_meta(ckpt)
        res = evaluate(meta["env_id"], CheckpointPolicy(ckpt), episodes, seed, meta["env_kwargs"])
        out.append(
            {
                "iteration": meta["iteration"],
                "time_s": meta.get("time_total_s"),
                "timesteps": meta.get("timesteps"),
                "eval_mean": res["mean"],
                "eval_ci95": res["ci95"],
            }
        )
    return out


def learning_curve(
    storage: str | Path,
    time_s: float = 600.0,
    config: str | Path = DPEM_QUICK,
    checkpoint_freq: int = 5,
    episodes: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """Train ``config`` for ``time_s`` seconds (``qenv train`` in a subprocess), keeping a
    checkpoint every ``checkpoint_freq`` iterations; then evaluate every checkpoint on
    seeds ``seed..seed+episodes-1`` (:func:`checkpoint_curve`).

    Returns the training-time progress (iteration, seconds, env steps, delivery rate,
    mean return, epsilon), the checkpoint curve, and the final evaluation table.
    """
    from training.config import apply_overrides, load_experiment, write_experiment

    storage = Path(storage)
    if storage.exists():
        raise ValueError(f"storage {str(storage)!r} exists; give a new directory")
    storage.mkdir(parents=True)
    exp = apply_overrides(
        load_experiment(config),
        {"checkpoint.keep": None, "checkpoint.freq": checkpoint_freq, "stop.time_s": time_s},
        f"{config} (learning curve)",
    )
    exp_file = storage / "experiment.yaml"
    write_experiment(exp, exp_file, header=f"{config} with the learning-curve overrides")
    run_dir = storage / "run"
    cmd = [
        sys.executable, "-m", "qenv.cli", "train", "--config", str(exp_file),
        "--storage-path", str(run_dir),
    ]  # fmt: skip
    load_before = os.getloadavg()
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    load_after = os.getloadavg()
    progress = []
    for line in (run_dir / "progress.jsonl").read_text().splitlines():
        row = json.loads(line)
        fed = row.get("fedavg") or {}
        progress.append(
            {
                "iteration": row["iteration"],
                "time_s": row.get("time_total_s"),
                "timesteps": row.get("timesteps"),
                "delivery_rate": row.get("delivery_rate"),
                "episode_return_mean": row.get("episode_return_mean"),
                "epsilon": fed.get("epsilon"),
            }
        )
    summary = json.loads((run_dir / "summary.json").read_text())
    return {
        "command": " ".join(cmd[1:]),
        "config": str(config),
        "wall_s": wall,
        "load_average_before": list(load_before),
        "load_average_after": list(load_after),
        "progress": progress,
        "checkpoints": checkpoint_curve(run_dir, episodes, seed),
        "evaluation": summary.get("evaluation"),
        "epsilon": summary.get("epsilon"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="env steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-env-runners", type=int, default=2)
    parser.add_argument("--num-envs-per-env-runner", type=int, default=1)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--curve", action="store_true", help="also run the dpem_quick curve")
    parser.add_argument("--curve-time", type=float, default=600.0, help="training seconds")
    parser.add_argument("--curve-storage", default="runs/bench_curve", help="a new directory")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    result: dict[str, Any] = run(
        args.steps, args.repeats, args.num_env_runners, args.num_envs_per_env_runner, args.num_cpus
    )
    for g, r in result["sampling"].items():
        print(
            f"{g:>10}: {r['agents']:3d} agents, {r['modules']} modules: "
            f"{r['env_steps_per_s_median']:8.1f} env steps/s, "
            f"{r['agent_steps_per_s_median']:8.0f} agent-steps/s "
            f"({r['num_env_runners']} env runners, {r['num_cpus']} CPUs)"
        )
    if args.curve:
        result["learning_curve"] = learning_curve(args.curve_storage, args.curve_time)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
