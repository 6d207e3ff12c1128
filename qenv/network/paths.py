"""Link ids and k shortest loop-free candidate paths on a topology graph.

Conventions: nodes are integers; link ``l`` is the ``l``-th undirected edge in
sorted order of its ``(min, max)`` node pair (:func:`edge_index`). Path length is
the sum of link ``length`` (km) or the hop count.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from typing import Final, Literal

import networkx as nx
import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int

__all__ = ["CandidatePaths", "edge_array", "edge_index", "path_length_km"]

IntArray = npt.NDArray[np.int64]
NodePath = tuple[int, ...]
Weight = Literal["length", "hops"]

_WEIGHTS: Final = ("length", "hops")


def _sorted_edges(graph: nx.Graph) -> list[tuple[int, int]]:
    return sorted((u, v) if u <= v else (v, u) for u, v in graph.edges)


def edge_index(graph: nx.Graph) -> dict[tuple[int, int], int]:
    """Link id of each undirected edge; both ``(u, v)`` and ``(v, u)`` map to it.

    Ids are positions in the sorted list of ``(min, max)`` node pairs, matching
    :func:`edge_array`.
    """
    index: dict[tuple[int, int], int] = {}
    for i, (u, v) in enumerate(_sorted_edges(graph)):
        index[u, v] = i
        index[v, u] = i
    return index


def edge_array(graph: nx.Graph) -> IntArray:
    """(L, 2) int64 array of link end nodes, ``u < v``, row ``l`` = link id ``l``."""
    edges = _sorted_edges(graph)
    return np.array(edges, dtype=np.int64).reshape(len(edges), 2)


def path_length_km(graph: nx.Graph, path: Sequence[int]) -> float:
    """Total ``length`` (km) of the links along ``path`` (0.0 for a single node).

    Raises:
        ValueError: empty path, or consecutive nodes that are not adjacent.
    """
    if len(path) == 0:
        raise ValueError("path must contain at least one node")
    total = 0.0
    for u, v in itertools.pairwise(path):
        if not graph.has_edge(u, v):
            raise ValueError(f"path: nodes {u!r} and {v!r} are not adjacent")
        total += float(graph.edges[u, v]["length"])
    return total


class CandidatePaths:
    """Up to ``k`` loop-free shortest paths between node pairs, computed lazily.

    Paths for a pair are found on first request with Yen's algorithm
    (:func:`networkx.shortest_simple_paths`) and cached; ``(s, d)`` and ``(d, s)``
    share one computation (paths for ``s > d`` are the reverses of those for
    ``d < s``). Paths are sorted by total weight (km, or hops), ties broken by
    networkx's order on a graph whose nodes and edges are inserted in sorted order,
    so the result depends only on the graph, not on its construction order.

    The graph is copied at construction (only its structure and ``length``), so
    later changes to it are not seen. Instances are picklable.

    Args:
        graph: undirected graph with integer nodes; with ``weight="length"`` every
            edge needs ``length`` > 0 (km).
        k: most paths per pair, >= 1 (the ``k_paths`` setting).
        weight: ``"length"`` (km) or ``"hops"``.
    """

    def __init__(self, graph: nx.Graph, k: int, *, weight: Weight = "length") -> None:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k (k_paths) must be an integer >= 1, got {k!r}")
        if weight not in _WEIGHTS:
            raise ValueError(f"weight must be one of {_WEIGHTS}, got {weight!r}")
        if graph.is_directed() or graph.is_multigraph():
            raise ValueError(
                "graph must be an undirected nx.Graph (not directed, not a multigraph)"
            )
        for n in graph.nodes:
            if isinstance(n, bool) or not isinstance(n, int | np.integer):
                raise ValueError(f"graph nodes must be integers, got {n!r}")
        edges = _sorted_edges(graph)
        work = nx.Graph()
        work.add_nodes_from(sorted(int(n) for n in graph.nodes))
        for u, v in edges:
            if weight == "length":
                length = graph.edges[u, v].get("length")
                ok = isinstance(length, int | float | np.integer | np.floating)
                if not ok or not (0.0 < float(length) < float("inf")):
                    raise ValueError(
                        f"graph edge ({u}, {v}): length must be a finite number > 0 km, "
                        f"got {length!r}"
                    )
                work.add_edge(int(u), int(v), length=float(length))
            else:
                work.add_edge(int(u), int(v))
        self._graph = work
        self._k = int(k)
        self._weight: Weight = weight
        self._index = edge_index(work)
        self._paths: dict[tuple[int, int], tuple[NodePath, ...]] = {}
        self._links: dict[tuple[int, int], tuple[IntArray, ...]] = {}

    @property
    def k(self) -> int:
        """Most paths returned per pair."""
        return self._k

    @property
    def weight(self) -> Weight:
        """Path cost: ``"length"`` (km) or ``"hops"``."""
        return self._weight

    @property
    def n_links(self) -> int:
        """Number of links L (link ids are 0..L-1)."""
        return int(self._graph.number_of_edges())

    @property
    def edge_index(self) -> dict[tuple[int, int], int]:
        """Link ids used by :meth:`links` (a copy of :func:`edge_index` of the graph)."""
        return dict(self._index)

    def _check_pair(self, s: int, d: int) -> tuple[int, int]:
        out = []
        for name, node in (("s", s), ("d", d)):
            try:
                value = operator.index(node)
            except TypeError:
                raise ValueError(f"{name} must be an integer node id, got {node!r}") from None
            if value not in self._graph:
                n = self._graph.number_of_nodes()
                raise ValueError(f"{name}={value} is not a node of the graph ({n} nodes)")
            out.append(value)
        if out[0] == out[1]:
            raise ValueError(f"s and d must differ, got s = d = {out[0]}")
        return out[0], out[1]

    def _compute(self, a: int, b: int) -> tuple[NodePath, ...]:
        """Paths from ``a`` to ``b`` with ``a < b``, cached."""
        cached = self._paths.get((a, b))
        if cached is None:
            weight = "length" if self._weight == "length" else None
            try:
                gen = nx.shortest_simple_paths(self._graph, a, b, weight=weight)
                cached = tuple(tuple(p) for p in itertools.islice(gen, self._k))
            except nx.NetworkXNoPath:
                cached = ()
            self._paths[a, b] = cached
            self._links[a, b] = tuple(
                np.array([self._index[e] for e in itertools.pairwise(p)], dtype=np.int64)
                for p in cached
            )
        return cached

    def paths(self, s: int, d: int) -> list[NodePath]:
        """Up to ``k`` simple paths from ``s`` to ``d`` as node tuples, shortest first.

        Empty if ``d`` is unreachable. Raises ValueError if ``s == d`` or a node is unknown.
        """
        s, d = self._check_pair(s, d)
        found = self._compute(min(s, d), max(s, d))
        return list(found) if s < d else [p[::-1] for p in found]

    def links(self, s: int, d: int) -> list[IntArray]:
        """Link ids along each path of :meth:`paths` (int64, in travel order from ``s``)."""
        s, d = self._check_pair(s, d)
        a, b = min(s, d), max(s, d)
        self._compute(a, b)
        found = self._links[a, b]
        return [x.copy() for x in found] if s < d else [x[::-1].copy() for x in found]

    def padded(self, s: int, d: int, max_hops: int) -> tuple[IntArray, IntArray, int]:
        """Fixed-shape form of :meth:`links` for vectorised consumers.

        Returns:
            link_ids: (k, max_hops) int64; row ``i`` holds path ``i``'s link ids,
                padded with -1 (rows ``>= n_valid`` are all -1).
            hops: (k,) int64 hop count of each path (0 for absent rows).
            n_valid: number of paths found (<= k).

        Raises:
            ValueError: ``max_hops`` < 1 or shorter than a path (choose
                ``max_hops = n_nodes - 1`` to always fit).
        """
        max_hops = check_positive_int("max_hops", max_hops)
        found = self.links(s, d)
        link_ids = np.full((self._k, int(max_hops)), -1, dtype=np.int64)
        hops = np.zeros(self._k, dtype=np.int64)
        for i, ids in enumerate(found):
            if ids.size > max_hops:
                raise ValueError(
                    f"max_hops={max_hops} is too small: path {i} from {s} to {d} has "
                    f"{ids.size} hops"
                )
            link_ids[i, : ids.size] = ids
            hops[i] = ids.size
        return link_ids, hops, len(found)

    def padded_inner(self, s: int, d: int, max_hops: int) -> IntArray:
        """(k, max_hops − 1) inner nodes of each path (where its swaps happen), padded with −1.

        Rows line up with :meth:`padded`; the pair of arrays is what
        :meth:`qenv.network.engine.NetworkEngine.serve` takes.
        """
        max_hops = check_positive_int("max_hops", max_hops)
        inner = np.full((self._k, max_hops - 1), -1, dtype=np.int64)
        for i, nodes in enumerate(self.paths(s, d)):
            if len(nodes) - 1 > max_hops:
                raise ValueError(
                    f"max_hops={max_hops} is too small: path {i} from {s} to {d} has "
                    f"{len(nodes) - 1} hops"
                )
            inner[i, : len(nodes) - 2] = nodes[1:-1]
        return inner

    def __repr__(self) -> str:
        n, links = self._graph.number_of_nodes(), self.n_links
        return f"CandidatePaths(nodes={n}, links={links}, k={self._k}, weight={self._weight!r})"
