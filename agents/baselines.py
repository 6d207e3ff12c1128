"""Baseline policies for ``EntanglementAllocation-v0`` (DESIGN.md §3).

Every baseline decides one action per *node* (0 wait, i claim candidate path i − 1
of the node's head request) with numpy over all nodes, and converts node actions to
agent actions with the env's ``node_actions_to_agents``; node rows and masks come
from ``stack_observations``. So each baseline works for ``agents_per="node"`` and
``"edge_cloud"`` alike, and only ever sends actions its mask allows.

What each knows, and what it does:

* ``random`` (the action mask): uniform over the allowed actions, wait included.
* ``round_robin`` (the action mask): every slot it has a request, the next allowed
  path in a per-node cycle.
* ``greedy`` (its own observation row): the first path whose ``path_score`` > 0
  (looks feasible), else wait.
* ``centralized`` (the global view, ``central_delay`` slots stale): earliest deadline
  first, at most 10 claims per slot, never colliding.
* ``oracle`` (the global view now): as ``centralized`` with no delay, no decision limit.

The two controllers read the environment's internals (``env.unwrapped.core``): they
are privileged references, not agents that could run on the observations alone.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from qenv.network.links import DISABLED

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Tolerance of the engine's swap-credit floor (``floor(credit + 1e-9)``).
_CREDIT_EPS = 1e-9


class NodePolicy:
    """Base of node-level policies: one action per node, converted to agent actions.

    Subclasses implement :meth:`node_actions` on the stacked node rows ``(N, D)`` and
    masks ``(N, 1 + k)`` and may extend :meth:`reset` (call ``super().reset``).
    """

    name: str = "node"

    def __init__(self) -> None:
        self._env: Any = None
        self.n_nodes = 0
        self.k = 0
        self.fields: dict[str, slice] = {}

    @property
    def env(self) -> Any:
        """The unwrapped env of the current episode (set by :meth:`reset`)."""
        if self._env is None:
            raise RuntimeError(f"{self.name}: call reset(env) before act()")
        return self._env

    def reset(self, env: Any, seed: int | None = None) -> None:
        self._env = env.unwrapped
        self.n_nodes = int(self._env.n_nodes)
        self.k = int(self._env.k_paths)
        self.fields = dict(self._env.layout.fields)

    def act(self, observations: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
        env = self.env
        rows, masks = env.stack_observations(observations)
        actions = self.node_actions(np.asarray(rows), np.asarray(masks))
        out: dict[str, Any] = env.node_actions_to_agents(actions)
        return out

    def node_actions(self, rows: npt.NDArray[np.float32], masks: npt.NDArray[np.int8]) -> IntArray:
        """One action per node (N,) from node rows (N, D) and masks (N, 1 + k)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RandomPolicy(NodePolicy):
    """Each node picks uniformly among the actions its mask allows (wait included).

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

    def node_actions(self, rows: npt.NDArray[np.float32], masks: npt.NDArray[np.int8]) -> IntArray:
        allowed = masks > 0
        count = allowed.sum(axis=1)
        pick = np.floor(self.rng.random(count.size) * count).astype(np.int64)
        # The (pick + 1)-th allowed action: first index whose running count exceeds pick.
        choice = np.argmax(np.cumsum(allowed, axis=1) > pick[:, None], axis=1)
        return np.where(count > 0, choice, 0).astype(np.int64)


class RoundRobinPolicy(NodePolicy):
    """Each node with a request claims the next candidate path its mask allows, cyclically.

    Knows only the mask. Per node a counter c (0 at reset): the node claims the first
    allowed path among c, c + 1, …, c + k − 1 (mod k) and sets c to the claimed path + 1,
    so successive claims cycle over the paths. It claims in every slot it has a request,
    whether or not the path holds pairs; a node whose mask allows no path waits.
    """

    name = "round_robin"

    def __init__(self) -> None:
        super().__init__()
        self.counter = np.zeros(0, dtype=np.int64)

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        self.counter = np.zeros(self.n_nodes, dtype=np.int64)

    def node_actions(self, rows: npt.NDArray[np.float32], masks: npt.NDArray[np.int8]) -> IntArray:
        k = self.k
        allowed = masks[:, 1:] > 0  # (N, k)
        order = (self.counter[:, None] + np.arange(k)) % k  # paths in the node's cycle order
        ok = np.take_along_axis(allowed, order, axis=1)
        any_ok = ok.any(axis=1)
        path = order[np.arange(order.shape[0]), np.argmax(ok, axis=1)]
        self.counter = np.where(any_ok, (path + 1) % k, self.counter)
        return np.where(any_ok, path + 1, 0).astype(np.int64)


class GreedyPolicy(NodePolicy):
    """Decentralised greedy: the shortest candidate path that looks feasible, else wait.

    Knows only its own observation row (remote path information is as stale as the
    env's ``observation_delay`` makes it). Claims the first candidate path (paths are
    sorted shortest first) whose ``path_score`` field is > 0 and that its mask allows.
    With the default scorer (:func:`~qenv.envs.entanglement.dynamics.feasibility_score`)
    score > 0 means: a pair reported on every link, swap credit ≥ 1 at every inner node
    and predicted fidelity (freshest pairs, perfect swaps) ≥ F_min; with a custom
    ``path_scorer`` it is whatever that scorer rates above 0. Nodes do not coordinate,
    so claims of different nodes may collide (contention).
    """

    name = "greedy"

    def node_actions(self, rows: npt.NDArray[np.float32], masks: npt.NDArray[np.int8]) -> IntArray:
        ok = (rows[:, self.fields["path_score"]] > 0) & (masks[:, 1:] > 0)
        return np.where(ok.any(axis=1), np.argmax(ok, axis=1) + 1, 0).astype(np.int64)


class CentralizedPolicy(NodePolicy):
    """A controller at ``core.central_node`` with a stale global view and a decision budget.

    Knows, through ``env.unwrapped.core.global_view(delay)``: the stored pairs (with
    their birth slots) and swap credits of the whole network as they were ``delay``
    slots ago, and every node's current head request (its candidate paths, F_min,
    deadline, arrival). It also remembers its own claims of the last ``delay`` slots.

    Each slot it orders the nodes that have a head request by earliest deadline (ties:
    earlier arrival, then node id) and, for each in turn until ``decisions_per_slot``
    claims are made, claims the first candidate path (shortest first) that its mask
    allows and that is feasible *now* in its view:

    * every link has an unreserved stored pair still alive in slot t (t − birth ≤
      cutoff);
    * every inner node has a swap credit: ⌊min(credit + swap_rate·d, swap_burst) −
      credits its claims spent in the last d slots⌋ minus its reservations this slot
      ≥ 1 (d = slots since the snapshot);
    * the predicted end-to-end fidelity with the freshest unreserved pair of each link,
      F = (3·Π w + 1)/4 with w = w0·decay^(t − birth), is ≥ F_min.

    The pairs and credits of a claim are then reserved, so its claims of one slot never
    collide. The env gives a claim the freshest pair of each link, so the controller
    models its claims as taking pairs freshest first: a link's pairs claimed in the last
    d slots (consumed in reality, still in the stale snapshot) are removed from the
    freshest end of that link's pairs in the snapshot. Pairs generated since the
    snapshot are unknown to it; modelled this way (and as the only one claiming), its
    counts of pairs and credits are lower bounds of the real ones, so no claim of it is
    infeasible or contended. What it
    cannot control: every swap must still succeed (``swap_prob``), and when two of its
    claims share a link in one slot the env's random claim order decides which gets the
    fresher pair (its fidelity prediction assumes its own decision order).

    Args:
        delay: staleness of the view in slots; default ``core.central_delay`` (the
            round-trip classical delay between the controller and the farthest node).
            At most ``core.view_depth``, the history the env keeps (``reset`` raises
            ValueError beyond it).
        decisions_per_slot: most claims per slot (default 10); ``None`` for no limit.
    """

    name = "centralized"

    def __init__(self, delay: int | None = None, decisions_per_slot: int | None = 10) -> None:
        super().__init__()
        if delay is not None and (isinstance(delay, bool) or int(delay) != delay or delay < 0):
            raise ValueError(f"delay must be an integer >= 0 or None, got {delay!r}")
        if decisions_per_slot is not None and (
            isinstance(decisions_per_slot, bool)
            or int(decisions_per_slot) != decisions_per_slot
            or decisions_per_slot < 1
        ):
            raise ValueError(
                f"decisions_per_slot must be an integer >= 1 or None, got {decisions_per_slot!r}"
            )
        self._delay = None if delay is None else int(delay)
        self.decisions_per_slot = None if decisions_per_slot is None else int(decisions_per_slot)
        self.delay = 0
        # Own claims of recent slots: (slot, pairs taken per link (L,), credits per node (N,)).
        self._recent: deque[tuple[int, IntArray, IntArray]] = deque()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(delay={self._delay!r}, "
            f"decisions_per_slot={self.decisions_per_slot!r})"
        )

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        core = self.env.core
        self.delay = int(core.central_delay) if self._delay is None else self._delay
        if self.delay > core.view_depth:
            raise ValueError(
                f"delay={self.delay} exceeds the {core.view_depth} slots of history the env "
                "keeps (core.view_depth = max(max_delay, central_delay))"
            )
        self._recent.clear()

    def node_actions(self, rows: npt.NDArray[np.float32], masks: npt.NDArray[np.int8]) -> IntArray:
        core = self.env.core
        view = core.global_view(self.delay)
        t, d = int(view.t), int(view.delay)
        n_links, n_nodes = view.birth.shape[0], self.n_nodes
        actions = np.zeros(n_nodes, dtype=np.int64)
        if self._recent and self._recent[-1][0] == t:  # deciding this slot again
            self._recent.pop()
        # The snapshot is of slot max(t − d, 0): own claims of slots >= t − d are unseen.
        while self._recent and self._recent[0][0] < t - d:
            self._recent.popleft()
        taken_before = np.zeros(n_links, dtype=np.int64)
        spent_before = np.zeros(n_nodes, dtype=np.int64)
        for _, taken, spent in self._recent:
            taken_before += taken
            spent_before += spent

        # Pairs alive now in the snapshot, freshest first, per link.
        birth = view.birth
        alive = birth > DISABLED
        if view.cutoff is not None:
            alive &= t - birth <= view.cutoff
        fresh_first = np.sort(np.where(alive, birth, DISABLED), axis=1)[:, ::-1]
        n_alive = alive.sum(axis=1)
        age = np.where(fresh_first > DISABLED, t - fresh_first, 0)
        w_tab = np.where(fresh_first > DISABLED, view.w0[:, None] * view.decay[:, None] ** age, 0.0)
        q = w_tab.shape[1]
        refills = min(d, t)
        credit = np.minimum(view.credit + view.swap_rate * refills, view.swap_burst)
        units = np.floor(credit - spent_before + _CREDIT_EPS).astype(np.int64)

        nodes = np.flatnonzero((view.head >= 0) & view.valid.any(axis=1))
        if nodes.size == 0:
            self._remember(t, np.zeros(0, np.int64), np.zeros(0, np.int64))
            return actions
        # Paths feasible before any reservation of this slot; reservations only remove
        # options, so only these nodes need the sequential pass.
        allowed = (masks[nodes, 1:] > 0) & view.valid[nodes]
        links = view.links[nodes]  # (M, k, H)
        inner = view.inner[nodes]  # (M, k, H − 1)
        rank0 = taken_before
        ok0 = allowed & self._feasible(
            links, inner, view.f_min[nodes], rank0, n_alive, w_tab, units, q
        )
        keep = ok0.any(axis=1)
        nodes, allowed, links, inner = nodes[keep], allowed[keep], links[keep], inner[keep]
        if nodes.size == 0:
            self._remember(t, np.zeros(0, np.int64), np.zeros(0, np.int64))
            return actions
        order = np.lexsort((nodes, view.arrival[nodes], view.deadline[nodes]))
        rank = taken_before.copy()  # pairs of each link already taken (freshest first)
        used = np.zeros(n_nodes, dtype=np.int64)  # credits reserved this slot
        claimed_links: list[IntArray] = []
        claimed_inner: list[IntArray] = []
        limit = self.decisions_per_slot
        made = 0
        for m in order.tolist():
            ok = (
                allowed[m]
                & self._feasible(
                    links[m][None],
                    inner[m][None],
                    view.f_min[nodes[m : m + 1]],
                    rank,
                    n_alive,
                    w_tab,
                    units - used,
                    q,
                )[0]
            )
            if not ok.any():
                continue
            j = int(np.argmax(ok))
            lk = links[m, j]
            lk = lk[lk >= 0]
            nd = inner[m, j]
            nd = nd[nd >= 0]
            rank[lk] += 1
            used[nd] += 1
            claimed_links.append(lk)
            claimed_inner.append(nd)
            actions[nodes[m]] = j + 1
            made += 1
            if limit is not None and made >= limit:
                break
        self._remember(
            t,
            np.concatenate(claimed_links) if claimed_links else np.zeros(0, np.int64),
            np.concatenate(claimed_inner) if claimed_inner else np.zeros(0, np.int64),
        )
        return actions

    def _remember(self, t: int, links: IntArray, inner: IntArray) -> None:
        if self.delay == 0:
            return
        taken = np.bincount(links, minlength=self.env.core.ends.shape[0]).astype(np.int64)
        spent = np.bincount(inner, minlength=self.n_nodes).astype(np.int64)
        self._recent.append((t, taken, spent))

    @staticmethod
    def _feasible(
        links: IntArray,
        inner: IntArray,
        f_min: FloatArray,
        rank: IntArray,
        n_alive: IntArray,
        w_tab: FloatArray,
        units: IntArray,
        q: int,
    ) -> BoolArray:
        """(M, k): paths with a next pair on every link, a credit at every inner node and
        predicted fidelity >= f_min, given ``rank`` pairs already taken per link."""
        has_link = links >= 0
        safe = np.where(has_link, links, 0)
        r = rank[safe]
        pair_ok = (r < n_alive[safe]) | ~has_link
        w = np.where(has_link & pair_ok, w_tab[safe, np.minimum(r, q - 1)], 1.0)
        fidelity = 0.75 * w.prod(axis=2) + 0.25
        has_inner = inner >= 0
        credit_ok = (units[np.where(has_inner, inner, 0)] >= 1) | ~has_inner
        out: BoolArray = (
            has_link.any(axis=2)
            & pair_ok.all(axis=2)
            & credit_ok.all(axis=2)
            & (fidelity >= f_min[:, None])
        )
        return out


class OraclePolicy(CentralizedPolicy):
    """The centralized controller with zero latency and no decision limit.

    Knows the whole network *now* (``delay=0``) and claims for every node that has a
    feasible path, earliest deadline first, without collisions. A strong reference, not
    a proven upper bound: it has no look-ahead (it never waits for a fresher pair, never
    holds pairs back for a more urgent request arriving later, and does not solve the
    slot's allocation jointly: an earlier-deadline request may take the pair that two
    later ones could have shared), and swaps still fail with probability 1 − swap_prob.
    """

    name = "oracle"

    def __init__(self) -> None:
        super().__init__(delay=0, decisions_per_slot=None)


__all__ = [
    "CentralizedPolicy",
    "GreedyPolicy",
    "NodePolicy",
    "OraclePolicy",
    "RandomPolicy",
    "RoundRobinPolicy",
]
