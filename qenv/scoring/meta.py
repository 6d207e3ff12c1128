"""④ The meta-loop: tune w1…w6, β, γ, κ of the HyperScore by Bayesian optimisation.

``qenv meta-opt --config configs/scoring/meta.yaml --trials N [--seed S] [--out best.yaml]``
runs :func:`run_meta`:

1. **Fusion first** (⑤, :mod:`qenv.scoring.fusion`): the AHP weights of the config's
   pairwise matrix (CR reported), the exact Shapley values of the six terms of V over
   dispatches logged from ``hyperscore_greedy`` with the base parameters on the
   ``shapley_seeds`` (value of a coalition: R² of predicting each completed task's
   outcome from those terms), and their blend. The outcome of a dispatched task is its
   expected success, the success probability it ran with (ESP under the true noise)
   times 1[finished by its deadline]; tasks still running at the end are left out.
2. **Optuna TPE** (seeded; Bergstra et al. 2011): the first trials are the base
   parameters and the fused weights (enqueued), then TPE samples each raw weight in
   ``search.weight`` (normalised to sum 1), β, γ and κ in their ranges. A trial's value is
   the mean *goodput*, throughput × (1 − error rate) (successful tasks per second: it
   rewards throughput and penalises errors together), of ``hyperscore_greedy`` over the
   ``train_seeds`` episodes of ``QPUAllocation-v0`` (``scenario``, ``horizon``). Only
   the fusion parameters change between trials: the precomputed (circuit, QPU) table is
   reused (:meth:`qenv.scoring.QPUScoreTable.with_params`).
3. **Held-out report**: the best and the base parameters are evaluated on the
   ``heldout_seeds`` (never seen by the optimiser): throughput, error rate and goodput,
   mean ± 95 % CI; and the Bayesian calibration of V to the outcome (Laplace
   approximation) on the held-out dispatches of the best parameters.
4. **Convergence**: the trial (and the wall time since the start of the search) at which
   the best value so far first came within 1 % of the final best.

The best parameters are written as a scoring YAML (:func:`~qenv.scoring.params.save_params`)
that the environments load with ``scoring=PATH`` (``--env-arg scoring=PATH`` for
``qenv evaluate``).

Note: ``hyperscore_greedy`` takes an argmax of the HyperScore over QPUs, which is
increasing in V for any β, κ > 0, so its decisions depend on the weights only (and on β,
γ, κ through ties in float32 observations at most); the search still covers β, γ, κ as
DESIGN.md asks, and the report shows that the objective is flat in them.

The environment is imported only when the loop runs (this package stays free of
gymnasium and pettingzoo at import time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qenv.scoring.fusion import (
    AHPResult,
    BayesCalibration,
    ahp_weights,
    blend_weights,
    calibration_table,
    r2_value,
    shapley_values,
    shapley_weights,
)
from qenv.scoring.params import WEIGHT_NAMES, ScoringParams, load_params

__all__ = [
    "TERMS",
    "MetaConfig",
    "MetaResult",
    "goodput",
    "load_meta_config",
    "log_dispatches",
    "play_episode",
    "run_meta",
]

FloatArray = npt.NDArray[np.float64]

#: The six terms of V, as logged per dispatch (the Shapley players), in WEIGHT_NAMES order.
TERMS = ("logic_pi", "novelty", "log_impact", "repro", "meta", "qnc")

ENV_ID = "QPUAllocation-v0"


@dataclass(frozen=True)
class MetaConfig:
    """A meta-loop configuration (``configs/scoring/meta.yaml``; schema below).

    ::

        scenario: default          # QPU scenario of QPUAllocation-v0
        scenario_seed: 0           # its circuit library
        horizon: 300               # slots per episode
        train_seeds: [100, 101, 102]
        heldout_seeds: [200, 201, 202, 203, 204]
        base: default.yaml         # scoring parameters the search starts from
        ahp: ahp.yaml              # pairwise matrix of the fusion step
        blend: 0.5                 # weight of the Shapley weights in the fused weights
        shapley_seeds: [300, 301]  # episodes logged for the Shapley values
        search:
          weight: [0.0, 1.0]       # each raw weight (then normalised)
          beta: [0.5, 10.0]
          gamma: [-3.0, 1.0]
          kappa: [0.5, 4.0]

    Paths are relative to the config file.
    """

    scenario: str = "default"
    scenario_seed: int = 0
    horizon: int = 300
    train_seeds: tuple[int, ...] = (100, 101, 102)
    heldout_seeds: tuple[int, ...] = (200, 201, 202, 203, 204)
    base: ScoringParams = field(default_factory=ScoringParams)
    ahp_matrix: FloatArray | None = None
    blend: float = 0.5
    shapley_seeds: tuple[int, ...] = (300, 301)
    weight_range: tuple[float, float] = (0.0, 1.0)
    beta_range: tuple[float, float] = (0.5, 10.0)
    gamma_range: tuple[float, float] = (-3.0, 1.0)
    kappa_range: tuple[float, float] = (0.5, 4.0)


def _seeds(where: str, value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a non-empty list of seeds, got {value!r}")
    out = []
    for i, s in enumerate(value):
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"{where}[{i}]: a seed must be an integer >= 0, got {s!r}")
        out.append(int(s))
    return tuple(out)


def _range(where: str, value: object, low_bound: float | None = None) -> tuple[float, float]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"{where}: expected [low, high], got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{where}: need finite low < high, got {value!r}")
    if low_bound is not None and lo < low_bound:
        raise ValueError(f"{where}: low must be >= {low_bound}, got {lo}")
    return lo, hi


def load_meta_config(path: str | Path) -> MetaConfig:
    """Read a meta-loop YAML (:class:`MetaConfig`); errors name the file and the key."""
    from qenv.config import read_yaml
    from qenv.scoring.feedback import load_matrix

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"--config: no such file {str(file)!r}")
    data = read_yaml(file, "meta-loop config", lambda m: ValueError(f"{file}: {m}"))
    where = str(file)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {data!r}")
    known = {
        "scenario", "scenario_seed", "horizon", "train_seeds", "heldout_seeds", "base",
        "ahp", "blend", "shapley_seeds", "search",
    }  # fmt: skip
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kw: dict[str, Any] = {}
    if "scenario" in data:
        if not isinstance(data["scenario"], str):
            raise ValueError(f"{where}: scenario: expected a name or path")
        kw["scenario"] = data["scenario"]
    for key, low in (("scenario_seed", 0), ("horizon", 1)):
        if key in data:
            v = data[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{where}: {key}: expected an integer >= {low}, got {v!r}")
            kw[key] = int(v)
    for key in ("train_seeds", "heldout_seeds", "shapley_seeds"):
        if key in data:
            kw[key] = _seeds(f"{where}: {key}", data[key])
    if set(kw.get("train_seeds", ())) & set(kw.get("heldout_seeds", ())):
        raise ValueError(f"{where}: train_seeds and heldout_seeds must not overlap")
    if "base" in data:
        base = data["base"]
        kw["base"] = load_params(file.parent / base if isinstance(base, str) else base)
    if "ahp" in data:
        if not isinstance(data["ahp"], str):
            raise ValueError(f"{where}: ahp: expected a path to a pairwise matrix YAML")
        kw["ahp_matrix"] = load_matrix(file.parent / data["ahp"])
    if "blend" in data:
        b = data["blend"]
        if isinstance(b, bool) or not isinstance(b, int | float) or not 0 <= b <= 1:
            raise ValueError(f"{where}: blend: expected a number in [0, 1], got {b!r}")
        kw["blend"] = float(b)
    search = data.get("search") or {}
    if not isinstance(search, Mapping):
        raise ValueError(f"{where}: search: expected a mapping")
    bad = sorted(set(search) - {"weight", "beta", "gamma", "kappa"})
    if bad:
        raise ValueError(f"{where}: search: unknown key(s) {bad}")
    bounds: dict[str, float | None] = {"weight": 0.0, "beta": 1e-6, "gamma": None, "kappa": 1e-6}
    for key, floor in bounds.items():
        if key in search:
            kw[f"{key}_range"] = _range(f"{where}: search.{key}", search[key], floor)
    return MetaConfig(**kw)


# --------------------------------------------------------------------------- episodes
def goodput(metrics: Mapping[str, Any]) -> float:
    """Throughput × (1 − error rate): successful tasks per second (0 if none completed)."""
    thr = float(metrics.get("throughput") or 0.0)
    err = metrics.get("error_rate")
    if err is None or not math.isfinite(float(err)):
        return 0.0
    return thr * (1.0 - float(err))


def play_episode(
    env: Any, policy: Any, seed: int, log: list[tuple[int, FloatArray, float]] | None = None
) -> dict[str, float]:
    """One episode of ``env`` with ``policy`` (seeded); its metrics.

    With ``log``, appends (task id, the six V terms, V) of every dispatch, read from the
    env's AHMO scorer at the moment of the decision.
    """
    observations, _ = env.reset(seed=seed)
    policy.reset(env, seed=seed)
    inner = env.unwrapped
    core = inner.core
    while env.agents:
        actions = policy.act(observations)
        if log is not None:
            scores, extra = inner.qpu_scorer.block(core)
            for g, agent in enumerate(inner.agents):
                a = int(actions.get(agent, 0))
                task = int(core.head[g])
                if a <= 0 or task >= core.n_tasks or inner.core_mask()[g, a] != 1:
                    continue
                s, e = scores[g, a - 1], extra[g, a - 1]
                terms = np.array(
                    [s[0] * s[1], s[2], math.log1p(s[3]), s[4], e[0], s[5]], dtype=np.float64
                )
                log.append((task, terms, float(e[1])))
        observations, *_ = env.step(actions)
    return dict(inner.metrics())


def log_dispatches(
    env: Any, policy: Any, seeds: Sequence[int]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(terms (n, 6), V (n,), outcome (n,)) of the completed dispatches of ``policy`` over
    ``seeds``; outcome = success probability × 1[finished by the deadline]."""
    from qenv.envs.qpu.dynamics import DONE

    rows, vs, ys = [], [], []
    for seed in seeds:
        log: list[tuple[int, FloatArray, float]] = []
        play_episode(env, policy, int(seed), log)
        core = env.unwrapped.core
        for task, terms, v in log:
            if core.state[task] != DONE:
                continue
            on_time = core.end[task] <= core.task_deadline[task]
            rows.append(terms)
            vs.append(v)
            ys.append(float(core.p_success[task]) * float(on_time))
    if not rows:
        return np.zeros((0, len(TERMS))), np.zeros(0), np.zeros(0)
    return np.stack(rows), np.asarray(vs), np.asarray(ys)


# --------------------------------------------------------------------------- the loop
@dataclass
class MetaResult:
    """Everything :func:`run_meta` found (see the module docstring)."""

    best: ScoringParams
    best_value: float
    values: list[float]  # per trial, in order
    elapsed_s: list[float]  # wall time at the end of each trial, from the search start
    converged_trial: int  # 1-based trial whose best-so-far is within 1 % of the best
    converged_s: float
    search_s: float
    ahp: AHPResult | None
    shapley: dict[str, float]
    fused: dict[str, float]
    heldout: dict[str, dict[str, tuple[float | None, float | None]]]
    calibration: BayesCalibration | None
    calibration_bins: list[dict[str, float]]
    trial_params: list[dict[str, float]] = field(default_factory=list)


def _convergence(values: Sequence[float], elapsed: Sequence[float]) -> tuple[int, float]:
    best = max(values)
    tol = 0.01 * abs(best)
    running = -math.inf
    for i, v in enumerate(values):
        running = max(running, v)
        if running >= best - tol:
            return i + 1, float(elapsed[i])
    return len(values), float(elapsed[-1])


def _params_from_trial(base: ScoringParams, values: Mapping[str, float]) -> ScoringParams:
    raw = {k: float(values[f"w_{k}"]) for k in WEIGHT_NAMES}
    if sum(raw.values()) <= 0:
        raw = dict(base.weights)
    return base.with_updates(
        weights=raw,
        beta=float(values["beta"]),
        gamma=float(values["gamma"]),
        kappa=float(values["kappa"]),
    )


def _heldout(
    env: Any, policy: Any, params: ScoringParams, seeds: Sequence[int]
) -> dict[str, tuple[float | None, float | None]]:
    from qenv.evaluate import mean_ci95

    inner = env.unwrapped
    inner.qpu_scorer = inner.qpu_scorer.with_params(params)
    rows = [play_episode(env, policy, int(s)) for s in seeds]
    out: dict[str, tuple[float | None, float | None]] = {}
    for key in ("throughput", "error_rate", "deadline_miss_rate"):
        out[key] = mean_ci95([r[key] for r in rows])
    out["goodput"] = mean_ci95([goodput(r) for r in rows])
    return out


def run_meta(
    config: MetaConfig,
    trials: int,
    seed: int = 0,
    *,
    progress: Callable[[int, float, float], None] | None = None,
) -> MetaResult:
    """Run the meta-loop (module docstring) for ``trials`` Optuna trials (>= 1).

    ``progress(trial, value, best)`` is called after every trial.
    """
    import optuna

    from agents.policy import make_policy
    from qenv.envs import make

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    base = config.base
    env = make(
        ENV_ID,
        scenario=config.scenario,
        scenario_seed=config.scenario_seed,
        horizon=config.horizon,
        scoring=base,
    )
    policy = make_policy("hyperscore_greedy", ENV_ID)
    inner = env.unwrapped
    bound = inner.qpu_scorer
    try:
        # ⑤ Fusion: AHP, Shapley over logged dispatches, blend.
        ahp = ahp_weights(config.ahp_matrix) if config.ahp_matrix is not None else None
        x, _, y = log_dispatches(env, policy, config.shapley_seeds)
        if x.shape[0] >= 2:
            phi = shapley_values(r2_value(x, y), len(TERMS))
        else:
            phi = np.zeros(len(TERMS))
        w_ahp = ahp.weights if ahp is not None else np.array(base.weight_vector)
        fused = blend_weights(w_ahp, shapley_weights(phi), config.blend)
        shapley = {k: float(v) for k, v in zip(WEIGHT_NAMES, phi, strict=True)}

        # ④ TPE search.
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        start_point = {f"w_{k}": float(base.weights[k]) for k in WEIGHT_NAMES}
        start_point.update(beta=base.beta, gamma=base.gamma, kappa=base.kappa)
        study.enqueue_trial(dict(start_point))
        if trials > 1:
            fused_point = dict(start_point)
            fused_point.update({f"w_{k}": fused[k] for k in WEIGHT_NAMES})
            study.enqueue_trial(fused_point)
        lo_w, hi_w = config.weight_range
        values: list[float] = []
        elapsed: list[float] = []
        trial_params: list[dict[str, float]] = []
        t0 = time.perf_counter()

        def objective(trial: optuna.Trial) -> float:
            point = {f"w_{k}": trial.suggest_float(f"w_{k}", lo_w, hi_w) for k in WEIGHT_NAMES}
            point["beta"] = trial.suggest_float("beta", *config.beta_range)
            point["gamma"] = trial.suggest_float("gamma", *config.gamma_range)
            point["kappa"] = trial.suggest_float("kappa", *config.kappa_range)
            params = _params_from_trial(base, point)
            inner.qpu_scorer = bound.with_params(params)
            runs = [play_episode(env, policy, s) for s in config.train_seeds]
            value = float(np.mean([goodput(r) for r in runs]))
            values.append(value)
            elapsed.append(time.perf_counter() - t0)
            trial_params.append(point)
            if progress is not None:
                progress(len(values), value, max(values))
            return value

        study.optimize(objective, n_trials=trials)
        search_s = time.perf_counter() - t0
        best_point = study.best_trial.params
        best = _params_from_trial(base, best_point)
        conv_trial, conv_s = _convergence(values, elapsed)

        # Held-out report and calibration of V.
        heldout = {
            "best": _heldout(env, policy, best, config.heldout_seeds),
            "base": _heldout(env, policy, base, config.heldout_seeds),
        }
        inner.qpu_scorer = bound.with_params(best)
        _, v, y = log_dispatches(env, policy, config.heldout_seeds)
        calibration = BayesCalibration.fit(v, y) if v.size >= 2 else None
        bins = calibration_table(v.tolist(), y.tolist()) if v.size >= 2 else []
    finally:
        env.close()
    return MetaResult(
        best=best,
        best_value=float(study.best_value),
        values=values,
        elapsed_s=elapsed,
        converged_trial=conv_trial,
        converged_s=conv_s,
        search_s=search_s,
        ahp=ahp,
        shapley=shapley,
        fused=fused,
        heldout=heldout,
        calibration=calibration,
        calibration_bins=bins,
        trial_params=trial_params,
    )
