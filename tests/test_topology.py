"""Tests for qenv.network.topology: generators, attributes, the GML/GraphML loader."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from qenv.network import topology as topo

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "topologies"
needs_data = pytest.mark.skipif(
    not (DATA_DIR / "README.md").is_file(),
    reason=f"Topology Zoo fixtures not found at {DATA_DIR} (shared/data/topologies)",
)

# From the table in shared/data/topologies/README.md: nodes, edges in file, unique edges.
ZOO_COUNTS = {
    "Abilene.gml": (11, 14, 14),
    "Nsfnet.gml": (13, 15, 15),
    "Geant2012.gml": (40, 61, 61),
    "Surfnet.gml": (50, 73, 68),
    "Cogentco.gml": (197, 245, 243),
    "Surfnet.graphml": (50, 73, 68),
}

Builder = Callable[[np.random.Generator], nx.Graph]
BUILDERS: dict[str, Builder] = {
    "random_mesh": lambda rng: topo.random_mesh(60, rng=rng),
    "waxman": lambda rng: topo.waxman(40, rng=rng),
    "grid": lambda rng: topo.grid(3, 4, rng=rng),
    "ring": lambda rng: topo.ring(7, rng=rng),
    "chain": lambda rng: topo.chain(5, rng=rng),
}
NODE_KEYS = ("gen_rate", "swap_capacity", "memory", "t_coh", "name", "pos")


def snapshot(graph: nx.Graph) -> tuple[Any, ...]:
    """Everything about a graph, for equality checks."""
    nodes = sorted((n, sorted(d.items())) for n, d in graph.nodes(data=True))
    edges = sorted((u, v, sorted(d.items())) for u, v, d in graph.edges(data=True))
    return nodes, edges, sorted(graph.graph.items())


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------ generators


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_generator_attributes(kind: str) -> None:
    g = BUILDERS[kind](rng(1))
    assert isinstance(g, nx.Graph) and not g.is_directed() and not g.is_multigraph()
    assert sorted(g.nodes) == list(range(g.number_of_nodes()))
    assert nx.is_connected(g) and g.graph["is_connected"] is True
    assert g.graph["name"] == kind
    for n, d in g.nodes(data=True):
        assert set(NODE_KEYS) <= set(d)
        assert 0.0 <= d["gen_rate"] <= 10.0
        assert 0.0 <= d["swap_capacity"] <= 5.0
        assert d["memory"] == 8 and isinstance(d["memory"], int)
        assert d["t_coh"] == 1.0
        assert d["name"] == str(n)
        assert len(d["pos"]) == 2
    for u, v, d in g.edges(data=True):
        assert d["length"] > 0 and d["f0"] == 0.97
        pu, pv = g.nodes[u]["pos"], g.nodes[v]["pos"]
        dist = math.dist(pu, pv)
        assert d["length"] == pytest.approx(max(dist, topo.MIN_LENGTH_KM), rel=1e-9)
    # Random attributes really vary.
    assert len({d["gen_rate"] for _, d in g.nodes(data=True)}) == g.number_of_nodes()


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_generator_reproducible(kind: str) -> None:
    build = BUILDERS[kind]
    assert snapshot(build(rng(7))) == snapshot(build(rng(7)))
    assert snapshot(build(rng(7))) != snapshot(build(rng(8)))


def test_random_mesh_structure() -> None:
    n, k, area = 80, 3, 150.0
    g = topo.random_mesh(n, rng=rng(3), area_km=area, k_nearest=k)
    pos = np.array([g.nodes[i]["pos"] for i in range(n)])
    assert ((pos >= 0) & (pos <= area)).all()
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    np.fill_diagonal(d, np.inf)
    for i in range(n):
        for j in np.argsort(d[i], kind="stable")[:k]:
            assert g.has_edge(i, int(j))
    # Contains the Euclidean MST.
    full = nx.Graph()
    full.add_weighted_edges_from((i, j, d[i, j]) for i in range(n) for j in range(i + 1, n))
    for u, v in nx.minimum_spanning_edges(full, data=False):
        assert g.has_edge(u, v)


def test_random_mesh_k_zero_is_mst_and_defaults() -> None:
    g = topo.random_mesh(30, rng=rng(0), k_nearest=0)
    assert nx.is_tree(g)
    assert topo.random_mesh(rng=rng(0)).number_of_nodes() == 100


def test_waxman_density_follows_beta() -> None:
    sparse = topo.waxman(60, rng=rng(2), beta=0.05)
    dense = topo.waxman(60, rng=rng(2), beta=1.0, alpha=1.0)
    assert nx.is_connected(sparse) and nx.is_connected(dense)
    assert dense.number_of_edges() > 3 * sparse.number_of_edges()


def test_regular_shapes() -> None:
    g = topo.grid(3, 4, spacing_km=5.0, rng=rng())
    assert g.number_of_nodes() == 12 and g.number_of_edges() == 3 * 3 + 2 * 4
    assert g.has_edge(0, 1) and g.has_edge(0, 4) and not g.has_edge(3, 4)
    assert g.nodes[5]["pos"] == (5.0, 5.0)
    r = topo.ring(6, spacing_km=10.0, rng=rng())
    assert all(deg == 2 for _, deg in r.degree) and r.has_edge(0, 5)
    assert all(d["length"] == 10.0 for *_, d in r.edges(data=True))
    c = topo.chain(4, spacing_km=3.0, rng=rng())
    assert list(nx.shortest_path(c, 0, 3)) == [0, 1, 2, 3]
    assert c.nodes[3]["pos"] == (9.0, 0.0)


def test_attribute_specs() -> None:
    g = topo.chain(
        30, rng=rng(), gen_rate=2.5, swap_capacity=(1.0, 2.0), memory=(2, 4), t_coh=(0.1, 0.2),
        f0=(0.9, 1.0),
    )  # fmt: skip
    mem = {d["memory"] for _, d in g.nodes(data=True)}
    assert mem == {2, 3, 4} and all(isinstance(m, int) for m in mem)
    assert all(d["gen_rate"] == 2.5 for _, d in g.nodes(data=True))
    assert all(1.0 <= d["swap_capacity"] <= 2.0 for _, d in g.nodes(data=True))
    assert all(0.1 <= d["t_coh"] <= 0.2 for _, d in g.nodes(data=True))
    assert all(0.9 <= d["f0"] <= 1.0 for *_, d in g.edges(data=True))


def test_assign_attributes_fills_only_missing() -> None:
    g = nx.Graph()
    g.add_edge(0, 1, length=2.0, f0=0.5)
    g.add_edge(1, 2, length=3.0)
    g.nodes[0]["memory"] = 3
    out = topo.assign_attributes(g, rng=rng(), memory=5, f0=0.8)
    assert out is g
    assert [g.nodes[n]["memory"] for n in range(3)] == [3, 5, 5]
    assert g.edges[0, 1]["f0"] == 0.5 and g.edges[1, 2]["f0"] == 0.8
    assert g.graph["is_connected"] is True


def test_assign_attributes_is_all_or_nothing() -> None:
    g = nx.Graph()
    g.add_edge(0, 1, length=2.0)
    g.add_edge(1, 2, length=-1.0)
    before = snapshot(g)
    with pytest.raises(ValueError, match="length"):
        topo.assign_attributes(g, rng=rng())
    assert snapshot(g) == before
    g.edges[1, 2]["length"] = 1.0
    g.nodes[2]["t_coh"] = 0.0
    with pytest.raises(ValueError, match="node 2: t_coh"):
        topo.assign_attributes(g, rng=rng())
    g.nodes[2]["t_coh"] = 1.0
    with pytest.raises(ValueError, match="f0"):
        topo.assign_attributes(g, rng=rng(), f0=1.5)
    assert "gen_rate" not in g.nodes[0]


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (lambda r: topo.random_mesh(1, rng=r), "n_nodes"),
        (lambda r: topo.random_mesh(2.5, rng=r), "n_nodes"),  # type: ignore[arg-type]
        (lambda r: topo.random_mesh(10, rng=r, area_km=0.0), "area_km"),
        (lambda r: topo.random_mesh(10, rng=r, k_nearest=10), "k_nearest"),
        (lambda r: topo.random_mesh(10, rng=r, k_nearest=-1), "k_nearest"),
        (lambda r: topo.random_mesh(10, rng=r, gen_rate=-1.0), "gen_rate"),
        (lambda r: topo.random_mesh(10, rng=r, gen_rate=(5.0, 1.0)), "gen_rate"),
        (lambda r: topo.random_mesh(10, rng=r, gen_rate=(1.0, 2.0, 3.0)), "gen_rate"),  # type: ignore[arg-type]
        (lambda r: topo.random_mesh(10, rng=r, swap_capacity=(-1.0, 1.0)), "swap_capacity"),
        (lambda r: topo.random_mesh(10, rng=r, memory=0), "memory"),
        (lambda r: topo.random_mesh(10, rng=r, memory=2.5), "memory"),  # type: ignore[arg-type]
        (lambda r: topo.random_mesh(10, rng=r, t_coh=0.0), "t_coh"),
        (lambda r: topo.random_mesh(10, rng=r, t_coh=float("nan")), "t_coh"),
        (lambda r: topo.random_mesh(10, rng=r, f0=0.2), "f0"),
        (lambda r: topo.random_mesh(10, rng=r, f0=(0.9, 1.1)), "f0"),
        (lambda r: topo.waxman(1, rng=r), "n_nodes"),
        (lambda r: topo.waxman(10, rng=r, alpha=0.0), "alpha"),
        (lambda r: topo.waxman(10, rng=r, beta=1.5), "beta"),
        (lambda r: topo.grid(0, 3, rng=r), "rows"),
        (lambda r: topo.grid(1, 1, rng=r), "rows \\* cols"),
        (lambda r: topo.grid(2, 2, rng=r, spacing_km=-1.0), "spacing_km"),
        (lambda r: topo.ring(2, rng=r), "n_nodes"),
        (lambda r: topo.ring(5, rng=r, spacing_km=0.0), "spacing_km"),
        (lambda r: topo.chain(1, rng=r), "n_nodes"),
        (lambda r: topo.chain(3, rng=r, memory=(3, 1)), "memory"),
    ],
)
def test_bad_arguments(call: Callable[[np.random.Generator], Any], arg: str) -> None:
    r = rng(5)
    state = r.bit_generator.state
    with pytest.raises(ValueError, match=arg):
        call(r)
    assert r.bit_generator.state == state  # validated before any draw


def test_rng_must_be_generator() -> None:
    with pytest.raises(TypeError, match="rng"):
        topo.chain(3, rng=np.random.RandomState(0))  # type: ignore[arg-type]


def test_make_topology() -> None:
    assert topo.make_topology("dpem", rng=rng(1)).graph["name"] == "dpem"
    a = topo.make_topology("dpem", rng=rng(1))
    b = topo.random_mesh(rng=rng(1))
    assert snapshot(a)[:2] == snapshot(b)[:2]
    assert topo.make_topology("grid", rng=rng(), rows=2, cols=3).number_of_nodes() == 6
    assert topo.make_topology("Ring", rng=rng(), n_nodes=4).graph["name"] == "ring"
    with pytest.raises(ValueError, match="valid: random_mesh, dpem, waxman, grid, ring, chain"):
        topo.make_topology("torus", rng=rng())


# ------------------------------------------------------------------------ files


@needs_data
@pytest.mark.parametrize("filename", list(ZOO_COUNTS))
def test_zoo_files_load(filename: str) -> None:
    n_nodes, n_file_edges, n_unique = ZOO_COUNTS[filename]
    g = topo.load_topology(DATA_DIR / filename, rng=rng())
    assert g.number_of_nodes() == n_nodes
    assert g.number_of_edges() == n_unique
    assert sum(d["multiplicity"] for *_, d in g.edges(data=True)) == n_file_edges
    assert sorted(g.nodes) == list(range(n_nodes))
    assert [g.nodes[i]["name"] for i in range(n_nodes)] == [str(i) for i in range(n_nodes)]
    assert g.graph["is_connected"] is True
    assert g.graph["name"] == Path(filename).stem
    for _, d in g.nodes(data=True):
        assert set(NODE_KEYS) - {"pos"} <= set(d)
    for *_, d in g.edges(data=True):
        assert d["length"] > 0 and d["f0"] == 0.97


@needs_data
def test_abilene_lengths() -> None:
    g = topo.load_topology(DATA_DIR / "Abilene.gml", rng=rng())
    lengths = [d["length"] for *_, d in g.edges(data=True)]
    assert min(lengths) == pytest.approx(263, abs=1.0)
    assert max(lengths) == pytest.approx(2207, abs=1.0)
    assert sum(lengths) == pytest.approx(14082, abs=1.0)
    assert not any(d["length_estimated"] for *_, d in g.edges(data=True))
    assert all("pos" in d for _, d in g.nodes(data=True))


@needs_data
def test_missing_coordinates_get_median_or_default() -> None:
    path = DATA_DIR / "Geant2012.gml"
    g = topo.load_topology(path, rng=rng())
    known = [d["length"] for *_, d in g.edges(data=True) if not d["length_estimated"]]
    guessed = [d["length"] for *_, d in g.edges(data=True) if d["length_estimated"]]
    assert len(guessed) == 3 and len(known) == 58
    assert guessed == [pytest.approx(float(np.median(known)))] * 3
    assert sum("pos" not in g.nodes[i] for i in (10, 11, 19)) == 3
    g2 = topo.load_topology(path, rng=rng(), default_length_km=42.0)
    assert [d["length"] for *_, d in g2.edges(data=True) if d["length_estimated"]] == [42.0] * 3

    cogent = topo.load_topology(DATA_DIR / "Cogentco.gml", rng=rng())
    assert sum(d["length_estimated"] for *_, d in cogent.edges(data=True)) == 31
    hyper = [n for n, d in cogent.nodes(data=True) if d.get("hyperedge") == 1]
    assert hyper == [144, 147, 148, 149, 150, 171, 172, 173, 174, 175, 176]


@needs_data
def test_surfnet_gml_and_graphml_agree() -> None:
    a = topo.load_topology(DATA_DIR / "Surfnet.gml", rng=rng())
    b = topo.load_topology(DATA_DIR / "Surfnet.graphml", rng=rng())
    assert sorted(a.edges) == sorted(b.edges)
    for u, v in a.edges:
        assert a.edges[u, v]["length"] == pytest.approx(b.edges[u, v]["length"])
    doubled = sorted((u, v) for u, v, d in a.edges(data=True) if d["multiplicity"] == 2)
    assert doubled == [(2, 3), (12, 30), (16, 17), (26, 27), (37, 38)]


@needs_data
def test_make_topology_from_path() -> None:
    g = topo.make_topology(str(DATA_DIR / "Nsfnet.gml"), rng=rng(), memory=4)
    assert g.number_of_nodes() == 13 and g.nodes[0]["memory"] == 4


GML_HEAD = 'graph [\n  label "tiny"\n'


def _node(i: int, lat: float | None = None, lon: float | None = None) -> str:
    coords = "" if lat is None else f"    Latitude {lat}\n    Longitude {lon}\n"
    return f'  node [\n    id {i}\n    label "n{i}"\n{coords}  ]\n'


def _edge(u: int, v: int) -> str:
    return f"  edge [\n    source {u}\n    target {v}\n  ]\n"


def test_disconnected_file_is_kept(tmp_path: Path) -> None:
    text = GML_HEAD + "".join(_node(i, 50.0, float(i)) for i in (30, 4, 7, 9, 12))
    text += _edge(30, 4) + _edge(4, 7) + _edge(9, 12) + _edge(12, 12) + "]\n"
    path = tmp_path / "tiny.gml"
    path.write_text(text)
    g = topo.load_topology(path, rng=rng())
    assert g.number_of_nodes() == 5 and g.graph["is_connected"] is False
    assert [g.nodes[i]["name"] for i in range(5)] == ["4", "7", "9", "12", "30"]
    assert g.graph["self_loops_dropped"] == 1
    assert sorted(g.edges) == [(0, 1), (0, 4), (2, 3)]
    # One degree of longitude at 50° N: 111.19 km * cos(50°).
    assert g.edges[0, 1]["length"] == pytest.approx(3 * 111.195 * math.cos(math.radians(50)), 1e-3)
    big = topo.largest_component(g)
    assert big.number_of_nodes() == 3 and big.graph["is_connected"] is True
    assert [big.nodes[i]["name"] for i in range(3)] == ["4", "7", "30"]


def test_file_without_coordinates(tmp_path: Path) -> None:
    path = tmp_path / "nocoords.gml"
    path.write_text(GML_HEAD + _node(0) + _node(1) + _node(2) + _edge(0, 1) + _edge(1, 2) + "]\n")
    with pytest.raises(ValueError, match=r"nocoords\.gml.*default_length_km"):
        topo.load_topology(path, rng=rng())
    g = topo.load_topology(path, rng=rng(), default_length_km=7.5)
    assert all(d["length"] == 7.5 for *_, d in g.edges(data=True))
    assert all("pos" not in d for _, d in g.nodes(data=True))


def test_malformed_gml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.gml"
    path.write_text(GML_HEAD + _node(0) + "  node [\n    id 1\n  edge [ source 0 target 1 ]\n")
    with pytest.raises(ValueError, match=r"broken\.gml: line \d+:"):
        topo.load_topology(path, rng=rng())
    path.write_text(GML_HEAD + _node(0) + "  node [ id 1 ] ;\n]\n")
    with pytest.raises(ValueError, match=r"broken\.gml: line 7:"):
        topo.load_topology(path, rng=rng())
    path.write_text(GML_HEAD + _node(0) + _edge(0, 5) + "]\n")
    with pytest.raises(ValueError, match=r"broken\.gml: malformed GML"):
        topo.load_topology(path, rng=rng())


def test_malformed_graphml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.graphml"
    path.write_text("<graphml>\n<graph>\n<node id='a'>\n</graph>\n")
    with pytest.raises(ValueError, match=r"broken\.graphml: line 4:"):
        topo.load_topology(path, rng=rng())


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing\.gml: topology file not found"):
        topo.load_topology(tmp_path / "missing.gml", rng=rng())
    other = tmp_path / "net.txt"
    other.write_text("x")
    with pytest.raises(ValueError, match=r"net\.txt: unknown topology file extension.*\.gml"):
        topo.load_topology(other, rng=rng())
    with pytest.raises(ValueError, match="default_length_km"):
        topo.load_topology(tmp_path / "missing.gml", rng=rng(), default_length_km=0.0)
    bad = tmp_path / "badf0.gml"
    edge = "  edge [\n    source 0\n    target 1\n    f0 3.0\n  ]\n"
    bad.write_text(GML_HEAD + _node(0, 1.0, 1.0) + _node(1, 1.0, 2.0) + edge + "]\n")
    with pytest.raises(ValueError, match=r"badf0\.gml: .*f0"):
        topo.load_topology(bad, rng=rng())


def test_haversine() -> None:
    assert topo.haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * 6371.0)
    assert topo.haversine_km(10.0, 20.0, 10.0, 20.0) == 0.0
