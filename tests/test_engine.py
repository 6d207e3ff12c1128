"""Invariants of the network engine, as properties over random networks and claims."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qenv.network.engine import EngineConfig, NetworkEngine
from qenv.network.latency import DelayLine, central_node, classical_delay_slots
from qenv.network.links import DISABLED, EMPTY
from qenv.network.paths import CandidatePaths
from qenv.network.topology import chain, random_mesh
from qenv.physics import decohered_fidelity, pair_coherence_time


def mesh(seed: int, n: int = 12, memory: int = 3) -> nx.Graph:
    return random_mesh(
        n,
        rng=np.random.default_rng(seed),
        area_km=40.0,
        memory=memory,
        gen_rate=(20.0, 60.0),
        swap_capacity=(20.0, 50.0),
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    memory=st.integers(1, 4),
    cutoff=st.integers(0, 20),
    swap_prob=st.floats(0.3, 1.0),
)
def test_pairs_are_never_used_twice_memories_never_overflow(
    seed: int, memory: int, cutoff: int, swap_prob: float
) -> None:
    rng = np.random.default_rng(seed)
    graph = mesh(seed, memory=memory)
    cfg = EngineConfig(cutoff_slots=cutoff, swap_prob=swap_prob)
    engine = NetworkEngine(graph, cfg)
    paths = CandidatePaths(graph, 2)
    nodes = list(graph.nodes)
    consumed: set[tuple[int, int]] = set()
    taken = engine.links.take_freshest

    def recording_take(links: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w, birth = taken(links)
        for pair in zip(links.tolist(), birth.tolist(), strict=True):
            assert pair not in consumed, "a pair was used twice"
            consumed.add(pair)
        return w, birth

    engine.links.take_freshest = recording_take  # type: ignore[method-assign]
    for _ in range(60):
        engine.step(rng)
        store = engine.links
        present = store.birth > DISABLED
        assert (present.sum(axis=1) == store.count).all()
        freshest = np.where(present, store.birth, EMPTY).max(axis=1)
        assert (store.fresh == freshest).all(), "LinkStore.fresh out of date"
        assert (store.count <= store.capacity).all()
        used = np.bincount(
            store.ends.ravel(), weights=np.repeat(store.count, 2), minlength=store.n_nodes
        )
        assert (used == store.node_used).all() and (used <= store.node_memory).all()
        ages = engine.t - store.birth[present]
        assert ((ages >= 0) & (ages <= cutoff)).all()
        f = (3 * store.werner()[present] + 1) / 4
        assert ((f >= 0.25) & (f <= 1.0)).all()
        # Random claims between random pairs of nodes, some deliberately colliding.
        rows_l, rows_i = [], []
        for _ in range(int(rng.integers(0, 6))):
            s, d = (int(x) for x in rng.choice(nodes, size=2, replace=False))
            hmax = graph.number_of_nodes() - 1
            rows_l.append(paths.padded(s, d, hmax)[0][0])
            rows_i.append(paths.padded_inner(s, d, hmax)[0])
        if not rows_l:
            continue
        credit_before = engine.credit.copy()
        result = engine.serve(np.stack(rows_l), np.stack(rows_i), np.full(len(rows_l), 0.6), rng)
        assert not (result.accepted & result.contention).any()
        assert not (result.accepted & result.infeasible).any()
        assert not (result.delivered & ~result.accepted).any()
        assert (result.fidelity[result.delivered] >= 0.6).all()
        assert (engine.credit >= -1e-9).all() and (engine.credit <= credit_before + 1e-9).all()


def test_stored_pairs_decohere_as_the_closed_form() -> None:
    # One qubit per node: the pair born in slot 1 (p_gen ~ 1) stays, ageing, with no cutoff.
    graph = chain(2, rng=np.random.default_rng(0), gen_rate=1e9, memory=1, t_coh=0.3, f0=0.95)
    engine = NetworkEngine(graph, EngineConfig(dt=0.01, cutoff_slots=None))
    rng = np.random.default_rng(1)
    for _ in range(26):
        engine.step(rng)
    assert engine.links.birth[0, 0] == 1 and engine.links.count[0] == 1
    w = engine.links.freshest_werner(np.array([0]))[0]
    expected = decohered_fidelity(0.95, 25 * 0.01, pair_coherence_time(0.3, 0.3))
    assert (3 * w + 1) / 4 == pytest.approx(expected, rel=1e-12)


def test_contention_is_counted_when_two_claims_need_one_pair() -> None:
    graph = chain(3, rng=np.random.default_rng(0), gen_rate=1e6, memory=2, swap_capacity=100.0)
    engine = NetworkEngine(graph, EngineConfig(cutoff_slots=5))
    rng = np.random.default_rng(0)
    engine.step(rng)
    assert (engine.links.count == 1).all()
    links = np.array([[0, 1], [0, 1], [1, -1]])
    inner = np.array([[1], [1], [-1]])
    res = engine.serve(links, inner, np.array([0.5, 0.5, 0.5]), rng)
    assert res.accepted.tolist() == [True, False, False]
    assert res.contention.tolist() == [False, True, True]
    assert res.delivered[0] and (engine.links.count == 0).all()
    res = engine.serve(links, inner, np.array([0.5, 0.5, 0.5]), rng)
    assert res.infeasible.all() and not res.contention.any()


def test_engine_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> np.ndarray:
        engine = NetworkEngine(mesh(3))
        rng = np.random.default_rng(seed)
        for _ in range(300):
            engine.step(rng)
        return engine.links.birth.copy()

    assert (run(5) == run(5)).all()
    assert not (run(5) == run(6)).all()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"dt": 0.0}, "dt"),
        ({"cutoff_slots": -1}, "cutoff_slots"),
        ({"swap_prob": 1.2}, "swap_prob"),
        ({"detector_efficiency": -0.1}, "detector_efficiency"),
        ({"swap_burst": 0.5}, "swap_burst"),
        ({"attenuation_db_per_km": -1.0}, "attenuation_db_per_km"),
    ],
)
def test_bad_engine_config_names_the_argument(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        EngineConfig(**kwargs)  # type: ignore[arg-type]


def test_classical_delays_and_delay_line() -> None:
    graph = chain(3, rng=np.random.default_rng(0), spacing_km=200.0)
    slots = classical_delay_slots(graph, dt=0.001, processing_delay_s=0.0)
    # 200 km at 2e5 km/s is exactly 1 ms = 1 slot per hop.
    assert slots.tolist() == [[0, 1, 2], [1, 0, 1], [2, 1, 0]]
    assert central_node(graph) == 1
    line = DelayLine(np.zeros(2), max_delay=2)
    for t in range(1, 5):
        line.push(np.full(2, float(t)))
    assert line.get(0)[0] == 4 and line.get(2)[0] == 2 and line.get(9)[0] == 2
