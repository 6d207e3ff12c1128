"""QPUAllocation-v0: edge gateways dispatching quantum tasks to heterogeneous QPUs (AHMO's world).

PettingZoo ``ParallelEnv``. Each edge gateway is an agent with its own stream of quantum
tasks (VQE, QAOA MaxCut/TSP, GHZ, QFT, OpenQASM files). Every slot it either defers its
oldest waiting task or sends it to one of M shared QPUs of different technologies
(superconducting from IBM calibration snapshots, trapped-ion from published specs,
photonic synthetic). A QPU runs its queue first in, first out; a task's success
probability is the estimated success probability (ESP, with idle decoherence) of its
circuit routed on the device, under the device's true noise when it starts, which
drifts away from the calibration the agents see. Dynamics: :mod:`qenv.envs.qpu.dynamics`.

| | |
| --- | --- |
| Agents | ``gateway_0 … gateway_{G-1}`` |
| Action | ``Discrete(1 + M)``: 0 defer the head task, j send it to QPU j − 1 |
| Observation | ``Dict(observation=Box(0, 1, (D,), float32), action_mask=Box(0, 1, (1 + M,), int8))`` |
| Action mask | defer always; QPU j only for a head task whose circuit fits the device and whose gates translate to its basis |
| Reward | per gateway: Σ over its completed tasks of priority·(success probability − late·[after deadline]) − drop·Σ priority of dropped tasks − invalid·(invalid actions) (:class:`~qenv.envs.qpu.dynamics.RewardConfig`) |
| Termination | never; every agent is *truncated* after ``horizon`` slots |
| Invalid action | outside the mask or not an integer in range: not executed, counted (``infos[agent]["invalid_action"]``, metric ``invalid_actions``), penalised |
| Info | ``{}`` per slot, ``"invalid_action": True`` when refused, ``"episode"`` (metrics) on the last slot |
| Render | ``"ansi"`` (queues and QPUs as text) and ``"rgb_array"`` (bar charts of QPU backlogs and gateway queues) |

Observation fields of a gateway (M QPUs; every value scaled into [0, 1]):

{fields}

Metrics (``infos[agent]["episode"]`` on the last slot, and :meth:`metrics` any time):
``throughput`` (completed tasks per second), ``error_rate`` (1 − mean success
probability of completed tasks), ``mean_completion_time`` (s from arrival to the end of
the run), ``utilisation`` (busy time / (M × elapsed)), ``deadline_miss_rate`` ((late +
dropped) / (completed + dropped)), ``invalid_actions``, plus counts.

### Arguments
- ``scenario``: a YAML file in ``configs/qpu_scenarios/`` (``default``: 4 gateways, 6
  QPUs, the mixed workload, 1,000 slots of 0.1 s; ``small``) or a path to one.
- ``scenario_seed``: seeds the workload's circuit library (fixed for the env's life; the
  tasks and the noise of each episode come from ``reset(seed=...)``).
- ``scenario_overrides``: dotted-key overrides (``{"gateways": 8, "drift.sigma": 0}``).
- ``horizon``: slots per episode (default: the scenario's).
- ``reward``: a :class:`~qenv.envs.qpu.dynamics.RewardConfig` or a mapping of its fields.
- ``scoring``: parameters of the AHMO pipeline (:mod:`qenv.scoring`), the default scorer:
  a YAML path (e.g. one written by ``qenv meta-opt``), a mapping of the same schema or a
  ``ScoringParams``; ``None`` reads ``configs/scoring/default.yaml``; ``"fidelity"`` uses
  :func:`~qenv.envs.qpu.dynamics.fidelity_score` (logic and QNC only) instead. The
  (circuit, QPU) sub-scores are computed once at construction (a sandbox child process
  and a qutip simulation per pair, cached per process and on disk), the rest per step in a compiled
  gather (:class:`~qenv.envs.qpu.dynamics.AHMOScorer`).
- ``qpu_scorer``: a callable filling the 7 AHMO slots of every QPU block from a
  :class:`~qenv.envs.qpu.dynamics.HeadView` instead of the AHMO pipeline (e.g.
  :func:`~qenv.envs.qpu.dynamics.fidelity_score`); not together with ``scoring``.
- ``render_mode``: ``None``, ``"ansi"`` or ``"rgb_array"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium
import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from pettingzoo import ParallelEnv

from qenv.envs.entanglement.env import _as_int
from qenv.envs.qpu.dynamics import (
    DispatchCore,
    QPUScorer,
    RewardConfig,
    make_qpu_scorer,
)
from qenv.envs.qpu.observation import QPUObservationLayout, observe

ObsDict = dict[str, npt.NDArray[Any]]


def _reward_config(reward: RewardConfig | Mapping[str, Any] | None) -> RewardConfig:
    if reward is None or isinstance(reward, RewardConfig):
        return reward or RewardConfig()
    if not isinstance(reward, Mapping):
        raise ValueError(f"reward must be a RewardConfig or a mapping, got {reward!r}")
    known = set(RewardConfig.__dataclass_fields__)
    unknown = sorted(set(reward) - known)
    if unknown:
        raise ValueError(f"reward: unknown field(s) {unknown}; known: {sorted(known)}")
    return RewardConfig(**reward)


class QPUAllocationEnv(ParallelEnv[str, ObsDict, Any]):
    __doc__ = (__doc__ or "").replace(
        "{fields}",
        QPUObservationLayout(
            n_qpus=6, families=("vqe", "qaoa_maxcut", "qaoa_tsp", "ghz", "qft", "qasm")
        ).describe(),
    )

    metadata: ClassVar[dict[str, Any]] = {
        "name": "QPUAllocation-v0",
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 10,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        scenario: str = "default",
        scenario_seed: int = 0,
        *,
        scenario_overrides: Mapping[str, Any] | None = None,
        horizon: int | None = None,
        reward: RewardConfig | Mapping[str, Any] | None = None,
        qpu_scorer: QPUScorer | None = None,
        scoring: Any = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        from qenv.qpu_scenarios import load_qpu_scenario

        sc = load_qpu_scenario(scenario, scenario_seed, **dict(scenario_overrides or {}))
        self.scenario_name = sc.name
        self.render_mode = render_mode
        self.core = DispatchCore(
            sc.fleet,
            sc.workload,
            sc.gateways,
            dt=sc.dt,
            horizon=int(sc.env.get("horizon", 1000)) if horizon is None else horizon,
            drift=sc.drift,
            reward=_reward_config(reward),
        )
        core = self.core
        self.qpu_scorer: QPUScorer = make_qpu_scorer(qpu_scorer, scoring, core)
        self.layout = QPUObservationLayout(core.n_qpus, core.families)
        self.possible_agents = [f"gateway_{i}" for i in range(core.n_gateways)]
        obs_space = spaces.Dict(
            {
                "observation": spaces.Box(0.0, 1.0, (self.layout.size,), dtype=np.float32),
                "action_mask": spaces.Box(0, 1, (1 + core.n_qpus,), dtype=np.int8),
            }
        )
        act: spaces.Discrete[Any] = spaces.Discrete(1 + core.n_qpus)
        self._obs_spaces = {a: obs_space for a in self.possible_agents}
        self._act_spaces = {a: act for a in self.possible_agents}
        self.state_space = spaces.Box(
            0.0, 1.0, (core.n_gateways * self.layout.size,), dtype=np.float32
        )
        self.agents: list[str] = []
        self._rng: np.random.Generator | None = None
        self._mask = np.zeros((core.n_gateways, 1 + core.n_qpus), dtype=np.int8)
        self._obs = np.zeros((core.n_gateways, self.layout.size), dtype=np.float32)

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> gymnasium.spaces.Space[Any]:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space[Any]:
        return self._act_spaces[agent]

    @property
    def n_qpus(self) -> int:
        return self.core.n_qpus

    @property
    def qpu_names(self) -> list[str]:
        return [q.name for q in self.core.fleet]

    # ------------------------------------------------------------------ API
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, ObsDict], dict[str, dict[str, Any]]]:
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.core.reset(self._rng)
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {} for a in self.agents}

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[
        dict[str, ObsDict],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        if not self.agents:
            raise RuntimeError("step() after the episode ended: call reset() first")
        agents = self.agents
        if list(actions) == agents:  # the usual case: every agent, in order
            values = list(actions.values())
        else:
            unknown = [a for a in actions if a not in self._obs_spaces]
            if unknown:
                raise ValueError(f"actions: unknown agent(s) {unknown[:5]}")
            values = [actions.get(a, 0) for a in agents]
        # Fast path: plain or numpy integers (any out-of-range value is refused by the
        # mask check); anything else goes through _as_int, value by value.
        try:
            gateway_actions = np.array(values)
        except (TypeError, ValueError, OverflowError):
            gateway_actions = np.empty(0)
        if gateway_actions.dtype.kind != "i" or gateway_actions.shape != (len(agents),):
            gateway_actions = np.array([_as_int(v) for v in values], dtype=np.int64)
        out = self.core.step(gateway_actions.astype(np.int64, copy=False), self._mask)
        rewards = dict(zip(agents, out.reward.tolist(), strict=True))
        infos: dict[str, dict[str, Any]] = {a: {} for a in agents}
        if out.invalid.any():
            for i in np.flatnonzero(out.invalid).tolist():
                infos[agents[i]]["invalid_action"] = True
        obs = self._observations()
        ended = self.core.done
        terminations = dict.fromkeys(agents, False)
        truncations = dict.fromkeys(agents, ended)
        if ended:
            summary = self.core.metrics()
            for a in agents:
                infos[a]["episode"] = dict(summary)
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _observations(self) -> dict[str, ObsDict]:
        obs, mask = observe(self.core, self.layout, self.qpu_scorer)
        self._obs, self._mask = obs, mask
        return {
            a: {"observation": o, "action_mask": m}
            for a, o, m in zip(self.agents, list(obs), list(mask), strict=True)
        }

    def core_mask(self) -> npt.NDArray[np.int8]:
        """Action masks of all gateways (G, 1 + M) shown in the latest observations."""
        return self._mask

    def gateway_actions_to_agents(self, actions: npt.ArrayLike) -> dict[str, Any]:
        """Agent actions from one action per gateway (G,)."""
        a = np.asarray(actions, dtype=np.int64).reshape(-1)
        if a.shape != (self.core.n_gateways,):
            raise ValueError(f"actions must have shape ({self.core.n_gateways},), got {a.shape}")
        return dict(zip(self.agents, a.tolist(), strict=True))

    # Policies written for node-level envs call this name.
    node_actions_to_agents = gateway_actions_to_agents

    def state(self) -> npt.NDArray[np.float32]:
        """Global state for centralized critics: every gateway's observation, concatenated."""
        return self._obs.reshape(-1).copy()

    def metrics(self) -> dict[str, float]:
        """Metrics of the current episode so far."""
        return self.core.metrics()

    def render(self) -> npt.NDArray[np.uint8] | str | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; returns None")
            return None
        from qenv.envs.qpu import render

        if self.render_mode == "ansi":
            return render.render_ansi(self)
        return render.render_rgb(self)

    def close(self) -> None:
        from qenv.envs.qpu import render

        render.close(self)
