"""Dynamics of entanglement allocation: request queues, path claims, rewards, metrics.

Pure numpy on top of :class:`qenv.network.engine.NetworkEngine`; no gymnasium or
PettingZoo here (the environment classes wire this to their APIs). Everything is
an array over nodes, so a slot of 100 edge nodes costs a few hundred microseconds.

Slot cycle (DESIGN.md §2–3). :meth:`AllocationCore.reset` draws the episode's
requests and advances the engine into slot 1. Each :meth:`AllocationCore.step`
then

1. checks every node's action against the mask it was shown: an action outside
   it is *invalid*, counted and penalised, and not executed;
2. turns each claim (action i >= 1: candidate path i − 1 of the node's head
   request) into a path claim, and lets :meth:`NetworkEngine.serve` resolve all
   claims of the slot in a random order (contention, swaps, F_min);
3. credits deliveries to their requests (a request leaves its queue when all its
   pairs are delivered);
4. advances the engine one slot (pairs age, cut off, links generate, swap
   credits refill), admits the requests arriving in the new slot and expires
   those whose deadline has passed;
5. builds the next observations and masks.

Requests of a node are served in arrival order (first in, first out; with equal
deadline windows this is earliest deadline first). Only a node's head request
can be claimed in a slot, and one claim delivers at most one pair.

Information delay: an edge node sees its own memory, swap credit and incident
links as they are; the state of a remote link (pairs and freshest pair) or a
remote node's swap credit on a candidate path reaches it after the classical
delay of :mod:`qenv.network.latency` (``observation_delay=True``), so path
features may be a few slots stale. Fidelities are aged to the current slot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int, check_range
from qenv.envs.entanglement.kernels import (
    advance_heads,
    check_claims,
    feasibility,
    fill_node_fields,
    fill_request_rows,
    path_hyperscore,
    path_stats,
)
from qenv.envs.entanglement.observation import (
    HOPS_SCALE,
    PAIRS_LEFT_SCALE,
    QUEUE_SCALE,
    ObservationLayout,
)
from qenv.network.engine import EngineConfig, NetworkEngine
from qenv.network.latency import DelayLine, classical_delay_slots, max_delay_slots
from qenv.network.paths import CandidatePaths
from qenv.network.traffic import RequestBatch, RequestGenerator

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RewardConfig:
    """Per-node reward of one slot (DESIGN.md §3).

    r = delivery·(pairs delivered, times their fidelity if ``fidelity_weighted``)
        − contention_penalty·(claims that lost a resource to another claim)
        − expiry_penalty·(undelivered pairs of the node's requests that expired)
        − invalid_penalty·(actions outside the mask).
    With ``team=True`` every agent receives the mean of all nodes' rewards.
    """

    delivery: float = 1.0
    fidelity_weighted: bool = False
    contention_penalty: float = 0.2
    expiry_penalty: float = 0.5
    invalid_penalty: float = 1.0
    team: bool = False

    def __post_init__(self) -> None:
        for name in ("delivery", "contention_penalty", "expiry_penalty", "invalid_penalty"):
            check_range(name, getattr(self, name), 0.0)


@dataclass(frozen=True)
class PathView:
    """What nodes see of their head request's candidate paths: (M, k) arrays for the M
    nodes in ``nodes`` (those with a head request).

    The input of a path scorer (the AHMO HyperScore plugs in here).
    """

    nodes: IntArray  # (M,) node ids
    request: IntArray  # (M,) head request index in the episode's batch
    valid: BoolArray
    hops: IntArray
    bottleneck: IntArray  # fewest pairs reported on a link of the path
    fidelity: FloatArray  # predicted end-to-end fidelity (0 if a link is empty)
    min_credit: FloatArray  # least swap credit among inner nodes (inf if none)
    f_min: FloatArray  # (M,) F_min of the head request
    swap_prob: float


PathScorer = Callable[[PathView], FloatArray]


def feasibility_score(view: PathView) -> FloatArray:
    """Default path score: the swap success probability if the path looks feasible, else 0.

    Feasible as reported: a pair on every link, a swap credit at every inner node and a
    predicted fidelity >= F_min of the head request.
    """
    ok = (
        view.valid
        & (view.bottleneck >= 1)
        & (view.min_credit >= 1.0)
        & (view.fidelity >= view.f_min[:, None])
    )
    return np.where(ok, view.swap_prob ** np.maximum(view.hops - 1, 0), 0.0)


class PathHyperScorer:
    """The AHMO HyperScore applied to candidate paths (the ``score`` path feature).

    A path's score is the normalised HyperScore (σ(β ln V + γ)/σ(γ))^κ ∈ [0, 1]
    (:func:`qenv.scoring.hyperscore_unit`) of the V of a claim on that path, with the
    pipeline's terms read for entanglement delivery:

    * LogicScore^π — the path looks feasible now (:func:`feasibility_score` > 0: a pair on
      every link, swap credit at every inner node, predicted fidelity >= F_min); V = 0
      (score 0) otherwise, so the score is > 0 exactly where the default one is;
    * QNC — predicted success probability of the claim, swap_prob^(hops − 1) (the value
      of the feasibility kernel);
    * ΔRepro — fidelity margin (F − F_min)/(1 − F_min) ∈ [0, 1]: how robustly the pair
      meets its requirement (1 when F_min = 1 is met);
    * Meta — bottleneck abundance b/(1 + b), b the fewest pairs on a link of the path: a
      path with spare pairs is less likely to lose a contention;
    * Novelty and ImpactFore have no meaning for a path and drop out: V = (w1 + w4·margin
      + w5·abundance + w6·QNC)/(w1 + w4 + w5 + w6), with w, β, γ, κ from the scoring
      parameters (``configs/scoring/default.yaml`` unless given).

    One compiled pass per slot (:func:`~qenv.envs.entanglement.kernels.path_hyperscore`,
    reusing the feasibility kernel). Select it with ``path_scorer="hyperscore"`` (or an
    instance, for other parameters).
    """

    def __init__(self, params: Any = None) -> None:
        from qenv.scoring import load_params

        self.params = load_params(params)
        w = self.params.weights
        raw = np.array([w["logic"], w["repro"], w["meta"], w["qnc"]], dtype=np.float64)
        if raw.sum() <= 0:
            raise ValueError("path scoring needs a weight > 0 on logic, repro, meta or qnc")
        self.weights = raw / raw.sum()

    def __call__(self, view: PathView) -> FloatArray:
        p = self.params
        out: FloatArray = path_hyperscore(
            view.valid,
            np.ascontiguousarray(view.hops, dtype=np.int64),
            np.ascontiguousarray(view.bottleneck, dtype=np.int64),
            np.ascontiguousarray(view.fidelity, dtype=np.float64),
            np.ascontiguousarray(view.min_credit, dtype=np.float64),
            np.ascontiguousarray(view.f_min, dtype=np.float64),
            float(view.swap_prob),
            self.weights,
            p.beta,
            p.gamma,
            p.kappa,
        )
        return out


def resolve_path_scorer(path_scorer: PathScorer | str | None) -> PathScorer:
    """``None`` or ``"feasibility"``: :func:`feasibility_score`; ``"hyperscore"``: a
    :class:`PathHyperScorer` with the default scoring parameters; a callable: itself."""
    if path_scorer is None or path_scorer == "feasibility":
        return feasibility_score
    if path_scorer == "hyperscore":
        return PathHyperScorer()
    if isinstance(path_scorer, str) or not callable(path_scorer):
        raise ValueError(
            f"path_scorer must be 'feasibility', 'hyperscore' or a callable, got {path_scorer!r}"
        )
    return path_scorer


@dataclass(frozen=True)
class GlobalView:
    """The whole network as a controller ``delay`` slots away from everything sees it.

    Link and memory state is the snapshot of slot ``t − delay`` (pairs keep their birth
    slots, so their age and fidelity now follow from ``w0``, ``decay`` and ``t``); the
    request queues are current (a request is announced as it arrives, and the claim is
    executed by its source node). For privileged baselines (``centralized``, ``oracle``).
    """

    t: int
    delay: int
    birth: IntArray  # (L, Q) birth slot of each stored pair; <= DISABLED where none
    credit: FloatArray  # (N,) swap credits
    w0: FloatArray  # (L,) Werner parameter of a fresh pair
    decay: FloatArray  # (L,) per-slot factor on w
    cutoff: int | None
    swap_rate: FloatArray  # (N,) credits gained per slot
    swap_burst: float
    swap_prob: float
    head: IntArray  # (N,) head request index, −1 where none
    links: IntArray  # (N, k, H) link ids of the head's candidate paths, −1 padded
    inner: IntArray  # (N, k, H − 1) inner nodes, −1 padded
    valid: BoolArray  # (N, k)
    f_min: FloatArray  # (N,)
    deadline: IntArray  # (N,)
    arrival: IntArray  # (N,)


@dataclass
class StepOutcome:
    """Per-node results of one slot (arrays of length N)."""

    reward: FloatArray
    delivered: IntArray
    contention: IntArray
    infeasible: IntArray
    invalid: BoolArray
    expired: IntArray  # undelivered pairs of the node's requests that expired
    claimed_paths: IntArray = field(  # (A, H) link ids of the accepted paths, −1 padded
        default_factory=lambda: np.zeros((0, 1), dtype=np.int64)
    )
    claimed_nodes: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # ^ the node that made each accepted claim (its path starts there)

    @property
    def claimed_links(self) -> list[IntArray]:
        """Link ids of each accepted path, in travel order from its claiming node."""
        return [row[row >= 0] for row in self.claimed_paths]


@dataclass
class EpisodeCounters:
    """Running totals of an episode; :meth:`AllocationCore.metrics` turns them into metrics."""

    requests: int = 0
    pairs_requested: int = 0
    pairs_delivered: int = 0
    ended_pairs: int = 0
    ended_delivered: int = 0
    completed: int = 0
    expired: int = 0
    claims: int = 0
    contention: int = 0
    infeasible: int = 0
    low_fidelity: int = 0
    invalid_actions: int = 0
    latency_sum: int = 0
    fidelity_sum: float = 0.0
    reward_sum: float = 0.0


class AllocationCore:
    """State and dynamics of one entanglement-allocation episode, over all N nodes.

    Args:
        graph: topology (:mod:`qenv.network.topology` attributes).
        traffic: request generator, called once per episode.
        engine_config: physics and control parameters.
        horizon: slots per episode.
        k_paths: candidate paths per request.
        demand_horizon: predicted-demand slots in the observation.
        reward: reward configuration.
        observation_delay: apply classical delay to remote path information.
        processing_delay_s: per-hop classical processing delay (s).
        mask_infeasible: also mask paths that look infeasible (default: only paths that
            do not exist, and every claim without a head request).
        path_scorer: fills the per-path ``score`` feature (default :func:`feasibility_score`;
            ``"hyperscore"``: the AHMO :class:`PathHyperScorer`).
    """

    def __init__(
        self,
        graph: nx.Graph,
        traffic: RequestGenerator,
        engine_config: EngineConfig,
        *,
        horizon: int = 1000,
        k_paths: int = 3,
        demand_horizon: int = 5,
        reward: RewardConfig | None = None,
        observation_delay: bool = True,
        processing_delay_s: float = 1e-4,
        mask_infeasible: bool = False,
        path_scorer: PathScorer | str | None = None,
    ) -> None:
        self.graph = graph
        self.traffic = traffic
        self.engine_config = engine_config
        self.horizon = check_positive_int("horizon", horizon)
        self.k = check_positive_int("k_paths", k_paths)
        self.demand_horizon = check_positive_int("demand_horizon", demand_horizon, minimum=0)
        self.reward_config = reward or RewardConfig()
        self.observation_delay = bool(observation_delay)
        self.mask_infeasible = bool(mask_infeasible)
        self.path_scorer: PathScorer = resolve_path_scorer(path_scorer)
        self.n_nodes: int = int(graph.number_of_nodes())
        n = self.n_nodes
        if n < 2:
            raise ValueError(f"graph must have at least 2 nodes, got {n}")
        self.paths = CandidatePaths(graph, self.k)
        self.delay = classical_delay_slots(graph, engine_config.dt, processing_delay_s)
        if not self.observation_delay:
            self.delay = np.zeros_like(self.delay)
        self.max_delay = max_delay_slots(self.delay)
        # A controller at the most central node: reports reach it after delay[n, c], its
        # decisions reach the nodes after delay[c, m]; the round trip bounds its staleness.
        self.central_node = int(np.argmin(self.delay.max(axis=1)))
        c = self.central_node
        self.central_delay = int(self.delay[:, c].max() + self.delay[c, :].max())
        self.view_depth = max(self.max_delay, self.central_delay)
        # Incident links and neighbours, padded to the largest degree.
        probe = NetworkEngine(graph, engine_config)
        self.ends = probe.ends
        self.max_degree = max(1, max(d for _, d in graph.degree))
        self.incident = np.full((n, self.max_degree), -1, dtype=np.int64)
        self.neighbours = np.full((n, self.max_degree), -1, dtype=np.int64)
        fill = np.zeros(n, dtype=np.int64)
        for link, (u, v) in enumerate(self.ends):
            for a, b in ((u, v), (v, u)):
                self.incident[a, fill[a]] = link
                self.neighbours[a, fill[a]] = b
                fill[a] += 1
        self.degree = fill
        self._qmax = float(max(1, probe.links.capacity.max(initial=1)))
        self._view_cache: tuple[int, PathView] | None = None
        self.memory = np.array([graph.nodes[i]["memory"] for i in range(n)], dtype=np.float64)
        self.layout = ObservationLayout(self.max_degree, self.k, self.demand_horizon)
        f = self.layout.fields
        self._field_starts = np.array(
            [
                f[name].start
                for name in (
                    "free_memory",
                    "swap_credit",
                    "link_pairs",
                    "link_fidelity",
                    "queue_length",
                    "has_request",
                    "path_score",
                    "neighbour_queues",
                    "last_contention",
                    "last_delivered",
                    "time",
                    "demand",
                )
            ],
            dtype=np.int64,
        )
        self._field_starts[6] = f["path_score"].stop  # end of the request block
        self.demand = np.zeros((n, self.demand_horizon), dtype=np.float32)
        self._pair_links: dict[tuple[int, int], list[IntArray]] = {}
        self._pair_nodes: dict[tuple[int, int], list[tuple[int, ...]]] = {}
        deadline = getattr(traffic, "deadline_slots", (100, 100))
        self.deadline_scale = float(max(1, int(deadline[1])))
        self.engine = probe
        self.t = 0
        self.last_outcome: StepOutcome | None = None
        #: Set before ``reset`` to log each slot's potential heralds (draw < p_gen) of the
        #: episode in ``engine.links.herald_log`` (:mod:`agents.bound` reads them).
        self.record_heralds = False

    # ------------------------------------------------------------------ episode setup
    def reset(self, rng: np.random.Generator, batch: RequestBatch | None = None) -> None:
        """Start an episode: fresh engine, the episode's requests, slot 1."""
        # Independent streams (common random numbers): requests, link generation, and claim
        # order with swap outcomes. Two policies compared on one seed see the same requests,
        # and the same heralding draws until the first slot in which two heralds compete for
        # one node's memory (their order comes from the link stream, which then shifts).
        traffic_rng, self.link_rng, self.rng = rng.spawn(3)
        self.engine = NetworkEngine(self.graph, self.engine_config)
        if self.record_heralds:  # every slot's potential heralds (agents.bound)
            self.engine.links.herald_log = []
        self._log_decay = np.log(self.engine.links.decay)
        self.batch = (
            batch
            if batch is not None
            else self.traffic.generate(self.n_nodes, self.horizon, traffic_rng)
        )
        b = self.batch
        if len(b) and int(max(b.source.max(), b.destination.max())) >= self.n_nodes:
            raise ValueError(f"requests name nodes beyond the graph's {self.n_nodes} nodes")
        self._build_request_paths()
        r = len(b)
        self.remaining = np.append(b.n_pairs.astype(np.int64), 0)
        self.finished = np.zeros(r + 1, dtype=bool)  # completed or expired; row r = padding
        self.finished[r] = True
        # Requests of each node in arrival order (CSR), and a pointer to the head.
        order = np.lexsort((b.arrival, b.source))
        self.node_req = np.append(order, r).astype(np.int64)
        self.node_start = np.searchsorted(b.source[order], np.arange(self.n_nodes + 1))
        self.ptr = self.node_start[:-1].copy()
        self.head = np.full(self.n_nodes, r, dtype=np.int64)  # no head request yet
        self._node_first = self.node_start[:-1].copy()
        self._n_requests = r
        self.arrival_idx = np.searchsorted(b.arrival, np.arange(0, self.horizon + 3))
        self.by_deadline = np.argsort(b.deadline, kind="stable")
        self.deadline_sorted = b.deadline[self.by_deadline]
        self.exp_ptr = 0
        self.arrived = np.zeros(self.n_nodes, dtype=np.int64)
        self.counters = EpisodeCounters(requests=r, pairs_requested=int(b.n_pairs.sum()))
        self.last_contention = np.zeros(self.n_nodes, dtype=bool)
        self.last_delivered = np.zeros(self.n_nodes, dtype=bool)
        self.demand[:] = 0.0
        links = self.engine.links
        depth = self.max_delay
        self.hist_count = DelayLine(links.count.copy(), depth)
        self.hist_fresh = DelayLine(links.fresh.copy(), depth)
        self.hist_birth = DelayLine(links.birth.copy(), self.view_depth)
        self.hist_credit = DelayLine(self.engine.credit.copy(), self.view_depth)
        self.t = 0
        self._view_cache = None
        self.last_outcome = None
        self._advance()

    def _build_request_paths(self) -> None:
        """(R + 1, k, H) link ids, inner nodes and per-hop delays of every request's paths."""
        b, k = self.batch, self.k
        n = self.n_nodes
        pair = b.source * n + b.destination
        uniq, inverse = np.unique(pair, return_inverse=True)
        found: list[list[IntArray]] = []
        for code in uniq.tolist():
            s, d = divmod(int(code), n)
            key = (s, d)
            if key not in self._pair_links:
                self._pair_links[key] = self.paths.links(s, d)
                self._pair_nodes[key] = [tuple(p) for p in self.paths.paths(s, d)]
            found.append(self._pair_links[key])
        hmax = max([1, *(p.size for paths in found for p in paths)])
        u = len(uniq)
        links = np.full((u + 1, k, hmax), -1, dtype=np.int64)
        inner = np.full((u + 1, k, max(hmax - 1, 1)), -1, dtype=np.int64)
        for i, code in enumerate(uniq.tolist()):
            s, d = divmod(int(code), n)
            for j, (ids, nodes) in enumerate(
                zip(self._pair_links[s, d], self._pair_nodes[s, d], strict=True)
            ):
                links[i, j, : ids.size] = ids
                inner[i, j, : len(nodes) - 2] = nodes[1:-1]
        row = np.append(inverse.reshape(-1), u)  # padding request -> padding row
        self.req_links = links[row]
        self.req_inner = inner[row]
        self.req_hops = (self.req_links >= 0).sum(axis=2)
        self.req_valid = self.req_hops > 0
        src = np.append(b.source, 0)
        # Remote information is read from the snapshot of `delay` slots ago; delay to a link
        # is to its nearer end (0 for the source's own links). Codes index the flattened
        # (delay, link) tables of path_view, whose last column is a neutral padding entry.
        d_cap, n_links = self.max_delay, self.ends.shape[0]
        safe = np.maximum(self.req_links, 0)
        du = self.delay[src[:, None, None], self.ends[safe, 0]]
        dv = self.delay[src[:, None, None], self.ends[safe, 1]]
        link_delay = np.minimum(np.minimum(du, dv), d_cap)
        link_code = link_delay * (n_links + 1) + np.where(
            self.req_links >= 0, self.req_links, n_links
        )
        inner_delay = np.minimum(
            self.delay[src[:, None, None], np.maximum(self.req_inner, 0)], d_cap
        )
        inner_code = inner_delay * (n + 1) + np.where(self.req_inner >= 0, self.req_inner, n)
        # Hop-major (H, R + 1, k): per-path reductions then run over the leading axis,
        # which numpy vectorises (5x faster than reducing the last axis of (M, k, H)).
        self.req_link_code_t = np.ascontiguousarray(link_code.transpose(2, 0, 1))
        self.req_inner_code_t = np.ascontiguousarray(inner_code.transpose(2, 0, 1))
        self.req_f_min = np.append(b.f_min, 0.0)
        self.req_deadline = np.append(b.deadline, 0)
        self.req_arrival = np.append(b.arrival, 0)

    # ------------------------------------------------------------------ dynamics
    def _advance(self) -> FloatArray:
        """Move into the next slot; returns expired pairs per node (the μ penalty base)."""
        self.engine.step(self.link_rng)
        self.t += 1
        t = self.t
        links = self.engine.links
        self.hist_count.push(links.count)
        self.hist_fresh.push(links.fresh)
        self.hist_credit.push(self.engine.credit)
        self.hist_birth.push(links.birth)
        b = self.batch
        lo, hi = self.arrival_idx[t], self.arrival_idx[t + 1]
        if hi > lo:
            self.arrived += np.bincount(b.source[lo:hi], minlength=self.n_nodes)
        # Expire requests whose deadline has passed (deadline < t).
        expired = np.zeros(self.n_nodes)
        stop = int(np.searchsorted(self.deadline_sorted, t, side="left"))
        if stop > self.exp_ptr:
            gone = self.by_deadline[self.exp_ptr : stop]
            gone = gone[~self.finished[gone]]
            self.exp_ptr = stop
            if gone.size:
                self.finished[gone] = True
                left = self.remaining[gone]
                np.add.at(expired, b.source[gone], left)
                self.counters.expired += int(gone.size)
                self.counters.ended_pairs += int(b.n_pairs[gone].sum())
                self.counters.ended_delivered += int((b.n_pairs[gone] - left).sum())
        self._advance_heads()
        return expired

    def _advance_heads(self) -> None:
        advance_heads(
            self.ptr,
            self.node_start,
            self.node_req,
            self.finished,
            self.req_arrival,
            self.t,
            self.head,
        )

    def step(self, actions: IntArray, mask: npt.NDArray[np.int8]) -> StepOutcome:
        """One slot with node actions (N,) checked against ``mask`` (N, 1 + k)."""
        n = self.n_nodes
        cfg = self.reward_config
        eng = self.engine
        actions = np.ascontiguousarray(actions, dtype=np.int64)
        mask = np.ascontiguousarray(mask, dtype=np.int8)
        if actions.shape != (n,) or mask.shape != (n, 1 + self.k):
            raise ValueError(
                f"actions must have shape ({n},) and mask ({n}, {1 + self.k}), "
                f"got {actions.shape} and {mask.shape}"
            )
        invalid, claim, infeasible_b = check_claims(
            actions, mask, self.head, self.req_links, self.req_inner, eng.links.count, eng.credit
        )
        delivered = np.zeros(n, dtype=np.int64)
        contention = np.zeros(n, dtype=np.int64)
        infeasible = infeasible_b.astype(np.int64)
        gain = np.zeros(n)
        claimed_paths = np.zeros((0, 1), dtype=np.int64)
        claimed_nodes = np.zeros(0, dtype=np.int64)
        c = self.counters
        claim_nodes = np.flatnonzero(claim)
        if claim_nodes.size:
            c.claims += int(claim_nodes.size)
            c.infeasible += int(infeasible_b.sum())
            # Claims are served in a random order; infeasible ones (decided above, as
            # serve would) take nothing, so only the feasible ones go to the engine.
            order = claim_nodes[self.rng.permutation(claim_nodes.size)]
            order = order[~infeasible_b[order]]
        else:
            order = claim_nodes
        if order.size:
            req = self.head[order]
            path = actions[order] - 1
            claim_links = self.req_links[req, path]
            result = eng.serve(
                claim_links, self.req_inner[req, path], self.req_f_min[req], self.rng
            )
            contention[order] = result.contention
            delivered[order] = result.delivered
            c.contention += int(result.contention.sum())
            c.low_fidelity += int((result.accepted & ~result.delivered).sum())
            ok = result.delivered
            if ok.any():
                got, fid = req[ok], result.fidelity[ok]
                gain[order[ok]] = fid if cfg.fidelity_weighted else 1.0
                c.pairs_delivered += int(got.size)
                c.fidelity_sum += float(fid.sum())
                self.remaining[got] -= 1
                done = got[self.remaining[got] == 0]
                if done.size:
                    self.finished[done] = True
                    c.completed += int(done.size)
                    c.latency_sum += int((self.t - self.req_arrival[done] + 1).sum())
                    c.ended_pairs += int(self.batch.n_pairs[done].sum())
                    c.ended_delivered += int(self.batch.n_pairs[done].sum())
            acc = np.flatnonzero(result.accepted)
            claimed_paths = claim_links[acc]
            claimed_nodes = order[acc]
        c.invalid_actions += int(invalid.sum())
        self.last_contention = contention > 0
        self.last_delivered = delivered > 0
        expired = self._advance()
        reward = (
            cfg.delivery * gain
            - cfg.contention_penalty * contention
            - cfg.expiry_penalty * expired
            - cfg.invalid_penalty * invalid
        )
        if cfg.team:
            reward = np.full(n, reward.mean())
        c.reward_sum += float(reward.sum())
        out = StepOutcome(
            reward,
            delivered,
            contention,
            infeasible,
            invalid,
            expired.astype(np.int64),
            claimed_paths,
            claimed_nodes,
        )
        self.last_outcome = out
        return out

    @property
    def done(self) -> bool:
        """True once ``horizon`` slots have been played."""
        return self.t > self.horizon

    # ------------------------------------------------------------------ observations
    def path_view(self) -> PathView:
        """The candidate paths of every node with a head request (stale where remote)."""
        cached = self._view_cache
        if cached is not None and cached[0] == self.t:
            return cached[1]
        nodes = np.flatnonzero(self.head < self._n_requests)
        head = self.head.take(nodes)
        valid = self.req_valid.take(head, axis=0)
        cutoff = self.engine.config.cutoff_slots
        fresh: IntArray = self.hist_fresh.recent()  # type: ignore[assignment]
        count: IntArray = self.hist_count.recent()  # type: ignore[assignment]
        credit: FloatArray = self.hist_credit.recent()  # type: ignore[assignment]
        fidelity, bottleneck, min_credit = path_stats(
            head,
            self.req_link_code_t,
            self.req_inner_code_t,
            self.req_hops,
            fresh,
            count,
            credit,
            self.t,
            -1 if cutoff is None else cutoff,
            self._log_decay,
            self.engine.links.w0,
        )
        view = PathView(
            nodes=nodes,
            request=head,
            valid=valid,
            hops=self.req_hops.take(head, axis=0),
            bottleneck=bottleneck,
            fidelity=fidelity,
            min_credit=min_credit,
            f_min=self.req_f_min.take(head),
            swap_prob=self.engine.config.swap_prob,
        )
        self._view_cache = (self.t, view)
        return view

    def observe(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int8]]:
        """Observation rows (N, obs_size) and action masks (N, 1 + k)."""
        lay, eng, links = self.layout, self.engine, self.engine.links
        n, k = self.n_nodes, self.k
        obs = np.empty((n, lay.size), dtype=np.float32)
        fill_node_fields(
            obs,
            self._field_starts,
            links.node_used,
            self.memory,
            eng.credit,
            float(eng.config.swap_burst),
            links.count,
            links.fresh,
            links.capacity,
            links.w0,
            self._log_decay,
            self.t,
            self.incident,
            self.neighbours,
            self.head < self._n_requests,
            self.arrived - (self.ptr - self._node_first),
            QUEUE_SCALE,
            self.last_contention,
            self.last_delivered,
            min(self.t / self.horizon, 1.0),
            self.demand,
        )
        mask = np.zeros((n, 1 + k), dtype=np.int8)
        mask[:, 0] = 1
        view = self.path_view()
        m = view.nodes
        if m.size:
            valid = view.valid
            if self.path_scorer is feasibility_score:
                score = feasibility(
                    valid,
                    view.hops,
                    view.bottleneck,
                    view.fidelity,
                    view.min_credit,
                    view.f_min,
                    float(view.swap_prob),
                )
            else:
                score = np.asarray(self.path_scorer(view), dtype=np.float64)
            if score.shape != valid.shape:
                raise ValueError(
                    f"path_scorer returned shape {score.shape}, expected {valid.shape}"
                )
            fill_request_rows(
                obs,
                self._field_starts[5],
                m,
                view.request,
                valid,
                view.hops,
                view.bottleneck,
                view.fidelity,
                view.min_credit,
                score,
                view.f_min,
                self.req_arrival,
                self.req_deadline,
                self.remaining,
                self.t,
                self.deadline_scale,
                HOPS_SCALE,
                PAIRS_LEFT_SCALE,
                self._qmax,
                float(eng.config.swap_burst),
            )
            mask[m, 1:] = (score > 0) & valid if self.mask_infeasible else valid
        return obs, mask

    def global_view(self, delay: int) -> GlobalView:
        """The network as seen ``delay`` slots late (0 = now); see :class:`GlobalView`."""
        d = check_positive_int("delay", delay, minimum=0)
        if d > self.view_depth:
            raise ValueError(
                f"delay must be <= {self.view_depth} slots (the history kept), got {d}"
            )
        eng = self.engine
        head = self.head
        none = head >= len(self.batch)
        return GlobalView(
            t=self.t,
            delay=d,
            birth=np.asarray(self.hist_birth.get(d), dtype=np.int64).copy(),
            credit=np.asarray(self.hist_credit.get(d), dtype=np.float64).copy(),
            w0=eng.links.w0,
            decay=eng.links.decay,
            cutoff=eng.config.cutoff_slots,
            swap_rate=eng.swap_rate,
            swap_burst=eng.config.swap_burst,
            swap_prob=eng.config.swap_prob,
            head=np.where(none, -1, head),
            links=self.req_links[head],
            inner=self.req_inner[head],
            valid=self.req_valid[head],
            f_min=self.req_f_min[head],
            deadline=self.req_deadline[head],
            arrival=self.req_arrival[head],
        )

    # ------------------------------------------------------------------ metrics
    def metrics(self) -> dict[str, float]:
        """Episode metrics so far (DESIGN.md §3); rates in [0, 1], latency in slots.

        ``delivery_rate``, ``mean_latency`` and ``mean_fidelity`` are NaN while undefined
        (no request ended, none completed, nothing delivered); ``contention_rate``,
        ``infeasible_rate`` and ``utilisation`` are 0 with no claims or no generated pairs
        (nothing contended, nothing was used).
        """
        if not hasattr(self, "counters"):
            raise RuntimeError("no episode yet: call reset() first")
        c = self.counters
        links = self.engine.links
        nan = float("nan")
        # Due requests: deadline passed (deadline < t). At the end of an episode these are
        # the requests with deadline <= horizon, the same set under every policy.
        b = self.batch
        due = b.deadline < self.t
        due_pairs = int(b.n_pairs[due].sum())
        due_got = due_pairs - int(self.remaining[:-1][due].sum())
        return {
            "delivery_rate": c.ended_delivered / c.ended_pairs if c.ended_pairs else nan,
            "due_delivery_rate": due_got / due_pairs if due_pairs else nan,
            "contention_rate": c.contention / c.claims if c.claims else 0.0,
            "mean_latency": c.latency_sum / c.completed if c.completed else nan,
            "mean_fidelity": c.fidelity_sum / c.pairs_delivered if c.pairs_delivered else nan,
            "utilisation": links.consumed / links.generated if links.generated else 0.0,
            "invalid_actions": float(c.invalid_actions),
            "pairs_delivered": float(c.pairs_delivered),
            "pairs_requested": float(c.pairs_requested),
            "requests": float(c.requests),
            "completed_requests": float(c.completed),
            "expired_requests": float(c.expired),
            "claims": float(c.claims),
            "infeasible_rate": c.infeasible / c.claims if c.claims else 0.0,
            "episode_reward": c.reward_sum,
        }
