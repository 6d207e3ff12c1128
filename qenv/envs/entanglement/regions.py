"""Edge clouds: groups of nodes acting as one agent (DESIGN.md §3).

Regions are graph-Voronoi cells: ``C`` centres chosen by farthest-point sampling in
fibre distance (km along shortest paths), starting from the node with the smallest
worst-case distance to all others; every node joins its nearest centre (ties to the
lower centre index). Cells of a connected graph are connected, need no coordinates
(real topologies often lack them) and depend only on the graph, not on a seed.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int

IntArray = npt.NDArray[np.int64]


def voronoi_regions(graph: nx.Graph, n_regions: int) -> list[list[int]]:
    """Partition the nodes ``0..N-1`` into ``n_regions`` non-empty regions, each sorted."""
    n = graph.number_of_nodes()
    n_regions = check_positive_int("n_edge_clouds", n_regions)
    if n_regions > n:
        raise ValueError(f"n_edge_clouds must be <= the number of nodes ({n}), got {n_regions}")
    if n_regions == 1:
        return [list(range(n))]
    dist = np.full((n, n), np.inf)
    for src, lengths in nx.all_pairs_dijkstra_path_length(graph, weight="length"):
        for dst, d in lengths.items():
            dist[src, dst] = d
    # Unreachable pairs count as very far, so each component gets its own centres.
    dist[~np.isfinite(dist)] = 1e12
    centres = [int(np.argmin(dist.max(axis=1)))]
    nearest = dist[centres[0]].copy()
    while len(centres) < n_regions:
        nearest[centres] = -1.0
        nxt = int(np.argmax(nearest))
        centres.append(nxt)
        nearest = np.minimum(nearest, dist[nxt])
    owner = np.argmin(dist[centres], axis=0)
    owner[centres] = np.arange(n_regions)
    return [sorted(np.flatnonzero(owner == c).tolist()) for c in range(n_regions)]


def member_matrix(regions: list[list[int]]) -> IntArray:
    """(C, S) node ids of each region padded with −1 to the largest region size S."""
    size = max(len(r) for r in regions)
    out = np.full((len(regions), size), -1, dtype=np.int64)
    for i, r in enumerate(regions):
        out[i, : len(r)] = r
    return out


def check_regions(regions: list[list[int]], n_nodes: int) -> list[list[int]]:
    """Validate user-given regions: a partition of 0..N-1 into non-empty lists."""
    flat = [int(v) for r in regions for v in r]
    if any(len(r) == 0 for r in regions):
        raise ValueError("regions: every edge cloud needs at least one node")
    if sorted(flat) != list(range(n_nodes)):
        raise ValueError(f"regions must partition the nodes 0..{n_nodes - 1}, each exactly once")
    return [sorted(int(v) for v in r) for r in regions]
