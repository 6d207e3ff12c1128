"""qenv/EntanglementAllocationCentral-v0: one centralized learner acting for every node.

The same network, requests, dynamics, observation rows and reward as
``EntanglementAllocation-v0`` (see :mod:`qenv.envs.entanglement.env`), as a single-agent
Gymnasium environment. It is the multi-agent environment with one edge cloud holding
all N nodes:

| | |
| --- | --- |
| Action | ``MultiDiscrete([1 + k] * N)``: node i waits (0) or claims path j − 1 of its head request (j) |
| Observation | ``Dict(observation=Box((N·D,), float32), action_mask=Box(0, 1, (N·(1 + k),), int8))``: node rows and masks concatenated in node order |
| Reward | sum of the node rewards (mean with ``reward={"team": True}``) |
| Episode | truncated after ``horizon`` slots; never terminated |
| Info | ``"invalid_actions"`` (refused node actions in the slot) and ``"episode"`` (metrics) on the last slot |

Note that the centralized agent here acts on fresh local rows of every node, made
stale only where the node rows are (remote path information); the ``centralized``
baseline in ``agents/`` models a controller with a globally stale view instead.

Accepts every keyword argument of ``EntanglementAllocation-v0`` except ``agents_per``,
``n_edge_clouds`` and ``regions``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import numpy.typing as npt

from qenv.envs.entanglement.env import EntanglementAllocationEnv, ObsDict


class EntanglementAllocationCentralEnv(gymnasium.Env[ObsDict, npt.NDArray[np.int64]]):
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 10}  # noqa: RUF012

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        for key in ("agents_per", "n_edge_clouds", "regions"):
            if key in kwargs:
                raise ValueError(f"{key}: not an argument of the centralized variant")
        # One edge cloud holding every node, in node order.
        self.inner = EntanglementAllocationEnv(
            render_mode=render_mode, agents_per="edge_cloud", n_edge_clouds=1, **kwargs
        )
        self._agent = self.inner.possible_agents[0]
        self.observation_space = self.inner.observation_space(self._agent)
        self.action_space = self.inner.action_space(self._agent)
        self.render_mode = render_mode

    @property
    def core(self) -> Any:
        return self.inner.core

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsDict, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is None and self.inner._rng is None:
            # Draw the episode seed from Gymnasium's np_random so an unseeded env still
            # follows gymnasium's seeding rules.
            seed = int(self.np_random.integers(2**63 - 1))
        obs, _ = self.inner.reset(seed=seed, options=options)
        return obs[self._agent], {}

    def step(
        self, action: npt.NDArray[np.int64]
    ) -> tuple[ObsDict, float, bool, bool, dict[str, Any]]:
        obs, rewards, _, truncations, infos = self.inner.step({self._agent: action})
        info = infos[self._agent]
        out: dict[str, Any] = {"invalid_actions": int(self.core.last_outcome.invalid.sum())}
        if "episode" in info:
            out["episode"] = info["episode"]
        return (
            obs[self._agent],
            float(rewards[self._agent]),
            False,
            bool(truncations[self._agent]),
            out,
        )

    def render(self) -> Any:
        return self.inner.render()

    def metrics(self) -> dict[str, float]:
        return self.inner.metrics()

    def close(self) -> None:
        self.inner.close()
