"""Federated averaging (FedAvg, optionally per-agent DP-FedAvg) of RLlib modules.

Every K training iterations the trainable RLModules of the MultiRLModule are averaged
into one global model that every one of them then holds, in the Learner and in the
EnvRunners. With module weights θ_i (after local PPO), the previous global θ_g, and
n_i the environment steps module ``i`` sampled since the last round:

    w_i    = n_i / Σ_j n_j                      (``weighting: samples``; 1/n if uniform)
    Δ_i    = θ_i − θ_g                          (the agent's update since the last global)
    θ_g'   = Σ_i w_i θ_i                        (plain FedAvg, ``dp: null``)
    θ_g'   = θ_g + Σ_i w_i Δ̃_i,  Δ̃_i = clip_C(Δ_i) + N(0, (σC)² I)    (DP-FedAvg)

and every θ_i := θ_g'. The DP model and what ε means are in :mod:`training.privacy`.
All floating-point entries of a module's state (weights, biases, float buffers) are
averaged; integer entries are left as they are. Only modules with the same
architecture (parameter names, shapes, dtypes) can be averaged: modules are grouped by
architecture and each group of two or more is averaged on its own (e.g. edge-cloud
modules whose observation sizes differ form separate groups); a module alone in its
group, and modules not in ``policies_to_train``, are left alone.

Initialisation: FedAvg assumes all agents start from one global model. When the
algorithm is built, every module of a group gets the initial weights of the group's
first module (sorted by id); that is the first reference θ_g.

EnvRunners: RLlib 2.60's EnvRunner ignores a module state whose ``weights_seq_no`` is
not newer than its own, and a Learner's ``set_weights`` does not bump the number, so
``env_runner_group.sync_weights(...)`` after a round would leave the runners on the
old weights. The callback instead pushes the Learner's (inference-only) module state
to every EnvRunner without a sequence number, which forces the update; the
algorithm's next regular sync (after the next Learner update) carries on as usual.

Resume: the callback's state (round counter, per-module sample counts at the last
round, the global reference weights per group, and the privacy accountant) is part
of the algorithm's own state: when the algorithm is built, the callback wraps the
instance's ``get_state``/``set_state`` so that ``save_to_path`` writes it under the key
``"fedavg"`` of the algorithm's state file and ``restore_from_path`` /
``from_checkpoint`` / Tune's restore load it back (after the module weights). Rounds
fall on iterations that are multiples of K, counted by RLlib's restored
``training_iteration``; the DP noise of round r comes from
``np.random.default_rng([seed, r])``, so a resumed run draws the same noise as an
uninterrupted one would.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import ray
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_RL_MODULE

from training.privacy import (
    Array,
    DPConfig,
    PrivacyAccountant,
    StateDict,
    l2_norm,
    privatize_update,
)

if TYPE_CHECKING:
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.core.learner.learner_group import LearnerGroup
    from ray.rllib.env.env_runner_group import EnvRunnerGroup
    from ray.rllib.utils.metrics.metrics_logger import MetricsLogger

__all__ = [
    "FedAvgConfig",
    "FedAvgState",
    "RoundOutcome",
    "aggregation_weights",
    "apply_update",
    "architecture_groups",
    "federated_round",
    "make_fedavg_callback",
    "module_update",
    "weighted_average",
]

logger = logging.getLogger(__name__)

Weighting = Literal["samples", "uniform"]
_WEIGHTINGS: tuple[str, ...] = ("samples", "uniform")
_FED_KEYS = ("every", "weighting", "dp", "seed")
STATE_KEY = "fedavg"
"""Key of the callback's state in the algorithm's checkpointed state."""
_SAMPLES_KEY = "num_module_steps_sampled_lifetime"


def _describe(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def _check_fedavg(every: object, weighting: object, dp: object, seed: object, where: str) -> None:
    """Raise ``ValueError`` naming ``where.<key>`` for the first bad setting."""
    if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
        raise ValueError(f"{where}.every: must be an integer >= 1, got {_describe(every)}")
    if weighting not in _WEIGHTINGS:
        raise ValueError(
            f"{where}.weighting: must be one of {', '.join(_WEIGHTINGS)}, "
            f"got {_describe(weighting)}"
        )
    if dp is not None and not isinstance(dp, DPConfig):
        raise ValueError(f"{where}.dp: must be a DPConfig or None, got {_describe(dp)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"{where}.seed: must be an integer >= 0, got {_describe(seed)}")


@dataclass(frozen=True)
class FedAvgConfig:
    """When and how to average: every K iterations, weighting, optional DP, noise seed."""

    every: int = 5  # K: average every K training iterations
    weighting: Weighting = "samples"
    dp: DPConfig | None = None  # None = plain FedAvg
    seed: int = 0  # seeds the DP noise Generator

    def __post_init__(self) -> None:
        _check_fedavg(self.every, self.weighting, self.dp, self.seed, "FedAvgConfig")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any], where: str = "federated") -> FedAvgConfig:
        """Build from the YAML ``federated:`` mapping; errors name the key.

        ``dp`` is a mapping (see :meth:`DPConfig.from_mapping`) or null; missing keys
        take the defaults, unknown keys fail.
        """
        if not isinstance(m, Mapping):
            raise ValueError(f"{where}: must be a mapping, got {_describe(m)}")
        for key in m:
            if key not in _FED_KEYS:
                raise ValueError(
                    f"{where}.{key}: unknown key (expected one of {', '.join(_FED_KEYS)})"
                )
        raw_dp = m.get("dp")
        dp = None if raw_dp is None else DPConfig.from_mapping(raw_dp, where=f"{where}.dp")
        every = m.get("every", cls.every)
        weighting = m.get("weighting", cls.weighting)
        seed = m.get("seed", cls.seed)
        _check_fedavg(every, weighting, dp, seed, where)
        return cls(every=int(every), weighting=weighting, dp=dp, seed=int(seed))


# --------------------------------------------------------------------------- pure functions


def _is_float(array: Array) -> bool:
    return bool(np.issubdtype(np.asarray(array).dtype, np.floating))


def _check_same_layout(states: Sequence[StateDict], names: Sequence[str]) -> None:
    first = states[0]
    for state, name in zip(states[1:], names[1:], strict=True):
        if state.keys() != first.keys():
            missing = sorted(set(first) ^ set(state))
            raise ValueError(f"{name}: parameter names differ from {names[0]}'s: {missing[:5]}")
        for key, value in state.items():
            if np.shape(value) != np.shape(first[key]):
                raise ValueError(
                    f"{name}: parameter {key!r} has shape {np.shape(value)}, "
                    f"{names[0]} has {np.shape(first[key])}"
                )


def weighted_average(states: Sequence[StateDict], weights: Sequence[float]) -> dict[str, Array]:
    """Σ_i w_i θ_i / Σ_i w_i per float entry (float64 sums, cast back to the entry's dtype).

    Integer entries are taken from the first state. All states need the same names
    and shapes; weights must be finite, >= 0 and not all zero.
    """
    if not states:
        raise ValueError("states must not be empty")
    if len(weights) != len(states):
        raise ValueError(f"weights has {len(weights)} entries for {len(states)} states")
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be finite, >= 0 and not all zero, got {list(weights)}")
    w = w / w.sum()
    _check_same_layout(states, [f"states[{i}]" for i in range(len(states))])
    out: dict[str, Array] = {}
    for key, value in states[0].items():
        arr = np.asarray(value)
        if not _is_float(arr):
            out[key] = arr.copy()
            continue
        total = np.zeros(arr.shape, dtype=np.float64)
        for wi, state in zip(w, states, strict=True):
            total += wi * np.asarray(state[key], dtype=np.float64)
        out[key] = total.astype(arr.dtype)
    return out


def module_update(local: StateDict, reference: StateDict) -> dict[str, Array]:
    """Δ = local − reference over the float entries (float64); integer entries are dropped."""
    _check_same_layout([reference, local], ["reference", "local"])
    return {
        key: np.asarray(local[key], dtype=np.float64) - np.asarray(ref, dtype=np.float64)
        for key, ref in reference.items()
        if _is_float(ref)
    }


def apply_update(reference: StateDict, update: StateDict) -> dict[str, Array]:
    """reference + update for the entries in ``update`` (cast to the reference's dtype)."""
    out: dict[str, Array] = {}
    for key, value in reference.items():
        arr = np.asarray(value)
        if key in update:
            out[key] = (arr.astype(np.float64) + np.asarray(update[key])).astype(arr.dtype)
        else:
            out[key] = arr.copy()
    return out


def aggregation_weights(samples: Mapping[str, float], weighting: Weighting) -> dict[str, float]:
    """Normalised aggregation weights per module: by sample count, or uniform.

    With ``samples`` and no module having sampled anything, the weights are uniform.
    """
    if not samples:
        raise ValueError("samples must name at least one module")
    if weighting not in _WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(_WEIGHTINGS)}, got {weighting!r}")
    for mid, count in samples.items():
        if not math.isfinite(count) or count < 0:
            raise ValueError(f"samples[{mid!r}] must be a finite count >= 0, got {count}")
    total = float(sum(samples.values()))
    if weighting == "uniform" or total <= 0:
        return {mid: 1.0 / len(samples) for mid in samples}
    return {mid: float(count) / total for mid, count in samples.items()}


@dataclass
class RoundOutcome:
    """The new global model of one group and per-module diagnostics of the round."""

    global_state: dict[str, Array]
    update_norms: dict[str, float]  # ‖Δ_i‖₂ before clipping (empty without a reference)
    clipped: dict[str, bool]  # whether Δ_i was scaled down (empty without DP)
    noise_norms: dict[str, float]  # ‖noise_i‖₂ added to Δ_i (empty without DP)


def federated_round(
    reference: StateDict | None,
    local_states: Mapping[str, StateDict],
    weights: Mapping[str, float],
    dp: DPConfig | None,
    rng: np.random.Generator,
) -> RoundOutcome:
    """One FedAvg round over one group of same-architecture modules.

    Without DP, the new global is the weighted mean of the local states (``reference``
    only serves the update-norm diagnostics and may be None). With DP, each module's
    update against ``reference`` is clipped and noised (in sorted module order, drawing
    from ``rng``) and the weighted mean of the privatised updates is added to it.
    """
    mids = sorted(local_states)
    if not mids:
        raise ValueError("local_states must not be empty")
    if set(weights) != set(mids):
        raise ValueError(f"weights name {sorted(weights)}, local_states name {mids}")
    w = [float(weights[m]) for m in mids]
    if reference is not None:
        _check_same_layout([reference, *(local_states[m] for m in mids)], ["reference", *mids])
    norms: dict[str, float] = {}
    if dp is None:
        if reference is not None:
            norms = {m: l2_norm(module_update(local_states[m], reference)) for m in mids}
        new_global = weighted_average([local_states[m] for m in mids], w)
        return RoundOutcome(new_global, norms, {}, {})
    if reference is None:
        raise ValueError("reference (the previous global model) is required with DP")
    total_w = sum(w)
    if not math.isfinite(total_w) or total_w <= 0 or min(w) < 0:
        raise ValueError(f"weights must be finite, >= 0 and not all zero, got {w}")
    mean_update: dict[str, Array] = {}
    clipped: dict[str, bool] = {}
    noise_norms: dict[str, float] = {}
    for m, wm in zip(mids, w, strict=True):
        private, norm, noise_norm = privatize_update(
            module_update(local_states[m], reference), dp, rng
        )
        norms[m] = norm
        clipped[m] = dp.clip_norm is not None and norm > dp.clip_norm
        noise_norms[m] = noise_norm
        for key, value in private.items():
            contribution = (wm / total_w) * np.asarray(value, dtype=np.float64)
            mean_update[key] = (
                mean_update[key] + contribution if key in mean_update else contribution
            )
    return RoundOutcome(apply_update(reference, mean_update), norms, clipped, noise_norms)


def architecture_groups(states: Mapping[str, StateDict]) -> list[list[str]]:
    """Module ids grouped by identical (name, shape, dtype) layout; sorted, groups by first id."""
    by_layout: dict[tuple[tuple[str, tuple[int, ...], str], ...], list[str]] = {}
    for mid in sorted(states):
        layout = tuple(
            (key, tuple(np.shape(value)), np.asarray(value).dtype.str)
            for key, value in sorted(states[mid].items())
        )
        by_layout.setdefault(layout, []).append(mid)
    return sorted(by_layout.values(), key=lambda group: group[0])


# --------------------------------------------------------------------------- callback state


@dataclass
class FedAvgState:
    """What the callback carries between rounds and across checkpoints."""

    rounds: int = 0
    groups: list[list[str]] = field(default_factory=list)  # averaged groups (>= 2 modules)
    reference: dict[str, dict[str, Array]] = field(default_factory=dict)  # first id -> θ_g
    samples_at_last_round: dict[str, float] = field(default_factory=dict)
    accountant: PrivacyAccountant | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain containers and numpy arrays (pickle- and msgpack-friendly)."""
        return {
            "version": 1,
            "rounds": self.rounds,
            "groups": [list(g) for g in self.groups],
            "reference": {
                k: {n: np.asarray(a) for n, a in v.items()} for k, v in self.reference.items()
            },
            "samples_at_last_round": dict(self.samples_at_last_round),
            "accountant": None if self.accountant is None else self.accountant.state_dict(),
        }

    def load_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`to_dict`; the groups must match this run's modules."""
        groups = [list(g) for g in state["groups"]]
        if groups != self.groups:
            raise ValueError(
                f"checkpointed federated-averaging groups {groups} differ from this run's "
                f"{self.groups} (different modules or policies_to_train?)"
            )
        self.rounds = int(state["rounds"])
        self.reference = {
            str(k): {str(n): np.array(a) for n, a in v.items()}
            for k, v in state["reference"].items()
        }
        self.samples_at_last_round = {
            str(k): float(v) for k, v in state["samples_at_last_round"].items()
        }
        saved = state.get("accountant")
        if self.accountant is not None:
            if saved is None:
                raise ValueError("checkpoint has no privacy accountant, but this run has DP on")
            self.accountant.load_state_dict(saved)


# --------------------------------------------------------------------------- RLlib glue


def _learner_group(algorithm: Algorithm) -> LearnerGroup:
    if algorithm.learner_group is None:
        raise ValueError("federated averaging needs the new API stack (a LearnerGroup)")
    return algorithm.learner_group


def _trainable_modules(algorithm: Algorithm, module_ids: Sequence[str]) -> list[str]:
    """The module ids RLlib trains (``config.policies_to_train``: None, container or callable)."""
    selector: Any = None if algorithm.config is None else algorithm.config.policies_to_train
    if selector is None:
        return sorted(module_ids)
    if callable(selector):
        return sorted(m for m in module_ids if selector(m, None))
    return sorted(m for m in module_ids if m in set(selector))


def _set_module_state(runner: Any, module_state: Any) -> None:
    """Set an EnvRunner's modules without ``WEIGHTS_SEQ_NO``: RLlib then always applies it."""
    if isinstance(module_state, ray.ObjectRef):
        module_state = ray.get(module_state)
    runner.set_state({COMPONENT_RL_MODULE: module_state})


def _push_to_env_runners(algorithm: Algorithm, module_ids: Sequence[str]) -> None:
    """Send the Learner's modules to every EnvRunner, forcing the update (no seq number)."""
    if not module_ids:
        return
    components = [f"{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}/{m}" for m in module_ids]
    module_state = _learner_group(algorithm).get_state(components=components, inference_only=True)[
        COMPONENT_LEARNER
    ][COMPONENT_RL_MODULE]
    groups: list[EnvRunnerGroup | None] = [
        algorithm.env_runner_group,
        algorithm.eval_env_runner_group,
    ]
    for group in groups:
        if group is None:
            continue
        if group.local_env_runner is not None:
            _set_module_state(group.local_env_runner, module_state)
        if group.num_remote_env_runners() > 0:
            ref = ray.put(module_state)
            group.foreach_env_runner(
                functools.partial(_set_module_state, module_state=ref),
                local_env_runner=False,
                timeout_seconds=None,
            )


def _lifetime_samples(result: Mapping[str, Any]) -> dict[str, float]:
    env_runners = result.get("env_runners")
    counts = env_runners.get(_SAMPLES_KEY) if isinstance(env_runners, Mapping) else None
    if not isinstance(counts, Mapping):
        return {}
    return {str(k): float(v) for k, v in counts.items()}


class FedAvgCallback(RLlibCallback):
    """RLlib callback: FedAvg (optionally DP) of the trainable modules every K iterations.

    Subclassed by :func:`make_fedavg_callback`, which sets :attr:`fedavg_config`.
    Acts on the driver only (``on_algorithm_init``, ``on_train_result``); the copies
    RLlib builds inside EnvRunners stay idle.
    """

    fedavg_config: FedAvgConfig = FedAvgConfig()

    def __init__(self) -> None:
        super().__init__()
        cfg = self.fedavg_config
        self.state = FedAvgState(
            accountant=None if cfg.dp is None else PrivacyAccountant(cfg.dp.noise_multiplier)
        )
        self._num_modules = 0

    # -------------------------------------------------------------- checkpoint state

    def state_dict(self) -> dict[str, Any]:
        """The callback's state as stored in the algorithm checkpoint."""
        return self.state.to_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the callback's state from :meth:`state_dict`."""
        self.state.load_dict(state)

    def _hook_algorithm_state(self, algorithm: Algorithm) -> None:
        """Make this callback's state part of ``algorithm.get_state()``/``set_state()``."""
        original_get = algorithm.get_state
        original_set = algorithm.set_state
        callback = self

        def get_state(
            components: Any = None, *, not_components: Any = None, **kwargs: Any
        ) -> dict[str, Any]:
            state = original_get(components, not_components=not_components, **kwargs)
            if algorithm._check_component(STATE_KEY, components, not_components):
                state[STATE_KEY] = callback.state_dict()
            return state

        def set_state(state: dict[str, Any]) -> None:
            original_set(state)
            if STATE_KEY in state:
                callback.load_state_dict(state[STATE_KEY])
            elif "training_iteration" in state and callback.state.groups:
                callback._recover_without_state(int(state["training_iteration"]))

        algorithm.get_state = get_state  # type: ignore[method-assign]
        algorithm.set_state = set_state  # type: ignore[method-assign]

    def _recover_without_state(self, iteration: int) -> None:
        """Restore from a checkpoint saved without this callback: possible without DP only."""
        if self.state.accountant is not None:
            raise ValueError(
                "checkpoint has no federated-averaging state (saved without the fedavg "
                "callback?); with DP on, the privacy budget spent before it is unknown"
            )
        logger.warning("checkpoint has no federated-averaging state; rounds recomputed")
        self.state.rounds = iteration // self.fedavg_config.every
        self.state.reference = {}
        self.state.samples_at_last_round = {}

    # -------------------------------------------------------------- RLlib hooks

    def on_algorithm_init(
        self,
        *,
        algorithm: Algorithm,
        metrics_logger: MetricsLogger | None = None,
        **kwargs: Any,
    ) -> None:
        """Find the groups of averageable modules and give each group one initial model."""
        self._hook_algorithm_state(algorithm)
        weights = _learner_group(algorithm).get_weights()
        self._num_modules = len(weights)
        trainable = _trainable_modules(algorithm, list(weights))
        float_modules = {
            m: weights[m] for m in trainable if any(_is_float(a) for a in weights[m].values())
        }
        self.state.groups = [g for g in architecture_groups(float_modules) if len(g) > 1]
        if not self.state.groups:
            return
        new_weights: dict[str, dict[str, Array]] = {}
        for group in self.state.groups:
            initial = {k: np.array(v) for k, v in weights[group[0]].items()}
            self.state.reference[group[0]] = initial
            for m in group:
                new_weights[m] = initial
        _learner_group(algorithm).set_weights(new_weights)
        _push_to_env_runners(algorithm, sorted(new_weights))

    def on_train_result(
        self,
        *,
        algorithm: Algorithm,
        metrics_logger: MetricsLogger | None = None,
        result: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        """Every K iterations: average, write to the Learner and EnvRunners; always report."""
        cfg = self.fedavg_config
        state = self.state
        iteration = int(result.get("training_iteration", algorithm.training_iteration))
        averaged_ids = [m for g in state.groups for m in g]
        report: dict[str, Any] = {
            "rounds": state.rounds,
            "averaged": False,
            "modules": len(averaged_ids),
            "modules_total": self._num_modules,
            "groups": len(state.groups),
            "every": cfg.every,
            "weighting": cfg.weighting,
            "epsilon": None,
            "delta": None,
        }
        if not state.groups:
            report["note"] = (
                "single module (shared policy): nothing to average"
                if self._num_modules <= 1
                else "no two trainable modules share an architecture: nothing to average"
            )
            result[STATE_KEY] = report
            return
        if iteration % cfg.every == 0:
            report.update(self._round(algorithm, result))
        report["rounds"] = state.rounds
        report["next_round_at"] = (iteration // cfg.every + 1) * cfg.every
        if cfg.dp is not None and state.accountant is not None:
            report["epsilon"] = state.accountant.epsilon(cfg.dp.delta)
            report["delta"] = cfg.dp.delta
            report["noise_multiplier"] = cfg.dp.noise_multiplier
            report["clip_norm"] = cfg.dp.clip_norm
        result[STATE_KEY] = report

    def _round(self, algorithm: Algorithm, result: Mapping[str, Any]) -> dict[str, Any]:
        cfg = self.fedavg_config
        state = self.state
        module_ids = [m for g in state.groups for m in g]
        local = _learner_group(algorithm).get_weights(module_ids=module_ids)
        lifetime = _lifetime_samples(result)
        samples = {
            m: max(lifetime.get(m, 0.0) - state.samples_at_last_round.get(m, 0.0), 0.0)
            for m in module_ids
        }
        rng = np.random.default_rng([cfg.seed, state.rounds])
        new_weights: dict[str, dict[str, Array]] = {}
        used_weights: dict[str, float] = {}
        outcomes: list[RoundOutcome] = []
        for group in state.groups:
            weights = aggregation_weights({m: samples[m] for m in group}, cfg.weighting)
            outcome = federated_round(
                state.reference.get(group[0]),
                {m: local[m] for m in group},
                weights,
                cfg.dp,
                rng,
            )
            state.reference[group[0]] = outcome.global_state
            for m in group:
                new_weights[m] = outcome.global_state
            used_weights.update(weights)
            outcomes.append(outcome)
        _learner_group(algorithm).set_weights(new_weights)
        _push_to_env_runners(algorithm, sorted(new_weights))
        if state.accountant is not None:
            state.accountant.step()
        state.rounds += 1
        state.samples_at_last_round = {m: lifetime.get(m, 0.0) for m in module_ids}

        norms = [n for o in outcomes for n in o.update_norms.values()]
        clipped = [c for o in outcomes for c in o.clipped.values()]
        noise = [n for o in outcomes for n in o.noise_norms.values()]
        return {
            "averaged": True,
            "weights": used_weights,
            "samples": samples,
            "mean_update_norm": float(np.mean(norms)) if norms else None,
            "max_update_norm": float(np.max(norms)) if norms else None,
            "clip_fraction": (
                float(np.mean(clipped))
                if cfg.dp is not None and cfg.dp.clip_norm is not None
                else None
            ),
            "mean_noise_norm": float(np.mean(noise)) if cfg.dp is not None else None,
        }


def make_fedavg_callback(cfg: FedAvgConfig) -> type[RLlibCallback]:
    """An :class:`FedAvgCallback` subclass bound to ``cfg``, for ``config.callbacks(...)``.

    RLlib instantiates callback classes without arguments, hence a class per config;
    ray's cloudpickle stores it by value in checkpoints and ships it to EnvRunners.
    """
    if not isinstance(cfg, FedAvgConfig):
        raise ValueError(f"cfg must be a FedAvgConfig, got {_describe(cfg)}")
    return type("BoundFedAvgCallback", (FedAvgCallback,), {"fedavg_config": cfg})
