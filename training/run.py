"""Run an experiment: Ray, the PPO algorithm, the training loop, checkpoints, summary, W&B.

:func:`train` is what ``qenv train`` calls. The loop calls ``algo.train()`` (one PPO
iteration: sample ``ppo.train_batch_size`` env steps with the env runners, update every
module) until a stop criterion is met, printing one progress line per iteration::

    iter   12 | steps    24,000 | return   18.40 | delivery_rate 0.702 | fedavg r2 ε=3.91 | 9.1 s

Stop criteria (any): ``training_iteration >= stop.iters``, env steps sampled
``>= stop.timesteps``, ``env_runners/episode_return_mean >= stop.reward`` (the sum over
agents of an episode's rewards, RLlib's meaning), training time ``>= stop.time_s`` (all
sessions of the run together). Ctrl-C ends the loop early, and the run is saved as if
it had stopped.

Checkpoints go to ``<storage>/checkpoints/iter_<n>`` every ``checkpoint.freq``
iterations and at the end; a checkpoint is written to a temporary directory and
renamed when complete, so a run killed while saving keeps its previous checkpoint.
``--resume`` rebuilds the algorithm from the run's ``config.yaml`` and restores the
latest complete checkpoint: module weights, optimizer states, env-runner connector
states, RLlib's iteration and step counters and metrics, and the federated-averaging
callback's state (round counter, reference weights, privacy accountant; saved inside
the algorithm state by :mod:`training.federated`). Episodes in flight when the run was
killed are lost, so a resumed run's sampling restarts at fresh episode boundaries.

Ray: ``ray.init(num_cpus=..., include_dashboard=False)`` on this machine, or, with
``--address`` (or ``RAY_ADDRESS``), the existing cluster at that address (its own
resources; every node needs this project installed, as for any Ray job).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qenv.evaluate import json_safe
from training.checkpoint import (
    CHECKPOINTS_DIR,
    FORECAST_FILE,
    RUN_CONFIG,
    checkpoint_name,
    latest_checkpoint,
    list_checkpoints,
    read_meta,
    write_meta,
)
from training.config import Experiment, load_experiment, write_experiment
from training.env import HEADLINE_METRIC, LOGGED_METRICS

#: Learner statistics averaged over modules in each progress row.
LEARNER_STATS = ("total_loss", "policy_loss", "vf_loss", "entropy", "mean_kl_loss", "curr_kl_coeff")


@dataclass(frozen=True)
class RunOptions:
    """Command-line settings of a run that are not part of the experiment."""

    storage_path: Path
    resume: bool = False
    address: str | None = None
    wandb_key: str | None = None
    wandb_project: str | None = None
    wandb_run_name: str | None = None
    quiet: bool = False


# ---------------------------------------------------------------------- results
def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _sum_values(value: Any) -> float | None:
    if isinstance(value, Mapping):
        parts = [_num(v) for v in value.values()]
        vals = [p for p in parts if p is not None]
        return float(sum(vals)) if vals else None
    return _num(value)


def progress_row(result: Mapping[str, Any], env_id: str) -> dict[str, Any]:
    """The compact metrics of one iteration (progress.jsonl, W&B, the progress line)."""
    runners: Mapping[str, Any] = result.get("env_runners", {}) or {}
    learners: Mapping[str, Any] = result.get("learners", {}) or {}
    timers: Mapping[str, Any] = result.get("timers", {}) or {}
    row: dict[str, Any] = {
        "iteration": int(result.get("training_iteration", 0)),
        "timesteps": _num(runners.get("num_env_steps_sampled_lifetime")),
        "agent_steps": _sum_values(runners.get("num_agent_steps_sampled_lifetime")),
        "episodes": _num(runners.get("num_episodes_lifetime")),
        "episodes_this_iter": _num(runners.get("num_episodes")) or 0.0,
        "episode_return_mean": _num(runners.get("episode_return_mean")),
        "episode_len_mean": _num(runners.get("episode_len_mean")),
        "time_this_iter_s": _num(result.get("time_this_iter_s")),
        # Seconds of this iteration spent sampling (env runners) and updating (learners).
        "sample_s": _num(timers.get("env_runner_sampling_timer")),
        "learn_s": _num(timers.get("learner_update_timer")),
    }
    for name in LOGGED_METRICS.get(env_id, ()):
        row[name] = _num(runners.get(name))
    stats: dict[str, float] = {}
    modules = [m for m in learners if m != "__all_modules__"]
    for stat in LEARNER_STATS:
        vals = [_num(learners[m].get(stat)) for m in modules if isinstance(learners[m], Mapping)]
        finite = [v for v in vals if v is not None]
        if finite:
            stats[stat] = float(sum(finite) / len(finite))
    row["learner"] = stats
    fed = result.get("fedavg")
    if isinstance(fed, Mapping):
        # json_safe: epsilon is inf without noise, which JSON cannot hold (null instead).
        row["fedavg"] = json_safe(
            {k: v for k, v in fed.items() if isinstance(v, int | float | bool | None)}
        )
    return row


def progress_line(row: Mapping[str, Any], env_id: str, elapsed: float) -> str:
    """One human-readable line per iteration."""

    def fmt(value: Any, spec: str) -> str:
        return "–" if value is None else format(value, spec)

    metric = HEADLINE_METRIC.get(env_id)
    parts = [
        f"iter {row['iteration']:4d}",
        f"steps {fmt(row['timesteps'], ',.0f'):>10}",
        f"return {fmt(row['episode_return_mean'], '8.2f')}",
    ]
    if metric is not None:
        parts.append(f"{metric} {fmt(row.get(metric), '.3f')}")
    fed = row.get("fedavg")
    if isinstance(fed, Mapping):
        eps = fed.get("epsilon")
        text = f"fedavg r{fed.get('rounds', 0)}"
        if eps is not None:
            text += f" ε={eps:.3g}"
        parts.append(text)
    parts.append(f"{fmt(row.get('time_this_iter_s'), '.1f')} s ({elapsed:.0f} s total)")
    return " | ".join(parts)


def stop_reason(exp: Experiment, row: Mapping[str, Any], elapsed: float) -> str | None:
    """The first stop criterion met by ``row`` (None: keep training)."""
    stop = exp.stop
    if stop.iters is not None and row["iteration"] >= stop.iters:
        return f"stop.iters={stop.iters}"
    steps = row.get("timesteps")
    if stop.timesteps is not None and steps is not None and steps >= stop.timesteps:
        return f"stop.timesteps={stop.timesteps}"
    ret = row.get("episode_return_mean")
    if stop.reward is not None and ret is not None and ret >= stop.reward:
        return f"stop.reward={stop.reward}"
    if stop.time_s is not None and elapsed >= stop.time_s:
        return f"stop.time_s={stop.time_s}"
    return None


# ---------------------------------------------------------------------- run directory
def prepare_run_dir(exp: Experiment | None, options: RunOptions) -> tuple[Experiment, Path | None]:
    """Check the storage path and return ``(experiment, checkpoint to resume or None)``.

    A new run needs a storage path without checkpoints; ``--resume`` needs the run's
    ``config.yaml`` (the experiment it resumes; ``exp`` only supplies overrides the
    caller already applied) and at least one complete checkpoint.
    """
    root = options.storage_path
    existing = list_checkpoints(root)
    if not options.resume:
        if existing:
            raise ValueError(
                f"--storage-path {str(root)!r} already holds a run (checkpoint "
                f"{existing[-1].name}); pass --resume to continue it or choose another "
                "--storage-path"
            )
        if exp is None:
            raise ValueError("--config: give an experiment file (or --resume a run)")
        return exp, None
    config_file = root / RUN_CONFIG
    if exp is None:
        if not config_file.is_file():
            raise ValueError(f"--resume: no {RUN_CONFIG} in {str(root)!r}; is it a run directory?")
        exp = load_experiment(config_file)
    ckpt = latest_checkpoint(root)
    if ckpt is None:
        raise ValueError(
            f"--resume: no complete checkpoint under {str(root / CHECKPOINTS_DIR)!r} "
            "(the run was killed before its first checkpoint: start it again without --resume)"
        )
    return exp, ckpt


def save_checkpoint(
    algo: Any,
    root: Path,
    exp: Experiment,
    table: Mapping[str, str],
    row: Mapping[str, Any],
    time_total_s: float,
) -> Path:
    """Save ``algo`` to ``root/checkpoints/iter_<n>`` (atomically) and prune old ones."""
    iteration = int(row["iteration"])
    ckpt_root = root / CHECKPOINTS_DIR
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / checkpoint_name(iteration)
    tmp = ckpt_root / f".tmp_{checkpoint_name(iteration)}"
    shutil.rmtree(tmp, ignore_errors=True)
    algo.save_to_path(tmp.resolve().as_posix())
    write_experiment(exp, tmp / RUN_CONFIG, header="experiment of this checkpoint's run")
    forecast: dict[str, str] = {}
    if exp.env.forecast is not None:  # the checkpoint carries its forecaster
        shutil.copyfile(exp.env.forecast, tmp / FORECAST_FILE)
        forecast = {"forecast": FORECAST_FILE}
    write_meta(
        tmp,
        {
            "experiment": exp.name,
            "env_id": exp.env.id,
            "env_kwargs": exp.env.env_kwargs(),
            "policies": exp.policies,
            "agent_to_module": dict(table),
            "iteration": iteration,
            "timesteps": row.get("timesteps"),
            "time_total_s": time_total_s,
            **forecast,
        },
    )
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    keep = exp.checkpoint.keep
    if keep is not None:
        for old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


# ---------------------------------------------------------------------- ray
def init_ray(exp: Experiment, address: str | None) -> None:
    """Start Ray locally with the experiment's CPUs/GPUs, or join the cluster at ``address``."""
    import ray

    cluster = address or os.environ.get("RAY_ADDRESS") or None
    common: dict[str, Any] = {
        "include_dashboard": False,
        # Ray's and RLlib's own warnings (deprecations, token auth) drown the progress
        # lines; errors still show, and env-runner failures raise in this process.
        "logging_level": logging.ERROR,
        "log_to_driver": False,
        "ignore_reinit_error": True,
    }
    # Ray Tune's registry (where training.env registers the env) keys its entries by the
    # job id it saw first and caches it; a later run in the same process (a notebook, the
    # tests) on a long-lived cluster is a new job whose env runners would not find the
    # env. Forget the cached id: the flush at ray.init then uses the new job's.
    from ray.tune import registry

    registry._global_registry._prefix = None
    if cluster:
        ray.init(address=cluster, **common)
    else:
        # address="local": a new local Ray even when a `ray start` cluster runs on this
        # machine (plain ray.init() would join it and refuse num_cpus/num_gpus).
        ray.init(
            address="local",
            num_cpus=exp.resources.num_cpus,
            num_gpus=exp.resources.num_gpus,
            **common,
        )


def _quiet_rllib() -> None:
    for name in ("ray", "ray.rllib", "ray.tune", "ray.train"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\..*")


# ---------------------------------------------------------------------- evaluation
def final_evaluation(
    exp: Experiment, checkpoint: Path, out: Path, log: Callable[[str], None]
) -> dict[str, Any] | None:
    """Evaluate the checkpoint against the configured baselines; write ``out`` (JSON)."""
    ev = exp.evaluation
    if ev.episodes == 0:
        return None
    from agents.policy import policy_names
    from qenv.evaluate import compare, print_table
    from training.checkpoint import CheckpointPolicy

    names = list(policy_names(exp.env.id))
    if isinstance(ev.baselines, str) and ev.baselines != "all":
        wanted = [s.strip() for s in ev.baselines.split(",") if s.strip()]
    elif isinstance(ev.baselines, list):
        wanted = list(ev.baselines)
    else:
        wanted = names
    bad = [b for b in wanted if b not in names]
    if bad:
        raise ValueError(f"evaluation.baselines: unknown {bad} for {exp.env.id}; valid: {names}")
    policy = CheckpointPolicy(checkpoint)
    log(f"evaluating {policy.name} and {', '.join(wanted)}: {ev.episodes} episodes each")
    output = compare(
        exp.env.id, [policy, *wanted], ev.episodes, ev.seed, exp.env.env_kwargs(), progress=False
    )
    output["checkpoint"] = str(checkpoint)
    print_table(output)
    out.write_text(json.dumps(output, indent=2, allow_nan=False) + "\n")
    return output


# ---------------------------------------------------------------------- train
def _last_row(root: Path) -> dict[str, Any] | None:
    """The last line of a run's progress.jsonl (None if there is none)."""
    path = root / "progress.jsonl"
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def _banner(exp: Experiment, table: Mapping[str, str], root: Path) -> str:
    fed = exp.fedavg()
    n_modules = len(set(table.values()))
    if fed is None:
        federated = "off"
    else:
        federated = f"every {fed.every}, DP {'on' if fed.dp is not None else 'off'}"
    return (
        f"{exp.name}: {exp.env.id} {exp.env.env_kwargs()} | {len(table)} agents, "
        f"{n_modules} module{'s' if n_modules != 1 else ''} ({exp.policies}) | "
        f"federated: {federated} | storage {root}"
    )


def _train_loop(
    algo: Any,
    exp: Experiment,
    table: Mapping[str, str],
    root: Path,
    prior_time: float,
    wb: Any,
    out: Callable[[str], None],
    quiet: bool,
) -> tuple[dict[str, Any] | None, Mapping[str, Any] | None, str, Path | None, float]:
    """Train until a stop criterion; ``(last row, last result, reason, last checkpoint, time)``."""
    row: dict[str, Any] | None = None
    result: Mapping[str, Any] | None = None
    reason: str | None = None
    last_saved = latest_checkpoint(root)
    carry_keys = ("episode_return_mean", "episode_len_mean", *LOGGED_METRICS.get(exp.env.id, ()))
    carried = {k: v for k, v in (_last_row(root) or {}).items() if k in carry_keys}
    start = time.perf_counter()
    if exp.stop.iters is not None and algo.iteration >= exp.stop.iters:
        reason = f"stop.iters={exp.stop.iters} (reached before this session)"
    with (root / "progress.jsonl").open("a") as progress:
        while reason is None:
            try:
                result = algo.train()
            except KeyboardInterrupt:
                reason = "interrupted (Ctrl-C)"
                break
            elapsed = prior_time + time.perf_counter() - start
            row = progress_row(result, exp.env.id)
            row["time_total_s"] = elapsed
            # Episode metrics are means over the last metrics_smoothing episodes; an
            # iteration in which no episode ended reports none: keep the last ones.
            for key in carry_keys:
                if row.get(key) is None and key in carried:
                    row[key] = carried[key]
                elif row.get(key) is not None:
                    carried[key] = row[key]
            progress.write(json.dumps(row) + "\n")
            progress.flush()
            wb.log(row, step=row["iteration"])
            if not quiet:
                out(progress_line(row, exp.env.id, elapsed))
            reason = stop_reason(exp, row, elapsed)
            freq = exp.checkpoint.freq
            if freq and row["iteration"] % freq == 0:
                last_saved = save_checkpoint(algo, root, exp, table, row, elapsed)
    total = prior_time + time.perf_counter() - start
    saved_now = (
        last_saved is not None
        and row is not None
        and (last_saved.name == checkpoint_name(row["iteration"]))
    )
    if row is not None and exp.checkpoint.at_end and not saved_now:
        last_saved = save_checkpoint(algo, root, exp, table, row, total)
    return row, result, reason, last_saved, total


def train(
    exp: Experiment | None, options: RunOptions, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run (or resume) the experiment; return the summary (also in ``summary.json``).

    Args:
        exp: the experiment (with command-line overrides applied); None with ``resume``
            reads the run's ``config.yaml``.
        options: storage path, resume, Ray address, W&B settings.
        log: where progress lines go (default: stdout, flushed).
    """
    from training.wandb_log import WandbLogger, wandb_mode

    out = log or log_stdout
    root = options.storage_path
    exp, resume_from = prepare_run_dir(exp, options)
    root.mkdir(parents=True, exist_ok=True)
    write_experiment(
        exp,
        root / RUN_CONFIG,
        header=f"Resolved experiment of this run ({exp.name}); `qenv train --storage-path "
        f"{root} --resume` continues it.",
    )
    _quiet_rllib()
    from training.algo import build_ppo_config, make_env

    env = make_env(exp)
    config, table = build_ppo_config(exp, env)
    env.close()
    fed = exp.fedavg()
    dp_on = fed is not None and fed.dp is not None
    prior_time = 0.0
    if resume_from is not None:
        prior_time = float(read_meta(resume_from).get("time_total_s") or 0.0)

    init_ray(exp, options.address)
    import ray
    import torch

    # The local learner (and a local env runner) run in this process. Their networks are
    # tiny: extra intra-op threads only add synchronisation, and on a shared machine
    # spinning OpenMP threads made one PPO update ~10x slower (measured: 25 s vs 2 s).
    # Remote env runners and learners are already single-threaded (Ray sets
    # OMP_NUM_THREADS to their CPU count).
    torch.set_num_threads(1)
    _quiet_rllib()  # again: ray.init resets the "ray" logger's level
    wb = WandbLogger(
        root,
        project=options.wandb_project or exp.wandb.project,
        run_name=options.wandb_run_name or exp.wandb.run_name or exp.name,
        config=exp.to_yaml_dict(),
        mode=wandb_mode(exp.wandb.mode, options.wandb_key),
        key=options.wandb_key,
    )
    algo: Any = None  # RLlib's Algorithm (untyped methods)
    try:
        algo = config.build_algo()
        out(_banner(exp, table, root))
        if resume_from is not None:
            algo.restore_from_path(resume_from.resolve().as_posix())
            out(f"resumed from {resume_from} (iteration {algo.iteration})")
        row, result, reason, last_saved, total = _train_loop(
            algo, exp, table, root, prior_time, wb, out, options.quiet
        )
        out(f"stopped: {reason}; checkpoint: {last_saved}")
        if row is None:  # nothing trained in this session: report the run's last iteration
            row = _last_row(root)
        summary = _summary(exp, table, row, result, reason, total, last_saved, dp_on)
        algo.stop()
        algo = None
        ray.shutdown()
        if last_saved is not None and exp.evaluation.episodes > 0:
            evaluation = final_evaluation(exp, last_saved, root / "evaluation.json", out)
            if evaluation is not None:
                summary["evaluation"] = {
                    name: res["mean"] for name, res in evaluation["results"].items()
                }
                _log_evaluation(wb, exp.env.id, evaluation)
        (root / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
        wb.summary({k: v for k, v in summary.items() if k != "evaluation"})
        out(f"summary: {root / 'summary.json'}")
        return summary
    finally:
        if algo is not None:
            algo.stop()
        if ray.is_initialized():
            ray.shutdown()
        wb.finish()


def _summary(
    exp: Experiment,
    table: Mapping[str, str],
    row: Mapping[str, Any] | None,
    result: Mapping[str, Any] | None,
    reason: str | None,
    total_time: float,
    checkpoint: Path | None,
    dp_on: bool,
) -> dict[str, Any]:
    """``summary.json``: the last iteration's metrics, FedAvg state and (ε, δ), JSON-safe."""
    summary: dict[str, Any] = {
        "experiment": exp.name,
        "env_id": exp.env.id,
        "env_kwargs": exp.env.env_kwargs(),
        "policies": exp.policies,
        "agents": len(table),
        "modules": len(set(table.values())),
        "stopped_by": reason,
        "time_total_s": total_time,
        "checkpoint": None if checkpoint is None else str(checkpoint),
    }
    if row is not None:
        summary.update({k: v for k, v in row.items() if k not in ("learner", "fedavg")})
        summary["learner"] = row.get("learner", {})
    fed = None if result is None else result.get("fedavg")
    if fed is None and row is not None:
        fed = row.get("fedavg")
    if isinstance(fed, Mapping):
        summary["fedavg"] = json_safe(dict(fed))
        if dp_on:
            summary["epsilon"] = _num(fed.get("epsilon"))
            summary["delta"] = _num(fed.get("delta"))
    elif dp_on:
        summary["epsilon"] = None
        summary["delta"] = None
    safe: dict[str, Any] = json_safe(summary)
    return safe


def _log_evaluation(wb: Any, env_id: str, evaluation: Mapping[str, Any]) -> None:
    from qenv.evaluate import table_metrics

    results = evaluation["results"]
    first = next(iter(results.values()))
    metrics = list(table_metrics(env_id, first))
    rows = []
    for name, res in results.items():
        rows.append([name, *(res["mean"].get(m) for m in metrics)])
    wb.log_table("evaluation", ["policy", *metrics], rows)
    wb.summary({f"evaluation/{name}": res["mean"] for name, res in results.items()})


def log_stdout(line: str) -> None:
    """Default progress sink: stdout, flushed (so ``tee`` and CI logs see it live)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


__all__ = [
    "RunOptions",
    "final_evaluation",
    "init_ray",
    "prepare_run_dir",
    "progress_line",
    "progress_row",
    "save_checkpoint",
    "stop_reason",
    "train",
]
