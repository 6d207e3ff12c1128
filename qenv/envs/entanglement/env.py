"""EntanglementAllocation-v0: edge nodes allocating entanglement in a quantum network (DPEM).

PettingZoo ``ParallelEnv``. Each edge node (or edge cloud) is an agent that, every
slot, either waits or claims one of the k candidate paths of its oldest queued
request. Claims of all agents are resolved together in a random order: a claim
takes the freshest stored pair on every link of its path and one swap credit at
every inner node; a claim that finds a resource already taken by an earlier
claim is a *contention* event and its request stays queued.

| | |
| --- | --- |
| Agents | ``node_0 … node_{N-1}`` (``agents_per="node"``) or ``cloud_0 … cloud_{C-1}`` (``"edge_cloud"``) |
| Action | ``Discrete(1 + k)``: 0 wait, i claim candidate path i − 1 of the head request; edge clouds: ``MultiDiscrete([1 + k] * S)``, one entry per member node (S = largest cloud) |
| Observation | ``Dict(observation=Box(0, high, (D,), float32), action_mask=Box(0, 1, (1 + k,), int8))``; edge clouds: members' rows and masks concatenated (padding rows are 0, padding masks allow only wait) |
| Reward | per node: delivered pairs (optionally fidelity-weighted) − λ·contention − μ·expired pairs − ν·invalid actions (:class:`RewardConfig`); an edge cloud gets its members' sum; ``team`` gives every agent the mean |
| Termination | never; every agent is *truncated* after ``horizon`` slots |
| Invalid action | outside the mask (or not an integer in range): not executed, counted (``infos[agent]["invalid_action"]``, metric ``invalid_actions``), penalised by ν |
| Info | ``{}`` per slot, ``"invalid_action": True`` when an action was refused, and ``"episode"`` (metrics below) on the last slot |
| Render | ``"ansi"`` (text summary) and ``"rgb_array"`` (the network: links coloured by stored pairs, paths claimed in the slot) |

Observation fields of a node (D = max degree, k paths, H demand slots); stale
where remote (see :mod:`qenv.envs.entanglement.dynamics`):

{fields}

Metrics (``infos[agent]["episode"]`` on the last slot, and :meth:`metrics` any time):
``delivery_rate`` (pairs delivered in time / pairs requested, over requests that
completed or expired), ``due_delivery_rate`` (the same over the requests whose deadline
has passed: at the end, those with deadline <= horizon, a set that does not depend on the
policy; the quantity :mod:`agents.bound` bounds), ``contention_rate`` (contention events / claims),
``mean_latency`` (slots from arrival to a request's last pair), ``mean_fidelity``
(of delivered pairs), ``utilisation`` (generated pairs consumed by claims),
``invalid_actions``, plus counts.

### Arguments
- ``scenario``: name of a YAML file in ``configs/scenarios/`` (``dpem``, ``mesh8``,
  ``chain5``, ``surfnet``) or a path to one. Default ``"dpem"``: the 100-node DPEM
  random mesh, 1,000 slots.
- ``scenario_seed``: seed of the scenario's topology and popularity draws (fixed for the
  env's life; the traffic of each episode comes from ``reset(seed=...)``).
- ``scenario_overrides``: dotted-key overrides of the YAML (``{"topology.n_nodes": 20}``).
- ``horizon``, ``k_paths``: override the scenario's ``env`` section (slots per episode,
  candidate paths per request).
- ``agents_per``: ``"node"`` (default) or ``"edge_cloud"``; ``n_edge_clouds`` (default 10)
  or explicit ``regions`` (lists of node ids) for edge clouds.
- ``demand_horizon``: H predicted-demand slots in the observation (default 5).
- ``reward``: a :class:`RewardConfig` or a mapping of its fields.
- ``observation_delay`` (True), ``processing_delay_s`` (1e-4): classical delay of remote
  information.
- ``mask_infeasible`` (False): also mask paths that look infeasible now.
- ``path_scorer``: fills the per-path ``score`` feature: ``"feasibility"`` (default,
  swap_prob^(hops − 1) where the path looks feasible, else 0), ``"hyperscore"`` (the AHMO
  HyperScore of the path, :class:`~qenv.envs.entanglement.dynamics.PathHyperScorer`: > 0
  exactly where the default is, graded by success probability, fidelity margin and spare
  pairs) or a callable of a ``PathView``.
- ``render_mode``: ``None``, ``"ansi"`` or ``"rgb_array"``.
- ``graph``/``traffic``/``engine_config``: build from objects instead of a scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium
import networkx as nx
import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from pettingzoo import ParallelEnv

from qenv.envs.entanglement.dynamics import (
    AllocationCore,
    PathScorer,
    RewardConfig,
)
from qenv.envs.entanglement.observation import ObservationLayout
from qenv.envs.entanglement.regions import check_regions, member_matrix, voronoi_regions
from qenv.network.engine import EngineConfig
from qenv.network.traffic import RequestGenerator

ObsDict = dict[str, npt.NDArray[Any]]
AGENTS_PER = ("node", "edge_cloud")


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


class EntanglementAllocationEnv(ParallelEnv[str, ObsDict, Any]):
    __doc__ = (__doc__ or "").replace(
        "{fields}", ObservationLayout(max_degree=8, k=3, demand_horizon=5).describe()
    )

    metadata: ClassVar[dict[str, Any]] = {
        "name": "EntanglementAllocation-v0",
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 10,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        scenario: str = "dpem",
        scenario_seed: int = 0,
        *,
        scenario_overrides: Mapping[str, Any] | None = None,
        horizon: int | None = None,
        k_paths: int | None = None,
        agents_per: str = "node",
        n_edge_clouds: int | None = None,
        regions: list[list[int]] | None = None,
        demand_horizon: int = 5,
        reward: RewardConfig | Mapping[str, Any] | None = None,
        observation_delay: bool = True,
        processing_delay_s: float = 1e-4,
        mask_infeasible: bool = False,
        path_scorer: PathScorer | str | None = None,
        render_mode: str | None = None,
        graph: nx.Graph | None = None,
        traffic: RequestGenerator | None = None,
        engine_config: EngineConfig | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        if agents_per not in AGENTS_PER:
            raise ValueError(f"agents_per must be one of {AGENTS_PER}, got {agents_per!r}")
        defaults: dict[str, Any] = {"horizon": 1000, "k_paths": 3}
        if graph is None:
            if traffic is not None:
                raise ValueError("traffic given without graph: pass both, or a scenario")
            from qenv.scenarios import load_scenario

            sc = load_scenario(scenario, scenario_seed, **dict(scenario_overrides or {}))
            graph, traffic = sc.graph, sc.traffic
            engine_config = engine_config or sc.engine
            unknown = sorted(set(sc.env) - set(defaults) - {"reward"})
            if unknown:
                raise ValueError(
                    f"scenario {sc.name!r}: unknown key(s) env.{unknown[0]} in its env section "
                    "(known: env.horizon, env.k_paths, env.reward)"
                )
            defaults.update(sc.env)
            if reward is None:
                reward = defaults.get("reward")
            self.scenario_name = sc.name
        else:
            if traffic is None:
                raise ValueError("graph given without traffic: pass both, or a scenario")
            self.scenario_name = str(graph.graph.get("name", "custom"))
        self.render_mode = render_mode
        self.core = AllocationCore(
            graph,
            traffic,
            engine_config or EngineConfig(),
            horizon=defaults["horizon"] if horizon is None else horizon,
            k_paths=defaults["k_paths"] if k_paths is None else k_paths,
            demand_horizon=demand_horizon,
            reward=_reward_config(reward),
            observation_delay=observation_delay,
            processing_delay_s=processing_delay_s,
            mask_infeasible=mask_infeasible,
            path_scorer=path_scorer,
        )
        core = self.core
        n, k = core.n_nodes, core.k
        self.agents_per = agents_per
        row_high = core.layout.high()
        if agents_per == "node":
            if regions is not None or n_edge_clouds is not None:
                raise ValueError('regions/n_edge_clouds need agents_per="edge_cloud"')
            self.possible_agents = [f"node_{i}" for i in range(n)]
            self.members = np.arange(n, dtype=np.int64)[:, None]
            act: spaces.Space[Any] = spaces.Discrete(1 + k)
        else:
            if regions is None:
                regions = voronoi_regions(graph, 10 if n_edge_clouds is None else n_edge_clouds)
            else:
                regions = check_regions(regions, n)
            self.regions = regions
            self.possible_agents = [f"cloud_{i}" for i in range(len(regions))]
            self.members = member_matrix(regions)
            act = FlatMaskMultiDiscrete(np.full(self.members.shape[1], 1 + k, dtype=np.int64))
        size = self.members.shape[1]
        high = np.tile(row_high, size)
        obs_space = spaces.Dict(
            {
                "observation": spaces.Box(0.0, high, dtype=np.float32),
                "action_mask": spaces.Box(0, 1, (size * (1 + k),), dtype=np.int8),
            }
        )
        self._obs_spaces = {a: obs_space for a in self.possible_agents}
        self._act_spaces = {a: act for a in self.possible_agents}
        self.state_space = spaces.Box(0.0, np.tile(row_high, n), dtype=np.float32)
        self._pad = self.members < 0
        self._member_safe = np.where(self._pad, n, self.members)
        self.agents: list[str] = []
        self._rng: np.random.Generator | None = None
        self._mask = np.zeros((n, 1 + k), dtype=np.int8)
        self._obs = np.zeros((n, core.layout.size), dtype=np.float32)

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> gymnasium.spaces.Space[Any]:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space[Any]:
        return self._act_spaces[agent]

    @property
    def n_nodes(self) -> int:
        return self.core.n_nodes

    @property
    def k_paths(self) -> int:
        return self.core.k

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
        node_actions, pad_invalid = self._node_actions(actions)
        out = self.core.step(node_actions, self._mask)
        if self.agents_per == "node":
            agent_r = out.reward
            agent_bad = out.invalid.astype(np.int64)
        else:
            node_r = np.append(out.reward, 0.0)
            node_bad = np.append(out.invalid, False)
            cfg = self.core.reward_config
            agent_bad = node_bad[self._member_safe].sum(axis=1) + pad_invalid
            pad_penalty = cfg.invalid_penalty * pad_invalid
            if pad_invalid.any():
                self.core.counters.invalid_actions += int(pad_invalid.sum())
                self.core.counters.reward_sum -= float(pad_penalty.sum())
            if cfg.team:  # every node already holds the mean; padding penalties join it
                shared = out.reward[0] - pad_penalty.sum() / self.core.n_nodes
                agent_r = np.full(len(self.agents), shared)
            else:
                agent_r = node_r[self._member_safe].sum(axis=1) - pad_penalty
        agents = self.agents
        rewards = dict(zip(agents, agent_r.tolist(), strict=True))
        infos: dict[str, dict[str, Any]] = {a: {} for a in agents}
        for i in np.flatnonzero(agent_bad).tolist():
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

    def _node_actions(self, actions: Mapping[str, Any]) -> tuple[npt.NDArray[np.int64], Any]:
        """Node actions (N,) from the agents' actions; −1 marks an unusable value."""
        n = self.core.n_nodes
        in_order = list(actions) == self.agents  # the usual case: every agent, in order
        if not in_order:
            unknown = [a for a in actions if a not in self._obs_spaces]
            if unknown:
                raise ValueError(f"actions: unknown agent(s) {unknown[:5]}")
        if self.agents_per == "node":
            values = (
                list(actions.values()) if in_order else [actions.get(a, 0) for a in self.agents]
            )
            try:
                arr = np.asarray(values)
            except (TypeError, ValueError, OverflowError):  # ragged or odd values
                arr = np.empty(0)
            if arr.shape != (n,) or arr.dtype.kind not in "iub":
                arr = np.array([_as_int(v) for v in values], dtype=np.int64)
            return arr.astype(np.int64, copy=False), np.zeros(0, dtype=np.int64)
        size = self.members.shape[1]
        rows = np.zeros((len(self.agents), size), dtype=np.int64)
        for i, a in enumerate(self.agents):
            if a in actions:
                rows[i] = _as_int_vector(actions[a], size)
        node = np.zeros(n + 1, dtype=np.int64)
        node[self._member_safe] = rows
        pad_invalid = (self._pad & (rows != 0)).sum(axis=1)
        return node[:n], pad_invalid

    def _observations(self) -> dict[str, ObsDict]:
        obs, mask = self.core.observe()
        self._obs, self._mask = obs, mask
        if self.agents_per == "node":
            # list(array) makes the row views in C: twice as fast as indexing row by row
            return {
                a: {"observation": o, "action_mask": m}
                for a, o, m in zip(self.agents, list(obs), list(mask), strict=True)
            }
        obs_ext = np.vstack([obs, np.zeros((1, obs.shape[1]), dtype=np.float32)])
        pad_mask = np.zeros((1, mask.shape[1]), dtype=np.int8)
        pad_mask[0, 0] = 1
        mask_ext = np.vstack([mask, pad_mask])
        c = self.members.shape[0]
        o = obs_ext[self._member_safe].reshape(c, -1)
        m = mask_ext[self._member_safe].reshape(c, -1)
        return {a: {"observation": o[i], "action_mask": m[i]} for i, a in enumerate(self.agents)}

    # ------------------------------------------------------------------ node-level helpers
    def node_actions_to_agents(self, node_actions: npt.ArrayLike) -> dict[str, Any]:
        """Agent actions from one action per node (N,), for node-level policies."""
        a = np.asarray(node_actions, dtype=np.int64).reshape(-1)
        if a.shape != (self.core.n_nodes,):
            raise ValueError(f"node_actions must have shape ({self.core.n_nodes},), got {a.shape}")
        if self.agents_per == "node":
            return dict(zip(self.agents, a.tolist(), strict=True))
        ext = np.append(a, 0)[self._member_safe]
        return {agent: ext[i] for i, agent in enumerate(self.agents)}

    def stack_observations(
        self, observations: Mapping[str, ObsDict]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int8]]:
        """Node rows (N, D) and masks (N, 1 + k) from the agents' observations."""
        n, k = self.core.n_nodes, self.core.k
        if self.agents_per == "node" and len(observations) == n:
            try:
                obs = [observations[a] for a in self.possible_agents]
            except KeyError:
                pass
            else:
                rows = np.stack([o["observation"] for o in obs])
                masks = np.stack([o["action_mask"] for o in obs])
                return rows, masks
        d = self.core.layout.size
        rows = np.zeros((n + 1, d), dtype=np.float32)
        masks = np.zeros((n + 1, 1 + k), dtype=np.int8)
        masks[:, 0] = 1
        for i, agent in enumerate(self.possible_agents):
            if agent in observations:
                o = observations[agent]
                rows[self._member_safe[i]] = o["observation"].reshape(-1, d)
                masks[self._member_safe[i]] = o["action_mask"].reshape(-1, 1 + k)
        return rows[:n], masks[:n]

    def set_predicted_demand(self, demand: npt.ArrayLike) -> None:
        """Fill the ``demand`` fields of the next observations: (N, H) expected requests
        per slot for each node (the forecaster wrapper calls this before each step)."""
        arr = np.asarray(demand, dtype=np.float32)
        want = self.core.demand.shape
        if arr.shape != want:
            raise ValueError(
                f"demand must have shape {want} (nodes, demand_horizon), got {arr.shape}"
            )
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError("demand must be finite and >= 0")
        self.core.demand[:] = arr

    def core_mask(self) -> npt.NDArray[np.int8]:
        """The action masks of all nodes (N, 1 + k) shown in the latest observations."""
        return self._mask

    @property
    def layout(self) -> ObservationLayout:
        """Field offsets of a node's observation row."""
        return self.core.layout

    def state(self) -> npt.NDArray[np.float32]:
        """Global state for centralized critics: every node's observation row, concatenated."""
        return self._obs.reshape(-1).copy()

    def metrics(self) -> dict[str, float]:
        """Metrics of the current episode so far."""
        return self.core.metrics()

    def render(self) -> npt.NDArray[np.uint8] | str | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; returns None")
            return None
        from qenv.envs.entanglement import render

        if self.render_mode == "ansi":
            return render.render_ansi(self)
        return render.render_rgb(self)

    def close(self) -> None:
        from qenv.envs.entanglement import render

        render.close(self)


class FlatMaskMultiDiscrete(spaces.MultiDiscrete):
    """MultiDiscrete whose ``sample`` also takes the env's flat action mask.

    The observation carries one flat int8 mask (members × (1 + k), the layout RLlib's
    action-masking modules expect); Gymnasium's ``MultiDiscrete.sample`` wants a tuple
    of per-entry masks, so a flat mask is split before sampling.
    """

    def sample(self, mask: Any = None, probability: Any = None) -> npt.NDArray[np.int64]:
        if mask is not None and not isinstance(mask, tuple):
            mask = tuple(np.asarray(mask, dtype=np.int8).reshape(self.nvec.size, -1))
        out = super().sample(mask=mask, probability=probability)
        return np.asarray(out, dtype=np.int64)


def _as_int(value: Any) -> int:
    """An action as an int, or −1 (invalid) if it is not an integer value."""
    try:
        arr = np.asarray(value)
        if arr.size != 1:
            return -1
        x = arr.reshape(()).item()
        if isinstance(x, bool):
            return int(x)
        if isinstance(x, float) and x.is_integer():
            x = int(x)
        if isinstance(x, int):
            return x if -(2**62) <= x < 2**62 else -1
    except (TypeError, ValueError, OverflowError):
        pass
    return -1


def _as_int_vector(value: Any, size: int) -> npt.NDArray[np.int64]:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        return np.full(size, -1, dtype=np.int64)
    if arr.shape != (size,):
        return np.full(size, -1, dtype=np.int64)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    return np.array([_as_int(v) for v in arr.tolist()], dtype=np.int64)
