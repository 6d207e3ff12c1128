"""Tests for qenv.network.paths: link ids and k-shortest candidate paths."""

from __future__ import annotations

import itertools
import pickle

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qenv.network.paths import CandidatePaths, edge_array, edge_index, path_length_km
from qenv.network.topology import random_mesh


def diamond() -> nx.Graph:
    """0-1-3 is 2.0 km, 0-1-2-3 is 2.2, 0-2-3 is 2.5, 0-2-1-3 is 2.7, 0-3 is 5.0; 3-4 is 1.0."""
    g = nx.Graph()
    for u, v, length in [
        (3, 4, 1.0), (0, 3, 5.0), (1, 2, 0.2), (2, 3, 1.0), (0, 2, 1.5), (1, 3, 1.0), (0, 1, 1.0),
    ]:  # fmt: skip
        g.add_edge(u, v, length=length)
    g.add_node(5)  # isolated
    return g


def test_edge_index_and_array() -> None:
    g = diamond()
    idx = edge_index(g)
    arr = edge_array(g)
    expected = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (3, 4)]
    assert arr.dtype == np.int64 and arr.shape == (7, 2)
    assert [tuple(r) for r in arr.tolist()] == expected
    for i, (u, v) in enumerate(expected):
        assert idx[u, v] == idx[v, u] == i
    assert len(idx) == 14
    assert edge_array(nx.empty_graph(3)).shape == (0, 2)


def test_k_shortest_known_answer() -> None:
    cp = CandidatePaths(diamond(), k=3)
    assert cp.paths(0, 3) == [(0, 1, 3), (0, 1, 2, 3), (0, 2, 3)]
    lengths = [path_length_km(diamond(), p) for p in CandidatePaths(diamond(), k=10).paths(0, 3)]
    assert lengths == pytest.approx([2.0, 2.2, 2.5, 2.7, 5.0])
    assert CandidatePaths(diamond(), k=10).paths(0, 4)[0] == (0, 1, 3, 4)
    hops = CandidatePaths(diamond(), k=2, weight="hops").paths(0, 3)
    assert hops[0] == (0, 3) and len(hops[1]) == 3


def test_links_match_edge_index() -> None:
    g = diamond()
    cp = CandidatePaths(g, k=4)
    idx = edge_index(g)
    arr = edge_array(g)
    for s, d in itertools.permutations(range(5), 2):
        paths, links = cp.paths(s, d), cp.links(s, d)
        assert len(paths) == len(links) > 0
        for p, ids in zip(paths, links, strict=True):
            assert ids.dtype == np.int64
            assert ids.tolist() == [idx[e] for e in itertools.pairwise(p)]
            for (u, v), link in zip(itertools.pairwise(p), ids.tolist(), strict=True):
                assert sorted((u, v)) == arr[link].tolist()


def test_reverse_symmetry() -> None:
    g = random_mesh(25, rng=np.random.default_rng(4))
    cp = CandidatePaths(g, k=3)
    for s, d in [(0, 24), (24, 0), (3, 17), (17, 3), (8, 9)]:
        forward, backward = cp.paths(s, d), cp.paths(d, s)
        assert backward == [p[::-1] for p in forward]
        assert all(p[0] == s and p[-1] == d for p in forward)
        fl, bl = cp.links(s, d), cp.links(d, s)
        assert [x.tolist() for x in bl] == [x[::-1].tolist() for x in fl]


def test_disconnected_pair_and_padded() -> None:
    cp = CandidatePaths(diamond(), k=3)
    assert cp.paths(0, 5) == [] and cp.links(5, 0) == []
    ids, hops, n_valid = cp.padded(0, 5, 4)
    assert n_valid == 0 and (ids == -1).all() and (hops == 0).all()

    ids, hops, n_valid = cp.padded(3, 0, 4)
    assert ids.shape == (3, 4) and ids.dtype == np.int64 and hops.dtype == np.int64
    assert n_valid == 3 and hops.tolist() == [2, 3, 2]
    for row, link, h in zip(ids, cp.links(3, 0), hops, strict=True):
        assert row[:h].tolist() == link.tolist() and (row[h:] == -1).all()
    ids[0, 0] = 99  # returned arrays are copies
    assert cp.padded(3, 0, 4)[0][0, 0] != 99
    with pytest.raises(ValueError, match="max_hops=2 is too small"):
        cp.padded(0, 3, 2)
    with pytest.raises(ValueError, match="max_hops"):
        cp.padded(0, 3, 0)


def test_order_of_construction_does_not_matter() -> None:
    g = diamond()
    h = nx.Graph()
    h.add_nodes_from(sorted(g.nodes, reverse=True))
    h.add_edges_from(reversed(list(g.edges(data=True))))
    a, b = CandidatePaths(g, k=5, weight="hops"), CandidatePaths(h, k=5, weight="hops")
    for s, d in itertools.permutations(range(5), 2):
        assert a.paths(s, d) == b.paths(s, d)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k(k: object) -> None:
    with pytest.raises(ValueError, match=r"k \(k_paths\) must be an integer >= 1"):
        CandidatePaths(diamond(), k=k)  # type: ignore[arg-type]


def test_bad_queries_and_graphs() -> None:
    cp = CandidatePaths(diamond(), k=2)
    with pytest.raises(ValueError, match="s and d must differ"):
        cp.paths(2, 2)
    with pytest.raises(ValueError, match="d=9 is not a node"):
        cp.paths(0, 9)
    with pytest.raises(ValueError, match="s must be an integer"):
        cp.links("0", 1)  # type: ignore[arg-type]
    assert cp.paths(np.int64(0), np.int64(3)) == [(0, 1, 3), (0, 1, 2, 3)]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weight"):
        CandidatePaths(diamond(), k=2, weight="km")  # type: ignore[arg-type]
    g = diamond()
    del g.edges[0, 1]["length"]
    with pytest.raises(ValueError, match=r"edge \(0, 1\): length"):
        CandidatePaths(g, k=2)
    by_hops = CandidatePaths(g, k=2, weight="hops").paths(0, 1)
    assert by_hops[0] == (0, 1) and len(by_hops[1]) == 3
    with pytest.raises(ValueError, match="nodes must be integers"):
        CandidatePaths(nx.path_graph(["a", "b"]), k=1)


def test_path_length_km() -> None:
    g = diamond()
    assert path_length_km(g, (0, 1, 2, 3)) == pytest.approx(2.2)
    assert path_length_km(g, [4]) == 0.0
    with pytest.raises(ValueError, match="not adjacent"):
        path_length_km(g, (0, 4))
    with pytest.raises(ValueError, match="at least one node"):
        path_length_km(g, ())


def test_pickle_and_lazy_on_large_graph() -> None:
    g = random_mesh(100, rng=np.random.default_rng(0))
    cp = CandidatePaths(g, k=4)
    first = cp.paths(0, 99)
    clone = pickle.loads(pickle.dumps(cp))
    assert clone.paths(0, 99) == first
    assert clone.paths(5, 60) == cp.paths(5, 60)
    assert [x.tolist() for x in clone.links(7, 8)] == [x.tolist() for x in cp.links(7, 8)]
    assert clone.k == 4 and clone.n_links == g.number_of_edges() and "k=4" in repr(clone)


@st.composite
def connected_graphs(draw: st.DrawFn) -> nx.Graph:
    """Random small connected graphs: a random tree plus extra edges, random lengths."""
    n = draw(st.integers(2, 7))
    g = nx.Graph()
    lengths = st.floats(0.1, 100.0, allow_nan=False, allow_infinity=False)
    for v in range(1, n):
        g.add_edge(draw(st.integers(0, v - 1)), v, length=draw(lengths))
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    for u, v in draw(st.lists(st.sampled_from(pairs), max_size=8)):
        g.add_edge(u, v, length=draw(lengths))
    return g


@settings(max_examples=60, deadline=None)
@given(graph=connected_graphs(), k=st.integers(1, 6), data=st.data())
def test_paths_property(graph: nx.Graph, k: int, data: st.DataObject) -> None:
    n = graph.number_of_nodes()
    s = data.draw(st.integers(0, n - 1))
    d = data.draw(st.integers(0, n - 1).filter(lambda x: x != s))
    cp = CandidatePaths(graph, k=k)
    paths = cp.paths(s, d)
    idx = edge_index(graph)
    assert 1 <= len(paths) <= k
    for p, ids in zip(paths, cp.links(s, d), strict=True):
        assert p[0] == s and p[-1] == d
        assert len(set(p)) == len(p)  # simple
        assert all(graph.has_edge(u, v) for u, v in itertools.pairwise(p))
        assert ids.tolist() == [idx[e] for e in itertools.pairwise(p)]
    assert len(set(paths)) == len(paths)
    lengths = [path_length_km(graph, p) for p in paths]
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(lengths))
    # Same as the k best of all simple paths (compared by length: ties may differ).
    every = sorted(path_length_km(graph, p) for p in nx.all_simple_paths(graph, s, d))
    assert len(paths) == min(k, len(every))
    assert lengths == pytest.approx(every[: len(paths)])
    assert cp.paths(d, s) == [p[::-1] for p in paths]


def test_padded_inner_lines_up_with_padded() -> None:
    graph = nx.path_graph(4)
    nx.set_edge_attributes(graph, 1.0, "length")
    paths = CandidatePaths(graph, 2)
    links, hops, n_valid = paths.padded(0, 3, 4)
    inner = paths.padded_inner(0, 3, 4)
    assert n_valid == 1 and hops[0] == 3
    assert inner.tolist() == [[1, 2, -1], [-1, -1, -1]]
    assert links.shape[0] == inner.shape[0] and inner.shape[1] == links.shape[1] - 1
    with pytest.raises(ValueError, match="max_hops"):
        paths.padded_inner(0, 3, 2)
