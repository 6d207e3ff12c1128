"""``qenv train``: train PPO agents from an experiment file (wired in by :func:`add_train_parser`).

Flags carry the names and meanings of RLlib's example-script command line
(``ray.rllib.examples.utils.add_rllib_example_script_args``); a flag given on the command
line replaces the experiment file's value, and the resolved experiment is written to
``<storage>/config.yaml``::

    qenv train --config configs/dpem_quick.yaml
    qenv train --config configs/dpem_quick.yaml --stop-iters 5 --storage-path runs/try
    qenv train --storage-path runs/try --resume --stop-iters 10      # continue a run
    qenv train --config configs/dpem_100.yaml --address auto          # on a Ray cluster

Differences from RLlib's script: ``--num-gpus`` gives the learners GPUs on the new API
stack (RLlib's script rejects it there), ``--checkpoint-at-end`` has a
``--no-checkpoint-at-end`` twin (the experiment file's ``checkpoint.at_end`` is the
default), and ``--num-cpus`` defaults to the experiment's ``resources.num_cpus``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _int_at_least(low: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand on ``subparsers`` (``func=run_train``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train PPO agents (RLlib) from an experiment YAML",
        description="Train PPO agents with RLlib (new API stack) from an experiment file "
        "(configs/dpem_quick.yaml, configs/dpem_100.yaml, configs/ahmo_default.yaml). Flags "
        "override the file; outputs (checkpoints, config.yaml, progress.jsonl, summary.json, "
        "evaluation.json, wandb/) go under --storage-path.",
    )
    p.add_argument("--config", default=None, help="experiment YAML (not needed with --resume)")
    p.add_argument(
        "--storage-path",
        default=None,
        help="run directory (default: runs/<experiment name>)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --storage-path from its last checkpoint",
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster to run on ('auto' or host:port; default: $RAY_ADDRESS, else a "
        "local Ray with --num-cpus)",
    )
    p.add_argument("--seed", type=_int_at_least(0), default=None, help="seed of the run")
    stop = p.add_argument_group("stopping (any criterion met stops)")
    stop.add_argument("--stop-iters", type=_int_at_least(1), default=None, help="iterations")
    stop.add_argument(
        "--stop-timesteps", type=_int_at_least(1), default=None, help="env steps sampled"
    )
    stop.add_argument(
        "--stop-reward", type=float, default=None, help="mean episode return (sum over agents)"
    )
    stop.add_argument(
        "--stop-time", type=_positive_float, default=None, help="training seconds (whole run)"
    )
    scale = p.add_argument_group("resources")
    scale.add_argument("--num-env-runners", type=_int_at_least(0), default=None)
    scale.add_argument("--num-envs-per-env-runner", type=_int_at_least(1), default=None)
    scale.add_argument("--num-learners", type=_int_at_least(0), default=None)
    scale.add_argument("--num-cpus", type=_int_at_least(1), default=None)
    scale.add_argument("--num-gpus", type=_int_at_least(0), default=None)
    ck = p.add_argument_group("checkpoints")
    ck.add_argument(
        "--checkpoint-freq", type=_int_at_least(0), default=None, help="every N iterations (0 off)"
    )
    ck.add_argument(
        "--checkpoint-at-end",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="checkpoint when training stops (default: the experiment's checkpoint.at_end)",
    )
    ev = p.add_argument_group("evaluation")
    ev.add_argument(
        "--eval-episodes",
        type=_int_at_least(0),
        default=None,
        help="episodes per policy of the final evaluation (0: skip)",
    )
    wb = p.add_argument_group("Weights & Biases (offline unless a key is given)")
    wb.add_argument("--wandb-key", default=None, help="W&B API key: log online")
    wb.add_argument("--wandb-project", default=None)
    wb.add_argument("--wandb-run-name", default=None)
    p.set_defaults(func=run_train)
    return p


#: Command-line flag (argparse dest) → dotted experiment key.
FLAG_KEYS: dict[str, str] = {
    "seed": "seed",
    "stop_iters": "stop.iters",
    "stop_timesteps": "stop.timesteps",
    "stop_reward": "stop.reward",
    "stop_time": "stop.time_s",
    "num_env_runners": "resources.num_env_runners",
    "num_envs_per_env_runner": "resources.num_envs_per_env_runner",
    "num_learners": "resources.num_learners",
    "num_cpus": "resources.num_cpus",
    "num_gpus": "resources.num_gpus",
    "checkpoint_freq": "checkpoint.freq",
    "checkpoint_at_end": "checkpoint.at_end",
    "eval_episodes": "evaluation.episodes",
}


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted experiment keys of the flags given on the command line."""
    return {
        key: getattr(args, dest)
        for dest, key in FLAG_KEYS.items()
        if getattr(args, dest, None) is not None
    }


def run_train(args: argparse.Namespace) -> int:
    """Run ``qenv train``."""
    from training.checkpoint import RUN_CONFIG
    from training.config import apply_overrides, load_experiment
    from training.run import RunOptions, train

    exp = load_experiment(args.config) if args.config is not None else None
    if args.storage_path is not None:
        storage = Path(args.storage_path)
    elif exp is not None:
        storage = Path("runs") / exp.name
    else:
        raise ValueError("give --config (a new run) or --storage-path with --resume")
    if args.resume and (storage / RUN_CONFIG).is_file():
        if exp is not None:
            print(f"--resume: using the run's {storage / RUN_CONFIG} (not {args.config})")
        exp = load_experiment(storage / RUN_CONFIG)
    overrides = overrides_from_args(args)
    if exp is not None and overrides:
        where = (
            f"{args.config if not args.resume else storage / RUN_CONFIG} with command-line flags"
        )
        exp = apply_overrides(exp, overrides, where)
    options = RunOptions(
        storage_path=storage,
        resume=bool(args.resume),
        address=args.address,
        wandb_key=args.wandb_key,
        wandb_project=args.wandb_project,
        wandb_run_name=args.wandb_run_name,
    )
    train(exp, options)
    return 0


__all__ = ["FLAG_KEYS", "add_train_parser", "overrides_from_args", "run_train"]
