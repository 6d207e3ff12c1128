"""Network topologies: random generators and a GML/GraphML loader.

Every builder returns an undirected :class:`networkx.Graph` with integer nodes
``0..N-1`` and these attributes (units: km, 1/s, s):

Node attributes
    ``gen_rate`` (pair generation rate of the node's source, pairs/s),
    ``swap_capacity`` (swaps/s), ``memory`` (qubits, int), ``t_coh`` (memory
    coherence time, s), ``name`` (original label or id, str) and ``pos`` ((x, y)
    in km; absent for file nodes without coordinates).
Edge attributes
    ``length`` (km, > 0) and ``f0`` (fidelity of a freshly generated pair, in
    [0.25, 1]).
Graph attributes
    ``name`` and ``is_connected`` (bool, as built).

Attribute arguments accept a number (every node/edge gets that value) or a
``(low, high)`` tuple (independent uniform draws from ``rng``; for ``memory``
integer draws from ``low..high`` inclusive). Draws are made in a fixed order
(attributes in the order above, nodes and edges in sorted order), so a seed fixes
the whole graph. No function uses a global random state.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Final, TypedDict

import networkx as nx
import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int

__all__ = [
    "EARTH_RADIUS_KM",
    "GENERATORS",
    "MIN_LENGTH_KM",
    "TOPOLOGY_NAMES",
    "FloatSpec",
    "IntSpec",
    "assign_attributes",
    "chain",
    "grid",
    "haversine_km",
    "largest_component",
    "load_topology",
    "make_topology",
    "random_mesh",
    "ring",
    "waxman",
]

FloatSpec = float | tuple[float, float]
"""A constant, or a ``(low, high)`` range for uniform draws."""
IntSpec = int | tuple[int, int]
"""A constant, or a ``(low, high)`` inclusive range for integer draws."""

FloatArray = npt.NDArray[np.float64]

#: Earth radius used by the haversine formula, km.
EARTH_RADIUS_KM: Final = 6371.0
#: Floor on generated and loaded link lengths, km (co-located nodes).
MIN_LENGTH_KM: Final = 0.1

#: Names accepted by :func:`make_topology` (besides a ``.gml``/``.graphml`` path).
TOPOLOGY_NAMES: Final = ("random_mesh", "dpem", "waxman", "grid", "ring", "chain")

_FILE_SUFFIXES: Final = (".gml", ".graphml")
_INF = math.inf


# --------------------------------------------------------------------------- validation


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


_check_int = check_positive_int  # one integer check for the whole package


def _check_positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    x = float(value)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return x


@dataclass(frozen=True)
class _Range:
    """Allowed values of one attribute: ``low <= x <= high`` (``low`` open if flagged)."""

    low: float
    high: float
    low_open: bool = False
    integer: bool = False

    def describe(self, name: str) -> str:
        kind = "an integer" if self.integer else "a finite number"
        if self.high == _INF:
            return f"{name} must be {kind} {'>' if self.low_open else '>='} {self.low:g}"
        lo = "(" if self.low_open else "["
        return f"{name} must be {kind} in {lo}{self.low:g}, {self.high:g}]"

    def contains(self, value: object) -> bool:
        if isinstance(value, bool):
            return False
        if self.integer:
            if not isinstance(value, int | np.integer):
                return False
        elif not isinstance(value, int | float | np.integer | np.floating):
            return False
        x = float(value)
        if not math.isfinite(x) or x > self.high:
            return False
        return x > self.low if self.low_open else x >= self.low


# Allowed ranges of the attributes, in draw order (node attributes first).
_NODE_RANGES: Final = {
    "gen_rate": _Range(0.0, _INF),
    "swap_capacity": _Range(0.0, _INF),
    "memory": _Range(1.0, _INF, integer=True),
    "t_coh": _Range(0.0, _INF, low_open=True),
}
_EDGE_RANGES: Final = {"f0": _Range(0.25, 1.0)}


@dataclass(frozen=True)
class _Spec:
    """A validated attribute argument: constant if ``low == high``, else uniform."""

    name: str
    low: float
    high: float
    integer: bool

    def draw(self, rng: np.random.Generator, size: int) -> list[Any]:
        if self.integer:
            if self.low == self.high:
                return [int(self.low)] * size
            values = rng.integers(int(self.low), int(self.high) + 1, size=size)
            return [int(v) for v in values]
        if self.low == self.high:
            return [float(self.low)] * size
        return [float(v) for v in rng.uniform(self.low, self.high, size=size)]


def _parse_spec(name: str, spec: object, allowed: _Range) -> _Spec:
    """Validate a constant or ``(low, high)`` attribute argument."""
    if isinstance(spec, tuple | list):
        if len(spec) != 2:
            raise ValueError(
                f"{name} must be a number or a (low, high) pair, got {spec!r}; "
                f"{allowed.describe('each bound')}"
            )
        low, high = spec
        for bound in (low, high):
            if not allowed.contains(bound):
                raise ValueError(f"{name}={spec!r}: {allowed.describe('each bound')}")
        if low > high:
            raise ValueError(f"{name}={spec!r}: low must be <= high")
        return _Spec(name, float(low), float(high), allowed.integer)
    if not allowed.contains(spec):
        raise ValueError(f"{allowed.describe(name)}, or a (low, high) pair; got {spec!r}")
    value = float(spec)  # type: ignore[arg-type]  # contains() checked it is a number
    return _Spec(name, value, value, allowed.integer)


def _parse_specs(
    gen_rate: object, swap_capacity: object, memory: object, t_coh: object, f0: object
) -> tuple[list[_Spec], list[_Spec]]:
    given = {"gen_rate": gen_rate, "swap_capacity": swap_capacity, "memory": memory}
    given |= {"t_coh": t_coh, "f0": f0}
    node = [_parse_spec(k, given[k], r) for k, r in _NODE_RANGES.items()]
    edge = [_parse_spec(k, given[k], r) for k, r in _EDGE_RANGES.items()]
    return node, edge


class _AttrKwargs(TypedDict):
    gen_rate: FloatSpec
    swap_capacity: FloatSpec
    memory: IntSpec
    t_coh: FloatSpec
    f0: FloatSpec


def _attr_kwargs(
    gen_rate: FloatSpec, swap_capacity: FloatSpec, memory: IntSpec, t_coh: FloatSpec, f0: FloatSpec
) -> _AttrKwargs:
    """Validate the attribute arguments (before anything is drawn) and bundle them."""
    _parse_specs(gen_rate, swap_capacity, memory, t_coh, f0)
    return {
        "gen_rate": gen_rate,
        "swap_capacity": swap_capacity,
        "memory": memory,
        "t_coh": t_coh,
        "f0": f0,
    }


def _sorted(items: Iterable[Any]) -> list[Any]:
    """Items in sorted order, or in the given order if they are not comparable."""
    listed = list(items)
    try:
        return sorted(listed)
    except TypeError:
        return listed


def _edge_key(u: Any, v: Any) -> tuple[Any, Any]:
    try:
        return (u, v) if u <= v else (v, u)
    except TypeError:
        return (u, v)


# --------------------------------------------------------------------------- attributes


def assign_attributes(
    graph: nx.Graph,
    *,
    rng: np.random.Generator,
    gen_rate: FloatSpec = (0.0, 10.0),
    swap_capacity: FloatSpec = (0.0, 5.0),
    memory: IntSpec = 8,
    t_coh: FloatSpec = 1.0,
    f0: FloatSpec = 0.97,
) -> nx.Graph:
    """Fill in missing node/edge attributes of ``graph`` in place and return it.

    Args:
        graph: undirected graph; every edge must already have ``length`` > 0 (km).
        rng: source of the uniform draws.
        gen_rate: pair generation rate, pairs/s, >= 0.
        swap_capacity: swaps/s, >= 0.
        memory: qubits per node, integer >= 1.
        t_coh: memory coherence time, s, > 0.
        f0: initial fidelity of a fresh pair, in [0.25, 1].

    Each argument is a constant or a ``(low, high)`` range (uniform draws; ``memory``
    inclusive integers). Attributes already present are kept but checked against
    the same ranges. Everything is validated before the graph is modified; ``rng``
    is used only for missing attributes with a non-degenerate range.

    Raises:
        ValueError: an argument, an existing attribute or an edge length is out of range.
    """
    rng = _check_rng(rng)
    if graph.is_directed() or graph.is_multigraph():
        raise ValueError("graph must be an undirected nx.Graph (not directed, not a multigraph)")
    node_specs, edge_specs = _parse_specs(gen_rate, swap_capacity, memory, t_coh, f0)
    nodes = _sorted(graph.nodes)
    edges = _sorted(_edge_key(u, v) for u, v in graph.edges)
    length_range = _Range(0.0, _INF, low_open=True)
    for u, v in edges:
        data = graph.edges[u, v]
        if "length" not in data or not length_range.contains(data["length"]):
            raise ValueError(
                f"graph edge ({u!r}, {v!r}): length must be a finite number > 0 km, "
                f"got {data.get('length')!r}"
            )
        for key, allowed in _EDGE_RANGES.items():
            if key in data and not allowed.contains(data[key]):
                raise ValueError(
                    f"graph edge ({u!r}, {v!r}): {allowed.describe(key)}, got {data[key]!r}"
                )
    for n in nodes:
        data = graph.nodes[n]
        for key, allowed in _NODE_RANGES.items():
            if key in data and not allowed.contains(data[key]):
                raise ValueError(f"graph node {n!r}: {allowed.describe(key)}, got {data[key]!r}")
    # Validated: now draw and write.
    for spec in node_specs:
        missing = [n for n in nodes if spec.name not in graph.nodes[n]]
        for n, value in zip(missing, spec.draw(rng, len(missing)), strict=True):
            graph.nodes[n][spec.name] = value
    for spec in edge_specs:
        missing_e = [(u, v) for u, v in edges if spec.name not in graph.edges[u, v]]
        for (u, v), value in zip(missing_e, spec.draw(rng, len(missing_e)), strict=True):
            graph.edges[u, v][spec.name] = value
    for n in nodes:
        graph.nodes[n].setdefault("name", str(n))
    graph.graph.setdefault("name", "graph")
    graph.graph["is_connected"] = graph.number_of_nodes() > 0 and bool(nx.is_connected(graph))
    return graph


# --------------------------------------------------------------------------- geometry


def _pairwise_rows(pts: FloatArray, rows: slice) -> FloatArray:
    """Euclidean distances from ``pts[rows]`` to all points, shape (rows, N)."""
    diff = pts[rows, None, :] - pts[None, :, :]
    out: FloatArray = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    return out


def _euclidean_mst_edges(
    pts: FloatArray, component: npt.NDArray[np.int64]
) -> list[tuple[int, int]]:
    """Edges of a Euclidean minimum spanning tree joining the given components.

    Prim's algorithm in O(N^2) time and O(N) memory. Points with the same
    ``component`` label are treated as already joined (distance 0), so only edges
    between different components are returned: ``len(set(component)) - 1`` of them.
    """
    n = pts.shape[0]
    in_tree = np.zeros(n, dtype=bool)
    best = np.full(n, np.inf)
    parent = np.full(n, -1, dtype=np.int64)
    edges: list[tuple[int, int]] = []
    cur = 0
    in_tree[cur] = True
    for _ in range(n - 1):
        d = np.sqrt(((pts - pts[cur]) ** 2).sum(axis=1))
        d[component == component[cur]] = 0.0
        better = (d < best) & ~in_tree
        best[better] = d[better]
        parent[better] = cur
        best[in_tree] = np.inf
        nxt = int(np.argmin(best))
        if component[nxt] != component[parent[nxt]]:
            edges.append(_edge_key(int(parent[nxt]), nxt))
        in_tree[nxt] = True
        best[nxt] = np.inf
        cur = nxt
    return edges


def _geometric_graph(name: str, pts: FloatArray, edges: Iterable[tuple[int, int]]) -> nx.Graph:
    """Graph on points ``pts`` (km) with Euclidean lengths floored at MIN_LENGTH_KM."""
    graph = nx.Graph(name=name)
    for i, (x, y) in enumerate(pts.tolist()):
        graph.add_node(i, pos=(float(x), float(y)), name=str(i))
    for u, v in sorted(set(edges)):
        length = max(float(np.hypot(*(pts[u] - pts[v]))), MIN_LENGTH_KM)
        graph.add_edge(u, v, length=length)
    return graph


def _regular_graph(
    name: str, positions: list[tuple[float, float]], edges: list[tuple[int, int]], length: float
) -> nx.Graph:
    graph = nx.Graph(name=name)
    for i, (x, y) in enumerate(positions):
        graph.add_node(i, pos=(float(x), float(y)), name=str(i))
    for u, v in sorted(_edge_key(u, v) for u, v in edges):
        graph.add_edge(u, v, length=length)
    return graph


# --------------------------------------------------------------------------- generators


def random_mesh(
    n_nodes: int = 100,
    *,
    rng: np.random.Generator,
    area_km: float = 200.0,
    k_nearest: int = 3,
    gen_rate: FloatSpec = (0.0, 10.0),
    swap_capacity: FloatSpec = (0.0, 5.0),
    memory: IntSpec = 8,
    t_coh: FloatSpec = 1.0,
    f0: FloatSpec = 0.97,
) -> nx.Graph:
    """DPEM random mesh: nodes uniform in an ``area_km`` × ``area_km`` square (km).

    Each node is linked to its ``k_nearest`` Euclidean neighbours (ties broken by
    node id), and the edges of the Euclidean minimum spanning tree are added, so
    the graph is always connected. Link length is the Euclidean distance in km,
    floored at :data:`MIN_LENGTH_KM`. Draw order: positions, then attributes.
    """
    rng = _check_rng(rng)
    n = _check_int("n_nodes", n_nodes, 2)
    area = _check_positive("area_km", area_km)
    k = _check_int("k_nearest", k_nearest, 0)
    if k > n - 1:
        raise ValueError(f"k_nearest must be in [0, n_nodes - 1] = [0, {n - 1}], got {k}")
    specs = _attr_kwargs(gen_rate, swap_capacity, memory, t_coh, f0)

    pts = rng.uniform(0.0, area, size=(n, 2))
    edges: set[tuple[int, int]] = set()
    if k > 0:
        chunk = max(1, 2**22 // n)
        for start in range(0, n, chunk):
            rows = slice(start, min(start + chunk, n))
            d = _pairwise_rows(pts, rows)
            idx = np.arange(rows.start, rows.stop)
            d[idx - start, idx] = np.inf
            nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
            for i, row in zip(idx.tolist(), nearest.tolist(), strict=True):
                edges.update(_edge_key(i, j) for j in row)
    edges.update(_euclidean_mst_edges(pts, np.arange(n, dtype=np.int64)))
    graph = _geometric_graph("random_mesh", pts, edges)
    return assign_attributes(graph, rng=rng, **specs)


def waxman(
    n_nodes: int,
    *,
    rng: np.random.Generator,
    alpha: float = 0.4,
    beta: float = 0.2,
    area_km: float = 200.0,
    gen_rate: FloatSpec = (0.0, 10.0),
    swap_capacity: FloatSpec = (0.0, 5.0),
    memory: IntSpec = 8,
    t_coh: FloatSpec = 1.0,
    f0: FloatSpec = 0.97,
) -> nx.Graph:
    """Waxman graph on nodes uniform in an ``area_km`` × ``area_km`` square (km).

    Each pair is linked with probability ``beta * exp(-d / (alpha * L))``, where
    ``d`` is their distance and ``L`` the largest pairwise distance (Waxman 1988 /
    networkx convention: larger ``alpha`` favours long links, larger ``beta`` adds
    links). If the result is disconnected, the shortest Euclidean edges that join
    its components (a minimum spanning tree of the components) are added. Lengths
    are Euclidean distances, floored at :data:`MIN_LENGTH_KM`. Uses O(N^2) memory.
    """
    rng = _check_rng(rng)
    n = _check_int("n_nodes", n_nodes, 2)
    a = _check_positive("alpha", alpha)
    beta_range = _Range(0.0, 1.0, low_open=True)
    if not beta_range.contains(beta):
        raise ValueError(f"{beta_range.describe('beta')}, got {beta!r}")
    area = _check_positive("area_km", area_km)
    specs = _attr_kwargs(gen_rate, swap_capacity, memory, t_coh, f0)

    pts = rng.uniform(0.0, area, size=(n, 2))
    iu, ju = np.triu_indices(n, k=1)
    d = np.sqrt(((pts[iu] - pts[ju]) ** 2).sum(axis=1))
    scale = a * max(float(d.max()), MIN_LENGTH_KM)
    keep = rng.random(d.size) < float(beta) * np.exp(-d / scale)
    edges = list(zip(iu[keep].tolist(), ju[keep].tolist(), strict=True))
    base = nx.Graph()
    base.add_nodes_from(range(n))
    base.add_edges_from(edges)
    component = np.empty(n, dtype=np.int64)
    for label, members in enumerate(nx.connected_components(base)):
        component[list(members)] = label
    edges += _euclidean_mst_edges(pts, component)
    graph = _geometric_graph("waxman", pts, edges)
    return assign_attributes(graph, rng=rng, **specs)


def grid(
    rows: int,
    cols: int,
    *,
    spacing_km: float = 20.0,
    rng: np.random.Generator,
    gen_rate: FloatSpec = (0.0, 10.0),
    swap_capacity: FloatSpec = (0.0, 5.0),
    memory: IntSpec = 8,
    t_coh: FloatSpec = 1.0,
    f0: FloatSpec = 0.97,
) -> nx.Graph:
    """``rows`` × ``cols`` square lattice; node ``r * cols + c`` sits at (c, r) · spacing_km.

    Every link has length ``spacing_km``. ``rng`` is used only for the attributes.
    """
    rng = _check_rng(rng)
    r = _check_int("rows", rows, 1)
    c = _check_int("cols", cols, 1)
    if r * c < 2:
        raise ValueError(f"rows * cols must be >= 2, got rows={r}, cols={c}")
    spacing = _check_positive("spacing_km", spacing_km)
    specs = _attr_kwargs(gen_rate, swap_capacity, memory, t_coh, f0)
    positions = [(j * spacing, i * spacing) for i in range(r) for j in range(c)]
    edges = [(i * c + j, i * c + j + 1) for i in range(r) for j in range(c - 1)]
    edges += [(i * c + j, (i + 1) * c + j) for i in range(r - 1) for j in range(c)]
    graph = _regular_graph("grid", positions, edges, spacing)
    return assign_attributes(graph, rng=rng, **specs)


def ring(
    n_nodes: int,
    *,
    spacing_km: float = 20.0,
    rng: np.random.Generator,
    gen_rate: FloatSpec = (0.0, 10.0),
    swap_capacity: FloatSpec = (0.0, 5.0),
    memory: IntSpec = 8,
    t_coh: FloatSpec = 1.0,
    f0: FloatSpec = 0.97,
) -> nx.Graph:
    """Cycle of ``n_nodes`` >= 3 nodes on a circle, neighbours ``spacing_km`` apart (chord).

    Node ``i`` is at angle 2πi/N around the origin. ``rng`` is used only for the attributes.
    """
    rng = _check_rng(rng)
    n = _check_int("n_nodes", n_nodes, 3)
    spacing = _check_positive("spacing_km", spacing_km)
    specs = _attr_kwargs(gen_rate, swap_capacity, memory, t_coh, f0)
    radius = spacing / (2.0 * math.sin(math.pi / n))
    angles = [2.0 * math.pi * i / n for i in range(n)]
    positions = [(radius * math.cos(t), radius * math.sin(t)) for t in angles]
    edges = [(i, (i + 1) % n) for i in range(n)]
    graph = _regular_graph("ring", positions, edges, spacing)
    return assign_attributes(graph, rng=rng, **specs)


def chain(
    n_nodes: int,
    *,
    spacing_km: float = 20.0,
    rng: np.random.Generator,
    gen_rate: FloatSpec = (0.0, 10.0),
    swap_capacity: FloatSpec = (0.0, 5.0),
    memory: IntSpec = 8,
    t_coh: FloatSpec = 1.0,
    f0: FloatSpec = 0.97,
) -> nx.Graph:
    """Linear chain ``0 - 1 - ... - N-1``; node ``i`` at (i · spacing_km, 0).

    ``rng`` is used only for the attributes.
    """
    rng = _check_rng(rng)
    n = _check_int("n_nodes", n_nodes, 2)
    spacing = _check_positive("spacing_km", spacing_km)
    specs = _attr_kwargs(gen_rate, swap_capacity, memory, t_coh, f0)
    positions = [(i * spacing, 0.0) for i in range(n)]
    edges = [(i, i + 1) for i in range(n - 1)]
    graph = _regular_graph("chain", positions, edges, spacing)
    return assign_attributes(graph, rng=rng, **specs)


# --------------------------------------------------------------------------- files


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two (latitude, longitude) points in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


_LINE_COL = re.compile(r"at \((\d+), (\d+)\)")


def _read_gml(path: Path) -> nx.Graph:
    """Parse GML as a multigraph (tolerates repeated edges) with nodes keyed by ``id``."""
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: malformed GML: not ASCII ({err})") from err
    # Zoo files repeat edges without declaring `multigraph 1`; declare it on the same
    # line as `graph [` so that the parser's line numbers stay right.
    text = re.sub(r"\bgraph\s*\[", "graph [ multigraph 1 ", text, count=1)
    try:
        return nx.parse_gml(text, label="id")
    except (nx.NetworkXError, ValueError, TypeError, KeyError, AttributeError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        m = _LINE_COL.search(msg)
        where = f" line {m.group(1)}:" if m else ""
        raise ValueError(f"{path}:{where} malformed GML: {msg}") from err


def _read_graphml(path: Path) -> nx.Graph:
    try:
        return nx.read_graphml(path)
    except ET.ParseError as err:
        line = err.position[0]
        raise ValueError(f"{path}: line {line}: malformed GraphML: {err}") from err
    except (nx.NetworkXError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise ValueError(f"{path}: malformed GraphML: {err}") from err


def _id_sort_key(node: Hashable) -> tuple[int, float, str]:
    """Sort ids numerically when they are numbers or numeric strings, else as strings."""
    if isinstance(node, int | float) and not isinstance(node, bool):
        return (0, float(node), "")
    try:
        return (0, float(str(node)), "")
    except ValueError:
        return (1, 0.0, str(node))


def _coordinates(data: dict[str, Any]) -> tuple[float, float] | None:
    lat, lon = data.get("Latitude"), data.get("Longitude")
    numbers = (int, float)
    if not (isinstance(lat, numbers) and isinstance(lon, numbers)):
        return None
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return float(lat), float(lon)


def load_topology(
    path: str | PathLike[str],
    *,
    rng: np.random.Generator,
    default_length_km: float | None = None,
    gen_rate: FloatSpec = (0.0, 10.0),
    swap_capacity: FloatSpec = (0.0, 5.0),
    memory: IntSpec = 8,
    t_coh: FloatSpec = 1.0,
    f0: FloatSpec = 0.97,
) -> nx.Graph:
    """Load a GML (``.gml``) or GraphML (``.graphml``) topology, e.g. from the Topology Zoo.

    - Repeated edges (with or without ``multigraph 1``) are collapsed to one link;
      the edge attribute ``multiplicity`` counts them and the first one's attributes
      are kept. Self-loops are dropped (counted in ``graph["self_loops_dropped"]``).
      Directed files are made undirected.
    - GML nodes are keyed by ``id``. Nodes are relabelled ``0..N-1`` in sorted order
      of their original id (numerically when numeric); ``name`` keeps the id as str,
      and the file's other node/edge/graph attributes are kept.
    - ``length`` (km) is the haversine distance (R = 6371 km) between the endpoints'
      ``Latitude``/``Longitude`` (degrees), floored at :data:`MIN_LENGTH_KM`. An edge
      with an endpoint lacking valid coordinates gets ``default_length_km`` if given,
      else the median of the known lengths; such edges have ``length_estimated=True``.
    - ``pos`` (km) is an equirectangular projection centred on the mean latitude and
      longitude of the nodes with coordinates; absent for nodes without them.
    - No node is dropped: ``graph["is_connected"]`` tells whether the graph is
      connected (see :func:`largest_component`).
    - ``graph["name"]`` is the file stem; ``graph["source_file"]`` the path.

    Raises:
        ValueError: missing file, unknown extension, malformed file (naming the file
            and, when the parser reports one, the line), or bad attribute arguments.
    """
    rng = _check_rng(rng)
    file = Path(path)
    default = (
        None
        if default_length_km is None
        else _check_positive("default_length_km", default_length_km)
    )
    specs = _attr_kwargs(gen_rate, swap_capacity, memory, t_coh, f0)
    suffix = file.suffix.lower()
    if suffix not in _FILE_SUFFIXES:
        raise ValueError(
            f"{file}: unknown topology file extension {file.suffix!r}; "
            f"allowed: {', '.join(_FILE_SUFFIXES)}"
        )
    if not file.is_file():
        raise ValueError(f"{file}: topology file not found")
    raw = _read_gml(file) if suffix == ".gml" else _read_graphml(file)

    originals = sorted(raw.nodes, key=_id_sort_key)
    if len(originals) < 2:
        raise ValueError(f"{file}: a topology needs at least 2 nodes, found {len(originals)}")
    index = {node: i for i, node in enumerate(originals)}
    coords = {index[n]: _coordinates(raw.nodes[n]) for n in originals}

    graph = nx.Graph()
    graph.graph.update(
        {k: v for k, v in raw.graph.items() if k not in ("node_default", "edge_default")}
    )
    graph.graph["name"] = file.stem
    graph.graph["source_file"] = str(file)
    known = [c for c in coords.values() if c is not None]
    lat0 = float(np.mean([c[0] for c in known])) if known else 0.0
    lon0 = float(np.mean([c[1] for c in known])) if known else 0.0
    for node in originals:
        i = index[node]
        data = {k: v for k, v in raw.nodes[node].items() if k not in ("pos", "name")}
        data["name"] = str(node)
        c = coords[i]
        if c is not None:
            x = EARTH_RADIUS_KM * math.radians(c[1] - lon0) * math.cos(math.radians(lat0))
            y = EARTH_RADIUS_KM * math.radians(c[0] - lat0)
            data["pos"] = (x, y)
        graph.add_node(i, **data)

    self_loops = 0
    multiplicity: dict[tuple[int, int], int] = {}
    first: dict[tuple[int, int], dict[str, Any]] = {}
    for u, v, data in raw.edges(data=True):
        a, b = _edge_key(index[u], index[v])
        if a == b:
            self_loops += 1
            continue
        multiplicity[a, b] = multiplicity.get((a, b), 0) + 1
        first.setdefault((a, b), {k: val for k, val in data.items() if k not in ("key",)})
    graph.graph["self_loops_dropped"] = self_loops

    lengths: dict[tuple[int, int], float] = {}
    for a, b in multiplicity:
        ca, cb = coords[a], coords[b]
        if ca is not None and cb is not None:
            lengths[a, b] = max(haversine_km(*ca, *cb), MIN_LENGTH_KM)
    if default is None and len(lengths) < len(multiplicity):
        if not lengths:
            raise ValueError(
                f"{file}: no edge has coordinates at both ends, so no length can be computed; "
                "pass default_length_km (> 0)"
            )
        default = float(np.median(list(lengths.values())))
    for a, b in sorted(multiplicity):
        data = first[a, b]
        data.update(multiplicity=multiplicity[a, b], length_estimated=(a, b) not in lengths)
        data["length"] = lengths.get((a, b), default)
        graph.add_edge(a, b, **data)
    try:
        return assign_attributes(graph, rng=rng, **specs)
    except ValueError as err:
        raise ValueError(f"{file}: {err}") from err


# --------------------------------------------------------------------------- helpers


def largest_component(graph: nx.Graph) -> nx.Graph:
    """Copy of the largest connected component, relabelled ``0..n-1`` in node order.

    Attributes (including ``name``, the original label) are copied; ties between
    equally large components go to the one containing the smallest node.
    """
    if graph.number_of_nodes() == 0:
        raise ValueError("graph has no nodes")
    components = sorted(nx.connected_components(graph), key=lambda c: (-len(c), min(c)))
    keep = sorted(components[0])
    sub = graph.subgraph(keep).copy()
    out = nx.relabel_nodes(sub, {n: i for i, n in enumerate(keep)}, copy=True)
    out.graph["is_connected"] = True
    return out


#: Topology generators by name (each takes ``rng=`` and its own keywords).
GENERATORS: Final[dict[str, Callable[..., nx.Graph]]] = {
    "random_mesh": random_mesh,
    "waxman": waxman,
    "grid": grid,
    "ring": ring,
    "chain": chain,
}


def make_topology(name: str, *, rng: np.random.Generator, **kwargs: Any) -> nx.Graph:
    """Build a topology by name: one of :data:`TOPOLOGY_NAMES` or a ``.gml``/``.graphml`` path.

    ``"dpem"`` is :func:`random_mesh` with its defaults (graph name ``"dpem"``).
    ``kwargs`` go to the chosen builder.
    """
    key = name.strip().lower()
    if key == "dpem":
        graph = random_mesh(rng=rng, **kwargs)
        graph.graph["name"] = "dpem"
        return graph
    if key in GENERATORS:
        return GENERATORS[key](rng=rng, **kwargs)
    if Path(name).suffix.lower() in _FILE_SUFFIXES:
        return load_topology(name, rng=rng, **kwargs)
    raise ValueError(
        f"unknown topology {name!r}; valid: {', '.join(TOPOLOGY_NAMES)}, "
        f"or a path ending in {' or '.join(_FILE_SUFFIXES)}"
    )
