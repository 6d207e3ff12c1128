"""Evaluate allocation policies on an environment: episodes, means, 95 % intervals.

:func:`evaluate` plays ``episodes`` episodes of a PettingZoo ``ParallelEnv`` built by
:func:`qenv.envs.make` with one :class:`agents.policy.Policy`. Episode ``i`` resets the
env with seed ``seed + i`` and the policy with the same seed, so a result is
reproducible and two policies evaluated with the same ``seed`` face the same requests
(and, as far as their actions leave them equal, the same link generation): results of
:func:`compare` are paired. An episode's metrics are the env's episode summary
(``infos[agent]["episode"]`` on the last slot, else ``env.unwrapped.metrics()``).

Summary per metric over episodes: the mean ignoring NaN (an episode in which no
request ended has no delivery rate), and the half-width of a Student-t 95 %
confidence interval of that mean, t_{0.975, n−1}·s/√n over the n non-NaN values
(``None`` when n < 2). Results are JSON-safe: NaN and ±inf become ``None``, and
keyword arguments that are objects (a graph, a traffic model) are stored as their
``repr``.

Command line (wired into ``qenv`` by :func:`add_evaluate_parser`)::

    qenv evaluate --policy greedy --episodes 20 --scenario mesh8 --out greedy.json
    qenv evaluate --baselines all --env-arg horizon=200 --env-arg agents_per=edge_cloud
    qenv evaluate --policy greedy --baselines random,oracle    # greedy vs. two baselines
    qenv evaluate --env QPUAllocation-v0 --baselines all --scenario small --episodes 5
    qenv evaluate --policy runs/dpem_quick --baselines all   # a qenv train run on its env

Policy names are per environment (:data:`agents.policy.POLICIES_BY_ENV`): ``--policy``
and ``--baselines`` take the names of ``--env``'s environment, and ``--baselines all``
means all of its baselines. The table's columns are the environment's headline metrics
(:data:`TABLE_METRICS_BY_ENV`; every metric is in the JSON).

The progress bar (rich, on stderr, over all slots of all episodes) is shown unless
``--no-progress`` is given, when stderr is a terminal or the run is long
(episodes × horizon ≥ :data:`PROGRESS_MIN_SLOTS` slots per policy; off a terminal rich
prints the bar once, when it finishes).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from agents.policy import Policy

DEFAULT_ENV = "EntanglementAllocation-v0"

#: Columns of :func:`print_table` for ``EntanglementAllocation-v0``.
TABLE_METRICS: tuple[str, ...] = (
    "delivery_rate",
    "contention_rate",
    "mean_latency",
    "mean_fidelity",
    "utilisation",
    "invalid_actions",
)

#: Columns of :func:`print_table` per environment id; any other environment shows every
#: metric of its results.
TABLE_METRICS_BY_ENV: dict[str, tuple[str, ...]] = {
    "EntanglementAllocation-v0": TABLE_METRICS,
    "QPUAllocation-v0": (
        "throughput",
        "error_rate",
        "mean_completion_time",
        "deadline_miss_rate",
        "utilisation",
        "invalid_actions",
    ),
}

#: ``progress="auto"`` shows the bar off a terminal from this many slots (episodes × horizon).
PROGRESS_MIN_SLOTS = 20_000

#: Slots between updates of the progress bar.
_PROGRESS_EVERY = 25


# ---------------------------------------------------------------------- statistics
def _finite(values: Sequence[Any]) -> list[float]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | np.number):
            continue
        f = float(v)
        if not math.isnan(f):
            out.append(f)
    return out


def mean_ci95(values: Sequence[Any]) -> tuple[float | None, float | None]:
    """Mean of the non-NaN values and the Student-t 95 % half-width (None if too few)."""
    from scipy.stats import t as student_t

    x = np.asarray(_finite(values), dtype=np.float64)
    if x.size == 0:
        return None, None
    mean = float(x.mean())
    if x.size < 2:
        return mean, None
    half = float(student_t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, half


def json_safe(value: Any) -> Any:
    """``value`` with NaN/±inf as None, numpy scalars and arrays as Python, objects as repr."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    return repr(value)


# ---------------------------------------------------------------------- evaluation
def _policy(policy: str | Policy, env_id: str) -> Policy:
    from agents.policy import Policy, make_policy

    if isinstance(policy, str):
        return make_policy(policy, env_id)
    if not isinstance(policy, Policy):
        raise ValueError(f"policy: expected a name or a Policy, got {type(policy).__name__}")
    return policy


def _check_episodes(episodes: int) -> int:
    if isinstance(episodes, bool) or not isinstance(episodes, int | np.integer) or episodes < 1:
        raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
    return int(episodes)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


def _make_env(env_id: str, env_kwargs: Mapping[str, Any]) -> Any:
    from qenv.envs import make

    try:
        return make(env_id, **env_kwargs)
    except TypeError as exc:  # an unknown keyword argument
        raise ValueError(f"env_kwargs: {exc}") from exc


def _horizon(env: Any) -> int | None:
    core = getattr(env.unwrapped, "core", None)
    horizon = getattr(core, "horizon", None)
    return int(horizon) if isinstance(horizon, int | np.integer) else None


def _show_progress(progress: bool | Literal["auto"], total: int | None) -> bool:
    if progress == "auto":
        return sys.stderr.isatty() or (total is not None and total >= PROGRESS_MIN_SLOTS)
    return bool(progress)


def _play(env: Any, policy: Policy, seed: int, advance: Any) -> dict[str, Any]:
    """One episode; the env's episode metrics plus ``"seed"``."""
    observations, _ = env.reset(seed=seed)
    policy.reset(env, seed=seed)
    summary: dict[str, Any] | None = None
    pending = 0
    while env.agents:
        actions = policy.act(observations)
        observations, _, terminations, truncations, infos = env.step(actions)
        pending += 1
        if pending >= _PROGRESS_EVERY:
            advance(pending)
            pending = 0
        for info in infos.values():
            if "episode" in info:
                summary = info["episode"]
                break
        if all(terminations.get(a, False) or truncations.get(a, False) for a in infos):
            break
    advance(pending)
    metrics = dict(summary if summary is not None else env.unwrapped.metrics())
    metrics["seed"] = seed
    return metrics


def _evaluate_env(
    env: Any,
    env_id: str,
    policy: str | Policy,
    episodes: int,
    seed: int,
    env_kwargs: Mapping[str, Any],
    progress: bool | Literal["auto"],
) -> dict[str, Any]:
    pol = _policy(policy, env_id)
    horizon = _horizon(env)
    total = None if horizon is None else episodes * horizon
    rows: list[dict[str, Any]] = []
    if _show_progress(progress, total):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("slots"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            task = bar.add_task(f"{pol.name} ({episodes} episodes)", total=total)
            for i in range(episodes):
                rows.append(_play(env, pol, seed + i, lambda n: bar.advance(task, n)))
    else:
        for i in range(episodes):
            rows.append(_play(env, pol, seed + i, lambda n: None))
    names = [k for k in rows[0] if k != "seed"]
    mean: dict[str, float | None] = {}
    ci95: dict[str, float | None] = {}
    for name in names:
        mean[name], ci95[name] = mean_ci95([r.get(name, float("nan")) for r in rows])
    result = {
        "env": env_id,
        "policy": pol.name,
        "seed": seed,
        "env_kwargs": dict(env_kwargs),
        "episodes": rows,
        "mean": mean,
        "ci95": ci95,
    }
    safe: dict[str, Any] = json_safe(result)
    return safe


def evaluate(
    env_id: str,
    policy: str | Policy,
    episodes: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool | Literal["auto"] = False,
) -> dict[str, Any]:
    """Play ``episodes`` episodes of ``env_id`` with ``policy``; per-episode metrics and summary.

    Args:
        env_id: id for :func:`qenv.envs.make` (a PettingZoo ParallelEnv).
        policy: a name of ``agents.policy.POLICIES_BY_ENV[env_id]`` or a
            :class:`~agents.policy.Policy`.
        episodes: number of episodes (>= 1); episode i uses seed ``seed + i``.
        seed: base seed (>= 0) of the env's and the policy's resets.
        env_kwargs: keyword arguments of the env.
        progress: show a rich progress bar over all slots on stderr; ``"auto"``: when
            stderr is a terminal or episodes × horizon ≥ :data:`PROGRESS_MIN_SLOTS`.

    Returns:
        ``{"env", "policy", "seed", "env_kwargs", "episodes": [metrics + "seed"],
        "mean": {metric: mean}, "ci95": {metric: half-width or None}}``, JSON-safe.

    Raises:
        ValueError: unknown env id or policy, bad ``episodes``/``seed``, bad env kwargs.
    """
    episodes = _check_episodes(episodes)
    seed = _check_seed(seed)
    kwargs = dict(env_kwargs or {})
    pol = _policy(policy, env_id)
    env = _make_env(env_id, kwargs)
    try:
        return _evaluate_env(env, env_id, pol, episodes, seed, kwargs, progress)
    finally:
        env.close()


def compare(
    env_id: str,
    policies: Sequence[str | Policy],
    episodes: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool | Literal["auto"] = False,
) -> dict[str, Any]:
    """:func:`evaluate` for each policy on the same seeds (paired results).

    Returns ``{"env", "seed", "env_kwargs", "results": {policy name: evaluate result}}``.
    One env is built and reused; every episode starts from ``reset(seed=seed + i)``.
    """
    episodes = _check_episodes(episodes)
    seed = _check_seed(seed)
    if not policies:
        raise ValueError("policies: give at least one policy")
    built = [_policy(p, env_id) for p in policies]
    names = [p.name for p in built]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"policies: each policy once, got {dup} more than once")
    kwargs = dict(env_kwargs or {})
    env = _make_env(env_id, kwargs)
    try:
        results = {
            p.name: _evaluate_env(env, env_id, p, episodes, seed, kwargs, progress) for p in built
        }
    finally:
        env.close()
    return {"env": env_id, "seed": seed, "env_kwargs": json_safe(kwargs), "results": results}


# ---------------------------------------------------------------------- output
def _cell(mean: Any, half: Any) -> str:
    if mean is None:
        return "–"
    text = f"{mean:.4g}"
    return text if half is None else f"{text} ± {half:.2g}"


def table_metrics(env_id: str, result: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Columns of :func:`print_table` for ``env_id``: :data:`TABLE_METRICS_BY_ENV`, else
    every metric in ``result["mean"]`` (none without a result)."""
    if env_id in TABLE_METRICS_BY_ENV:
        return TABLE_METRICS_BY_ENV[env_id]
    return tuple(result["mean"]) if result is not None else ()


def print_table(
    result_or_comparison: Mapping[str, Any],
    metrics: Sequence[str] | None = None,
    console: Any = None,
) -> None:
    """Print "mean ± ci95" of ``metrics``, one row per policy, with rich.

    ``metrics=None``: the environment's columns (:func:`table_metrics` of ``res["env"]``).
    """
    from rich.console import Console
    from rich.table import Table

    res = result_or_comparison
    results = res["results"] if "results" in res else {res["policy"]: res}
    first = next(iter(results.values()))
    if metrics is None:
        metrics = table_metrics(str(res["env"]), first)
    n = len(first["episodes"])
    table = Table(
        title=f"{res['env']}: {n} episode{'s' if n != 1 else ''}, seeds {res['seed']}…"
        f"{res['seed'] + n - 1} (mean ± 95 % CI)"
    )
    table.add_column("policy")
    for m in metrics:
        table.add_column(m, justify="right")
    for name, r in results.items():
        table.add_row(name, *(_cell(r["mean"].get(m), r["ci95"].get(m)) for m in metrics))
    if console is None:
        console = Console()
        if not console.is_terminal:  # a file or a pipe: do not squeeze the columns to 80
            console = Console(width=max(console.width, 24 + 20 * len(metrics)))
    console.print(table)


# ---------------------------------------------------------------------- command line
class _StoreGiven(argparse.Action):
    """Store the value and record that the flag was given (``<dest>_given = True``)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_given", True)


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``evaluate`` subcommand on ``subparsers`` (``func=run_evaluate``)."""
    from agents.policy import POLICIES_BY_ENV

    per_env = "; ".join(f"{env}: {', '.join(names)}" for env, names in POLICIES_BY_ENV.items())
    p: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help="evaluate policies over seeded episodes (mean ± 95%% CI)",
        description="Evaluate a policy, or compare baselines, over seeded episodes. "
        "Episode i uses seed SEED + i for the env and the policy. Without --policy and "
        "--baselines, every baseline of the environment is compared. Policies per "
        f"environment: {per_env}.",
    )
    p.add_argument(
        "--env",
        default=DEFAULT_ENV,
        action=_StoreGiven,
        help=f"environment id (default: a checkpoint policy's, else {DEFAULT_ENV})",
    )
    p.add_argument(
        "--config",
        default=None,
        help="experiment YAML of qenv train: evaluate on its env and env kwargs",
    )
    p.add_argument(
        "--policy",
        metavar="NAME",
        default=None,
        help="a policy of the environment (see above), or a qenv train run/checkpoint "
        "directory (then the env and its kwargs are the run's unless --env/--config)",
    )
    p.add_argument(
        "--baselines",
        default=None,
        help='"all" (the environment\'s baselines) or a comma list of them; with --policy, '
        "the policy is compared with them",
    )
    p.add_argument("--episodes", type=int, default=10, help="episodes per policy (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    add_env_arg_options(p)
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="never show a progress bar (default: shown when stderr is a terminal or "
        f"episodes × horizon >= {PROGRESS_MIN_SLOTS} slots)",
    )
    p.set_defaults(func=run_evaluate)
    return p


def add_env_arg_options(p: argparse.ArgumentParser) -> None:
    """``--env-arg KEY=VALUE`` (repeatable) and ``--scenario NAME``, read back by
    :func:`env_kwargs_from_options` (``qenv evaluate``, ``qenv bound``)."""
    p.add_argument(
        "--env-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env keyword argument, VALUE parsed as YAML (repeatable; a key given twice: "
        "the last wins), e.g. --env-arg horizon=200",
    )
    p.add_argument("--scenario", default=None, help="shortcut for --env-arg scenario=NAME")


def env_kwargs_from_options(args: argparse.Namespace) -> dict[str, Any]:
    """The env keyword arguments of :func:`add_env_arg_options`' flags; a ``--scenario``
    that contradicts ``--env-arg scenario=`` is a ValueError."""
    env_kwargs = parse_env_args(args.env_arg)
    if args.scenario is not None:
        given = env_kwargs.get("scenario", args.scenario)
        if given != args.scenario:
            raise ValueError(
                f"--scenario {args.scenario!r} contradicts --env-arg scenario={given!r}"
            )
        env_kwargs["scenario"] = args.scenario
    return env_kwargs


def parse_env_args(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings to keyword arguments (VALUE parsed with ``yaml.safe_load``)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"--env-arg: expected KEY=VALUE with KEY a name, got {item!r}")
        try:
            out[key] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ValueError(f"--env-arg {key}: value is not valid YAML: {exc}") from exc
    return out


def _names(text: str, flag: str, env_id: str) -> list[str]:
    from agents.policy import policy_names

    valid = policy_names(env_id)
    names = list(valid) if text.strip() == "all" else [s.strip() for s in text.split(",")]
    names = [n for n in names if n]
    if not names:
        raise ValueError(f'{flag}: give "all" or a comma list of {", ".join(valid)}')
    bad = [n for n in names if n not in valid]
    if bad:
        raise ValueError(
            f"{flag}: unknown policy {bad[0]!r} for {env_id}; valid: {', '.join(valid)}"
        )
    return list(dict.fromkeys(names))


def run_evaluate(args: argparse.Namespace) -> int:
    """Run ``qenv evaluate``: evaluate or compare, print the table, write ``--out``."""
    from agents.policy import make_policy
    from qenv.envs import env_ids
    from training.checkpoint import evaluation_env

    # A checkpoint policy brings its run's env and kwargs unless --env/--config say otherwise.
    env_given = args.env if getattr(args, "env_given", False) else None
    args.env, run_kwargs = evaluation_env(
        args.policy, env_given, getattr(args, "config", None), DEFAULT_ENV
    )
    if args.env not in env_ids():
        raise ValueError(f"--env: unknown environment {args.env!r}; known: {env_ids()}")
    if isinstance(args.episodes, bool) or args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    env_kwargs = env_kwargs_from_options(args)
    env_kwargs = {**run_kwargs, **env_kwargs}
    policy = None
    if args.policy is not None:
        try:
            policy = make_policy(args.policy, args.env)
        except ValueError as exc:
            raise ValueError(f"--policy: {str(exc).removeprefix('policy: ')}") from exc
    baselines = None
    if args.baselines is not None:
        baselines = _names(args.baselines, "--baselines", args.env)
    elif policy is None:
        baselines = _names("all", "--baselines", args.env)
    progress: bool | Literal["auto"] = False if args.no_progress else "auto"
    try:
        env = _make_env(args.env, env_kwargs)
    except ValueError as exc:
        flag = "--scenario/--env-arg" if args.scenario is not None else "--env-arg"
        raise ValueError(f"{flag}: {exc}") from exc
    try:
        output: dict[str, Any]
        if baselines is None:
            assert policy is not None
            output = _evaluate_env(
                env, args.env, policy, args.episodes, args.seed, env_kwargs, progress
            )
        else:
            policies: list[Policy] = [] if policy is None else [policy]
            policies += [
                make_policy(b, args.env) for b in baselines if policy is None or b != policy.name
            ]
            results = {
                p.name: _evaluate_env(
                    env, args.env, p, args.episodes, args.seed, env_kwargs, progress
                )
                for p in policies
            }
            output = {
                "env": args.env,
                "seed": args.seed,
                "env_kwargs": json_safe(env_kwargs),
                "results": results,
            }
            if policy is not None:
                output.update(results[policy.name])
    finally:
        env.close()
    print_table(output)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(output, fh, indent=2, allow_nan=False)
            fh.write("\n")
    return 0


__all__ = [
    "DEFAULT_ENV",
    "PROGRESS_MIN_SLOTS",
    "TABLE_METRICS",
    "TABLE_METRICS_BY_ENV",
    "add_env_arg_options",
    "add_evaluate_parser",
    "compare",
    "env_kwargs_from_options",
    "evaluate",
    "json_safe",
    "mean_ci95",
    "parse_env_args",
    "print_table",
    "run_evaluate",
    "table_metrics",
]
