"""Baseline policies for ``QPUAllocation-v0`` (DESIGN.md §4).

Every baseline decides one action per *gateway* (0 defer the head task, j send it to
QPU j − 1) with numpy over all gateways, from the gateways' own observation rows and
action masks, stacked in ``possible_agents`` order. A gateway's action depends on its
own row and mask only (no gateway reads another's, none reads the env's internals), so
each baseline is a decentralised rule that could run at the gateway. Each only ever
sends actions its mask allows, and sends its head task somewhere whenever the mask
allows a QPU: none of them defers on purpose.

What each knows, and what it does:

* ``random`` (the action mask): uniform over the *allowed QPUs*; it defers only when
  the mask allows no QPU (no head task, or no QPU can run it). Defer is deliberately
  not one of its uniform choices: a random dispatcher that defers with probability
  1/(1 + allowed QPUs) lets tasks age towards their deadlines for nothing, a straw
  man that any rule beats.
* ``round_robin`` (the action mask): per gateway a counter c (0 at reset); the first
  allowed QPU among c, c + 1, …, c + M − 1 (mod M), then c = that QPU + 1, so the
  gateway's successive tasks cycle over the QPUs that can run them.
* ``least_loaded`` (its row's ``wait`` and ``runtime`` of every QPU): the allowed QPU
  with the smallest ``wait`` (time until the QPU's queue is empty), ties broken by the
  smallest ``runtime`` of the head task there, then by the lowest index. Both fields
  are clipped at ``TIME_SCALE_S`` (60 s, :mod:`qenv.envs.qpu.observation`): QPUs with
  more than a minute of backlog all read 1 and it then picks among them by runtime.
* ``best_fidelity`` (its row's ``esp`` and ``wait``): the allowed QPU with the highest
  ``esp`` (estimated success probability of the head task under the *published*
  calibration, which lags the drifting true noise), ties broken by the least ``wait``,
  then by the lowest index. It ignores queues otherwise, so it piles tasks onto the
  best device: the error-rate end of the trade-off.

* ``hyperscore_greedy`` (its row's ``hyperscore`` and ``wait``): the allowed QPU with the
  highest AHMO HyperScore (the normalised ``hyperscore`` slot of each QPU block, filled by
  the env's scoring pipeline, :mod:`qenv.scoring`), ties broken by the least ``wait``,
  then by the lowest index. The HyperScore grows with V, which weighs the predicted
  success (QNC), the dispatch context (Meta: queue wait and runtime against the task's
  deadline) and the task's other sub-scores; so it trades error rate against waiting,
  with the weights of the env's ``scoring`` parameters. With ``scoring="fidelity"`` (no
  HyperScore) every slot is 0 and it degenerates to least ``wait``.

Randomness (``random`` only) comes from the policy's own ``np.random.Generator``,
seeded by ``reset(env, seed)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
MaskArray = npt.NDArray[np.int8]

ENV_ID = "QPUAllocation-v0"


class GatewayPolicy:
    """Base of gateway-level policies for ``QPUAllocation-v0``.

    Subclasses implement :meth:`gateway_actions` on the stacked gateway rows ``(G, D)``
    and masks ``(G, 1 + M)`` and may extend :meth:`reset` (call ``super().reset``).
    """

    name: str = "gateway"

    def __init__(self) -> None:
        self._env: Any = None
        self.agents: list[str] = []
        self.n_gateways = 0
        self.n_qpus = 0
        self.size = 0
        self.fields: dict[str, slice] = {}
        self._index: dict[str, int] = {}

    @property
    def env(self) -> Any:
        """The unwrapped env of the current episode (set by :meth:`reset`)."""
        if self._env is None:
            raise RuntimeError(f"{self.name}: call reset(env) before act()")
        return self._env

    def reset(self, env: Any, seed: int | None = None) -> None:
        inner = env.unwrapped
        if not hasattr(inner, "gateway_actions_to_agents") or not hasattr(inner, "layout"):
            raise ValueError(
                f"{self.name}: a policy for {ENV_ID}, got {type(inner).__name__} "
                "(use make_policy(name, env_id) with the env's id)"
            )
        self._env = inner
        self.agents = list(inner.possible_agents)
        self._index = {a: i for i, a in enumerate(self.agents)}
        self.n_gateways = len(self.agents)
        self.n_qpus = int(inner.n_qpus)
        self.size = int(inner.layout.size)
        self.fields = dict(inner.layout.fields)

    def qpu_columns(self, name: str) -> IntArray:
        """Indices (M,) of field ``name`` of every QPU block in a gateway row."""
        layout = self.env.layout
        return np.array([layout.qpu_field(j, name) for j in range(self.n_qpus)], dtype=np.int64)

    def stack(self, observations: dict[str, dict[str, np.ndarray]]) -> tuple[FloatArray, MaskArray]:
        """Gateway rows (G, D) and masks (G, 1 + M); a gateway without an observation
        gets a zero row and a defer-only mask."""
        g, m = self.n_gateways, self.n_qpus
        if len(observations) == g:
            try:
                obs = [observations[a] for a in self.agents]
            except KeyError:
                pass
            else:
                rows = np.stack([o["observation"] for o in obs]).astype(np.float32, copy=False)
                masks = np.stack([o["action_mask"] for o in obs]).astype(np.int8, copy=False)
                return rows, masks
        rows = np.zeros((g, self.size), dtype=np.float32)
        masks = np.zeros((g, 1 + m), dtype=np.int8)
        masks[:, 0] = 1
        for agent, o in observations.items():
            i = self._index[agent]
            rows[i] = o["observation"]
            masks[i] = o["action_mask"]
        return rows, masks

    def act(self, observations: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
        env = self.env
        rows, masks = self.stack(observations)
        actions = self.gateway_actions(rows, masks)
        if list(observations) == list(env.agents):
            out: dict[str, Any] = env.gateway_actions_to_agents(actions)
            return out
        return {a: int(actions[self._index[a]]) for a in observations}

    def gateway_actions(self, rows: FloatArray, masks: MaskArray) -> IntArray:
        """One action per gateway (G,) from gateway rows (G, D) and masks (G, 1 + M)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _lexi_best(allowed: npt.NDArray[np.bool_], *keys: npt.NDArray[Any]) -> IntArray:
    """Per row, the action (1 + column) of the allowed column that is smallest in
    ``keys[0]``, ties broken by ``keys[1]``, …, then by the lowest column; 0 (defer)
    where no column is allowed."""
    cand = allowed.copy()
    for key in keys:
        k = np.where(cand, key.astype(np.float64), np.inf)
        cand &= k == k.min(axis=1, keepdims=True)
    best = np.argmax(cand, axis=1) + 1
    return np.where(allowed.any(axis=1), best, 0).astype(np.int64)


class QPURandomPolicy(GatewayPolicy):
    """Each gateway sends its head task to a QPU drawn uniformly among those its mask
    allows; it defers only when none is allowed (module docstring: why defer is not a
    uniform choice).

    Knows only the mask. Randomness from its own ``np.random.Generator``, seeded by
    ``reset(env, seed)`` (``seed=None``: fresh entropy).
    """

    name = "random"

    def __init__(self) -> None:
        super().__init__()
        self.rng = np.random.default_rng()

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        self.rng = np.random.default_rng(seed)

    def gateway_actions(self, rows: FloatArray, masks: MaskArray) -> IntArray:
        allowed = masks[:, 1:] > 0
        count = allowed.sum(axis=1)
        pick = np.floor(self.rng.random(count.size) * count).astype(np.int64)
        # The (pick + 1)-th allowed QPU: first column whose running count exceeds pick.
        choice = np.argmax(np.cumsum(allowed, axis=1) > pick[:, None], axis=1) + 1
        return np.where(count > 0, choice, 0).astype(np.int64)


class QPURoundRobinPolicy(GatewayPolicy):
    """Each gateway sends its head task to the next QPU its mask allows, cyclically.

    Knows only the mask. Per gateway a counter c (0 at reset): the gateway sends to the
    first allowed QPU among c, c + 1, …, c + M − 1 (mod M) and sets c to that QPU + 1.
    A gateway whose mask allows no QPU defers and keeps its counter.
    """

    name = "round_robin"

    def __init__(self) -> None:
        super().__init__()
        self.counter = np.zeros(0, dtype=np.int64)

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        self.counter = np.zeros(self.n_gateways, dtype=np.int64)

    def gateway_actions(self, rows: FloatArray, masks: MaskArray) -> IntArray:
        m = self.n_qpus
        allowed = masks[:, 1:] > 0  # (G, M)
        order = (self.counter[:, None] + np.arange(m)) % m  # QPUs in the gateway's cycle
        ok = np.take_along_axis(allowed, order, axis=1)
        any_ok = ok.any(axis=1)
        qpu = order[np.arange(order.shape[0]), np.argmax(ok, axis=1)]
        self.counter = np.where(any_ok, (qpu + 1) % m, self.counter)
        return np.where(any_ok, qpu + 1, 0).astype(np.int64)


class LeastLoadedPolicy(GatewayPolicy):
    """Each gateway sends its head task to the allowed QPU whose queue empties first.

    Knows its own row: the ``wait`` (time until the QPU's queue is empty) and ``runtime``
    (of the head task on the QPU) fields of every QPU block, both clipped at 60 s.
    Smallest ``wait``; ties: smallest ``runtime``, then lowest index. Defers only when
    no QPU is allowed.
    """

    name = "least_loaded"

    def __init__(self) -> None:
        super().__init__()
        self._wait = np.zeros(0, dtype=np.int64)
        self._runtime = np.zeros(0, dtype=np.int64)

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        self._wait = self.qpu_columns("wait")
        self._runtime = self.qpu_columns("runtime")

    def gateway_actions(self, rows: FloatArray, masks: MaskArray) -> IntArray:
        return _lexi_best(masks[:, 1:] > 0, rows[:, self._wait], rows[:, self._runtime])


class BestFidelityPolicy(GatewayPolicy):
    """Each gateway sends its head task to the allowed QPU where it most likely succeeds.

    Knows its own row: the ``esp`` (estimated success probability of the head task
    under the published calibration) and ``wait`` fields of every QPU block. Highest
    ``esp``; ties: least ``wait``, then lowest index. Defers only when no QPU is allowed.
    """

    name = "best_fidelity"

    def __init__(self) -> None:
        super().__init__()
        self._esp = np.zeros(0, dtype=np.int64)
        self._wait = np.zeros(0, dtype=np.int64)

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        self._esp = self.qpu_columns("esp")
        self._wait = self.qpu_columns("wait")

    def gateway_actions(self, rows: FloatArray, masks: MaskArray) -> IntArray:
        return _lexi_best(masks[:, 1:] > 0, -rows[:, self._esp], rows[:, self._wait])


class HyperScoreGreedyPolicy(GatewayPolicy):
    """Each gateway sends its head task to the allowed QPU with the highest HyperScore.

    Knows its own row: the ``hyperscore`` (normalised AHMO HyperScore of the head task on
    the QPU) and ``wait`` fields of every QPU block. Highest ``hyperscore``; ties: least
    ``wait``, then lowest index. Defers only when no QPU is allowed.
    """

    name = "hyperscore_greedy"

    def __init__(self) -> None:
        super().__init__()
        self._score = np.zeros(0, dtype=np.int64)
        self._wait = np.zeros(0, dtype=np.int64)

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        self._score = self.qpu_columns("hyperscore")
        self._wait = self.qpu_columns("wait")

    def gateway_actions(self, rows: FloatArray, masks: MaskArray) -> IntArray:
        return _lexi_best(masks[:, 1:] > 0, -rows[:, self._score], rows[:, self._wait])


__all__ = [
    "BestFidelityPolicy",
    "GatewayPolicy",
    "HyperScoreGreedyPolicy",
    "LeastLoadedPolicy",
    "QPURandomPolicy",
    "QPURoundRobinPolicy",
]
