"""Named network scenarios: a topology and a traffic model built from one seed.

``dpem`` is the default of DESIGN.md §2: the 100-node random mesh (generation
rate U(0, 10) pairs/s, repeater capacity U(0, 5) swaps/s) under Poisson traffic
with gravity-model popularity. Smaller ones serve tests and quick runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx
import numpy as np

from qenv.network.topology import chain, random_mesh
from qenv.network.traffic import Gravity, Poisson, TrafficModel


@dataclass(frozen=True)
class NetworkScenario:
    graph: nx.Graph
    traffic: TrafficModel


def _dpem(rng: np.random.Generator, n_nodes: int = 100) -> NetworkScenario:
    graph = random_mesh(n_nodes, rng=rng)
    mass = rng.lognormal(0.0, 1.0, n_nodes)
    # 0.5 requests/s per node: about 500 requests in a 1,000-slot (10 s) run on 100 nodes.
    traffic = TrafficModel(Poisson(0.5), Gravity(mass=mass), f_min=(0.5, 0.8), deadline_slots=200)
    return NetworkScenario(graph, traffic)


def _mesh8(rng: np.random.Generator) -> NetworkScenario:
    graph = random_mesh(8, rng=rng, area_km=60.0)
    return NetworkScenario(graph, TrafficModel(Poisson(1.0), f_min=(0.5, 0.8), deadline_slots=200))


def _chain5(rng: np.random.Generator) -> NetworkScenario:
    graph = chain(5, rng=rng, spacing_km=10.0, gen_rate=10.0, swap_capacity=5.0)
    return NetworkScenario(graph, TrafficModel(Poisson(1.0), f_min=(0.5, 0.8), deadline_slots=200))


SCENARIOS: dict[str, Callable[[np.random.Generator], NetworkScenario]] = {
    "dpem": _dpem,
    "mesh8": _mesh8,
    "chain5": _chain5,
}


def make_scenario(name: str, seed: int) -> NetworkScenario:
    """Build scenario ``name`` from ``seed``; unknown names list the valid ones."""
    if name not in SCENARIOS:
        raise ValueError(f"scenario must be one of {sorted(SCENARIOS)}, got {name!r}")
    return SCENARIOS[name](np.random.default_rng(seed))
