"""Run a network under traffic with a greedy shortest-feasible-path controller.

This is the engine exercised end to end, without any learning: every node with a
queued request claims, for its oldest request, the first of its k candidate paths
on which every link holds a pair, every inner node has a swap credit and the
predicted end-to-end fidelity (freshest pairs, perfect swaps) reaches F_min.
Claims of one slot are served in a random order, so nodes contend for shared
links. A request leaves the queue when its n_pairs are delivered or its deadline
passes. It is the `greedy` baseline's logic, used here to print the metrics of a
scenario (``qenv simulate``).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import networkx as nx
import numpy as np

from qenv.network.engine import EngineConfig, NetworkEngine
from qenv.network.paths import CandidatePaths
from qenv.network.traffic import RequestGenerator


@dataclass(frozen=True)
class SimulationReport:
    """Metrics of one run (rates in [0, 1], latency in slots)."""

    slots: int
    requests: int
    pairs_requested: int
    pairs_delivered: int
    delivery_rate: float  # pairs delivered in time / pairs requested by requests that ended
    contention_rate: float  # claims that lost a resource to an earlier claim / claims
    mean_latency: float  # slots from arrival to the last pair of a completed request
    mean_fidelity: float  # of delivered pairs
    utilisation: float  # generated pairs that were consumed by claims
    slots_per_second: float

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


class _PathTable:
    """Cache of each (source, destination)'s padded candidate links and inner nodes."""

    def __init__(self, graph: nx.Graph, k: int) -> None:
        self.paths = CandidatePaths(graph, k)
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def get(self, s: int, d: int, max_hops: int) -> tuple[np.ndarray, np.ndarray]:
        hit = self._cache.get((s, d))
        if hit is None:
            links, _, _ = self.paths.padded(s, d, max_hops)
            hit = self._cache[(s, d)] = (links, self.paths.padded_inner(s, d, max_hops))
        return hit


def simulate(
    graph: nx.Graph,
    traffic: RequestGenerator,
    slots: int,
    seed: int,
    config: EngineConfig | None = None,
    k_paths: int = 3,
) -> SimulationReport:
    """Simulate ``slots`` slots; one seed determines topology use, traffic and outcomes."""
    rng = np.random.default_rng(seed)
    engine = NetworkEngine(graph, config)
    batch = traffic.generate(graph.number_of_nodes(), slots, rng)
    table = _PathTable(graph, k_paths)
    max_hops = graph.number_of_nodes() - 1
    queues: list[deque[int]] = [deque() for _ in range(graph.number_of_nodes())]
    remaining = batch.n_pairs.astype(np.int64).copy()
    arrivals = np.searchsorted(batch.arrival, np.arange(1, slots + 2))
    delivered_pairs = claims = contention = 0
    latency: list[int] = []
    fidelity_sum = 0.0
    ended_pairs = 0
    start = time.perf_counter()
    for t in range(1, slots + 1):
        engine.step(rng)
        for r in range(arrivals[t - 1], arrivals[t]):
            queues[int(batch.source[r])].append(r)
        heads, link_rows, inner_rows = [], [], []
        for node, q in enumerate(queues):
            while q and batch.deadline[q[0]] < t:
                ended_pairs += int(batch.n_pairs[q.popleft()])
            if not q:
                continue
            r = q[0]
            links, inner = table.get(node, int(batch.destination[r]), max_hops)
            choice = _first_feasible(engine, links, inner, float(batch.f_min[r]))
            if choice >= 0:
                heads.append(r)
                link_rows.append(links[choice])
                inner_rows.append(inner[choice])
        if not heads:
            continue
        order = rng.permutation(len(heads))
        req = np.asarray(heads)[order]
        result = engine.serve(
            np.stack(link_rows)[order], np.stack(inner_rows)[order], batch.f_min[req], rng
        )
        claims += req.size
        contention += int(result.contention.sum())
        for r, ok, f in zip(req, result.delivered, result.fidelity, strict=True):
            if not ok:
                continue
            delivered_pairs += 1
            fidelity_sum += float(f)
            remaining[r] -= 1
            if remaining[r] == 0:
                queues[int(batch.source[r])].popleft()
                ended_pairs += int(batch.n_pairs[r])
                latency.append(t - int(batch.arrival[r]) + 1)
    elapsed = time.perf_counter() - start
    return SimulationReport(
        slots=slots,
        requests=len(batch),
        pairs_requested=int(batch.n_pairs.sum()),
        pairs_delivered=delivered_pairs,
        delivery_rate=delivered_pairs / ended_pairs if ended_pairs else 0.0,
        contention_rate=contention / claims if claims else 0.0,
        mean_latency=float(np.mean(latency)) if latency else float("nan"),
        mean_fidelity=fidelity_sum / delivered_pairs if delivered_pairs else float("nan"),
        utilisation=engine.links.consumed / engine.links.generated
        if engine.links.generated
        else 0.0,
        slots_per_second=slots / elapsed,
    )


def _first_feasible(
    engine: NetworkEngine, links: np.ndarray, inner: np.ndarray, f_min: float
) -> int:
    """Index of the first candidate path that could deliver F >= f_min now, or −1."""
    valid = links >= 0
    if not valid.any():
        return -1
    safe = np.where(valid, links, 0)
    has_pair = np.where(valid, engine.links.count[safe] > 0, True).all(axis=1)
    has_credit = np.where(inner >= 0, engine.credit[np.maximum(inner, 0)] >= 1.0, True).all(axis=1)
    w = np.where(valid, engine.links.freshest_werner(safe.ravel()).reshape(safe.shape), 1.0)
    fidelity = (3.0 * w.prod(axis=1) + 1.0) / 4.0
    ok = has_pair & has_credit & valid.any(axis=1) & (fidelity >= f_min)
    hits = np.flatnonzero(ok)
    return int(hits[0]) if hits.size else -1
