"""The per-slot engine of a quantum network: generate, decohere, cut off, swap, deliver.

Built from a topology graph (attributes of :mod:`qenv.network.topology`):

* Links herald pairs with the per-slot probability of
  :func:`qenv.physics.link_success_probability` (attempt rate min(r_u, r_v),
  detector efficiency, fiber loss) into the nodes' shared memories
  (:class:`~qenv.network.links.LinkStore`).
* Pairs are Werner pairs with F0 from the link; both end memories depolarise, so
  a pair's w decays by exp(−dt/T_pair) per slot with 1/T_pair = 1/T_u + 1/T_v.
* Repeater capacity is a token bucket per node: ``swap_capacity``·dt credits per
  slot, at most ``swap_burst`` banked; each swap attempt spends one. Buckets start
  as if idle for one second (min(burst, capacity·1 s)).
* :meth:`NetworkEngine.serve` executes path claims in one slot: a claim takes the
  freshest pair on every link of its path and one swap credit at every inner node,
  all at once; the n − 1 swaps each succeed with ``swap_prob`` (w' = Π w); the pair is
  delivered if every swap succeeded and F ≥ F_min. Claims are served greedily in
  the order given (the caller shuffles it): a claim whose resources exist but were
  taken by an earlier claim is a *contention* event; one whose resources do not
  exist at all is *infeasible*. Neither consumes anything.

Slot order (DESIGN.md §2): ``step()`` ages pairs and discards those past the
cutoff, then links generate; ``serve()`` then resolves the slot's claims.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from qenv.checks import check_positive_int, check_probability, check_range
from qenv.network.links import BoolArray, FloatArray, IntArray, LinkStore, group_rank
from qenv.network.paths import edge_array
from qenv.physics.fiber import DEFAULT_ATTENUATION_DB_PER_KM, link_success_probability
from qenv.physics.states import pair_coherence_time, werner_parameter


@dataclass(frozen=True)
class EngineConfig:
    """Physical and control parameters of the engine (time in slots of ``dt`` seconds)."""

    dt: float = 0.01
    cutoff_slots: int | None = 100
    swap_prob: float = 1.0
    detector_efficiency: float = 0.8
    attenuation_db_per_km: float = DEFAULT_ATTENUATION_DB_PER_KM
    swap_burst: float = 2.0

    def __post_init__(self) -> None:
        check_range("dt", self.dt, 0.0, low_open=True)
        if self.cutoff_slots is not None:
            check_positive_int("cutoff_slots", self.cutoff_slots, minimum=0)
        check_probability("swap_prob", self.swap_prob)
        check_probability("detector_efficiency", self.detector_efficiency)
        check_range("attenuation_db_per_km", self.attenuation_db_per_km, 0.0)
        check_range("swap_burst", self.swap_burst, 1.0)


@dataclass(frozen=True)
class ServeResult:
    """Outcome of the claims of one slot, one entry per claim (in the order given)."""

    accepted: BoolArray  # resources taken, swaps attempted
    delivered: BoolArray  # accepted, every swap succeeded and F >= F_min
    contention: BoolArray  # feasible alone, but a resource was taken by an earlier claim
    infeasible: BoolArray  # some link had no pair or some inner node no swap credit
    fidelity: FloatArray  # end-to-end fidelity of accepted claims (0 elsewhere)


def _edge_attr(graph: nx.Graph, ends: IntArray, name: str) -> FloatArray:
    return np.array([graph.edges[int(u), int(v)][name] for u, v in ends], dtype=np.float64)


def _node_attr(graph: nx.Graph, name: str) -> FloatArray:
    return np.array(
        [graph.nodes[n][name] for n in range(graph.number_of_nodes())], dtype=np.float64
    )


class NetworkEngine:
    """Link, memory and repeater state of one network, advanced one slot at a time."""

    def __init__(self, graph: nx.Graph, config: EngineConfig | None = None) -> None:
        self.graph = graph
        self.config = cfg = config or EngineConfig()
        if sorted(graph.nodes) != list(range(graph.number_of_nodes())):
            raise ValueError("graph nodes must be the integers 0..N-1 (use qenv.network.topology)")
        self.n_nodes = graph.number_of_nodes()
        self.ends = edge_array(graph)
        gen_rate = _node_attr(graph, "gen_rate")
        t_coh = _node_attr(graph, "t_coh")
        memory = _node_attr(graph, "memory").astype(np.int64)
        u, v = self.ends[:, 0], self.ends[:, 1]
        self.length_km = _edge_attr(graph, self.ends, "length")
        self.f0 = _edge_attr(graph, self.ends, "f0")
        self.p_gen = np.asarray(
            link_success_probability(
                self.length_km,
                np.minimum(gen_rate[u], gen_rate[v]),
                cfg.dt,
                cfg.detector_efficiency,
                cfg.attenuation_db_per_km,
            ),
            dtype=np.float64,
        )
        t_pair = np.asarray(pair_coherence_time(t_coh[u], t_coh[v]), dtype=np.float64)
        self.decay = np.exp(-cfg.dt / t_pair)
        self.links = LinkStore(
            ends=self.ends,
            p_gen=self.p_gen,
            w0=np.asarray(werner_parameter(self.f0), dtype=np.float64),
            decay=self.decay,
            link_capacity=np.minimum(memory[u], memory[v]),
            node_memory=memory,
            cutoff=cfg.cutoff_slots,
        )
        self.swap_rate = _node_attr(graph, "swap_capacity") * cfg.dt  # credits per slot
        self.credit = np.minimum(cfg.swap_burst, _node_attr(graph, "swap_capacity"))
        self.swaps_attempted = 0

    @property
    def t(self) -> int:
        return self.links.t

    @property
    def n_links(self) -> int:
        return self.links.n_links

    def step(self, rng: np.random.Generator) -> None:
        """Advance one slot: age and cut off stored pairs, generate, refill swap credits."""
        self.links.advance(rng)
        np.minimum(self.credit + self.swap_rate, self.config.swap_burst, out=self.credit)

    def serve(
        self,
        links: IntArray,
        inner: IntArray,
        f_min: FloatArray,
        rng: np.random.Generator,
    ) -> ServeResult:
        """Resolve this slot's path claims, greedily in row order.

        Args:
            links: (C, H) link ids of each claim's path, padded with −1.
            inner: (C, H − 1) inner nodes of each path (where swaps happen), padded with −1.
            f_min: (C,) fidelity each delivery must reach.
        """
        n_claims = links.shape[0]
        none = np.zeros(n_claims, dtype=bool)
        if n_claims == 0:
            return ServeResult(none, none, none, none, np.zeros(0))
        n_links, n_nodes = self.n_links, self.n_nodes
        # Infeasible: some link of the path holds no pair or some inner node has no credit.
        # Checked on the padded rows (padding points at an unbounded extra entry), so the
        # usual slot, where most claims are infeasible, never builds the resource lists.
        count_ext = np.empty(n_links + 1, dtype=np.int64)
        count_ext[:n_links] = self.links.count
        count_ext[n_links] = 1
        credit_ext = np.empty(n_nodes + 1)
        credit_ext[:n_nodes] = self.credit
        credit_ext[n_nodes] = np.inf
        link_code = np.where(links >= 0, links, n_links)
        node_code = np.where(inner >= 0, inner, n_nodes)
        infeasible = count_ext.take(link_code).min(axis=1) < 1
        if node_code.shape[1]:
            infeasible |= credit_ext.take(node_code).min(axis=1) < 1.0 - 1e-9
        fidelity = np.zeros(n_claims)
        sub = np.flatnonzero(~infeasible)
        if sub.size == 0:
            return ServeResult(none, none, none, infeasible, fidelity)
        sub_links, sub_inner = links[sub], inner[sub]
        valid_l = sub_links >= 0
        valid_n = sub_inner >= 0
        claim = np.concatenate([np.nonzero(valid_l)[0], np.nonzero(valid_n)[0]])
        resource = np.concatenate([sub_links[valid_l], n_links + sub_inner[valid_n]])
        supply = np.concatenate([self.links.count, np.floor(self.credit + 1e-9).astype(np.int64)])
        accepted_sub = _greedy_accept(claim, resource, supply, np.ones(sub.size, dtype=bool))
        accepted = none.copy()
        accepted[sub] = accepted_sub
        contention = ~accepted & ~infeasible
        delivered = np.zeros(n_claims, dtype=bool)
        acc_sub = np.flatnonzero(accepted_sub)
        if acc_sub.size:
            take = accepted_sub[claim] & (resource < n_links)
            take_claim, take_link = claim[take], resource[take]
            w_claim = np.ones(sub.size)
            # A link serving several claims gives its pairs freshest first, one round per rank.
            rank = group_rank(take_link, n_links)
            for r in range(int(rank.max()) + 1):
                sel = rank == r
                w, _ = self.links.take_freshest(take_link[sel])
                np.multiply.at(w_claim, take_claim[sel], w)
            swap_entries = accepted_sub[claim] & (resource >= n_links)
            used_nodes = resource[swap_entries] - n_links
            np.subtract.at(self.credit, used_nodes, 1.0)
            n_swaps = np.bincount(claim[swap_entries], minlength=sub.size)
            self.swaps_attempted += int(n_swaps.sum())
            ok = rng.random(acc_sub.size) < self.config.swap_prob ** n_swaps[acc_sub]
            acc = sub[acc_sub]
            fidelity[acc] = (3.0 * w_claim[acc_sub] + 1.0) / 4.0
            delivered[acc] = ok & (fidelity[acc] >= f_min[acc])
        return ServeResult(accepted, delivered, contention, infeasible, fidelity)


def _greedy_accept(
    claim: IntArray, resource: IntArray, supply: IntArray, candidate: BoolArray
) -> BoolArray:
    """Claims accepted when served one by one in index order, each taking one unit per entry.

    Vectorised fixed point: a claim is surely accepted if it fits even when every
    earlier undecided claim is counted as taking its resources, and surely rejected
    if it does not fit when only earlier accepted claims are counted. Each round
    decides at least the earliest undecided claim, and usually all of them.
    """
    n_claims = candidate.size
    # Fast path: no resource is asked for more units than it has, so every candidate fits.
    asked = np.bincount(resource[candidate[claim]], minlength=supply.size)
    if (asked <= supply).all():
        return candidate.copy()
    accepted = np.zeros(n_claims, dtype=bool)
    undecided = candidate.copy()
    order = np.lexsort((claim, resource))  # by resource, then claim (priority)
    res_sorted, claim_sorted = resource[order], claim[order]
    starts = np.flatnonzero(np.r_[True, res_sorted[1:] != res_sorted[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, res_sorted.size]))
    cap = supply[res_sorted]

    def used_before(weight: BoolArray) -> IntArray:
        w = weight[claim_sorted].astype(np.int64)
        c = np.cumsum(w)
        base = c[group_start] - w[group_start]
        return c - base  # units taken by this and earlier claims in the same resource

    while undecided.any():
        optimistic = used_before(accepted)  # counts accepted only (+ itself if accepted)
        pessimistic = used_before(accepted | undecided)
        self_u = undecided[claim_sorted]
        fits_pess = np.ones(n_claims, dtype=bool)
        np.logical_and.at(fits_pess, claim_sorted, ~self_u | (pessimistic <= cap))
        fails_opt = np.zeros(n_claims, dtype=bool)
        np.logical_or.at(fails_opt, claim_sorted, self_u & (optimistic + 1 > cap))
        newly_ok = undecided & fits_pess
        newly_bad = undecided & fails_opt & ~newly_ok
        if not (
            newly_ok.any() or newly_bad.any()
        ):  # pragma: no cover - guarded by the argument above
            raise RuntimeError("greedy acceptance did not progress")
        accepted |= newly_ok
        undecided &= ~(newly_ok | newly_bad)
    return accepted
