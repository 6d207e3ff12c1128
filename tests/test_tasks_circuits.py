"""Tests of qenv.tasks.circuits: gate content, ideal outputs, the TSP QUBO, keys."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import QFTGate
from qiskit.quantum_info import Statevector

from qenv.tasks.circuits import (
    FAMILIES,
    Circuit,
    circuit_from_family,
    circuit_key,
    ghz,
    qaoa_maxcut,
    qaoa_tsp,
    qft,
    random_tsp_distances,
    tsp_decode,
    tsp_qubo,
    vqe_h2,
    vqe_hea,
    vqe_lih,
)

REPO = Path(__file__).resolve().parents[1]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def ops(c: Circuit, name: str) -> list[tuple[tuple[int, ...], list[float]]]:
    """(qubit indices, float params) of every ``name`` instruction, in circuit order."""
    return [
        (tuple(c.qc.find_bit(q).index for q in inst.qubits), [float(p) for p in inst.params])
        for inst in c.qc.data
        if inst.operation.name == name
    ]


def unitary_part(c: Circuit) -> QuantumCircuit:
    return c.qc.remove_final_measurements(inplace=False)


def bit_table(n: int) -> np.ndarray:
    """(2**n, n) bits of every basis index, little-endian (column i = qubit i)."""
    return (np.arange(2**n)[:, None] >> np.arange(n)) & 1


def expected_cut(c: Circuit, graph: nx.Graph) -> float:
    probs = Statevector(unitary_part(c)).probabilities()
    bits = bit_table(c.num_qubits)
    cut = sum((bits[:, u] != bits[:, v]).astype(float) for u, v in graph.edges)
    return float(probs @ cut)


def measured_at_end(c: Circuit) -> bool:
    """Every qubit measured once, and nothing but measurements after the final barrier."""
    names = [inst.operation.name for inst in c.qc.data]
    n = c.num_qubits
    return names[-n:] == ["measure"] * n and names[-n - 1] == "barrier"


# --------------------------------------------------------------------------- QAOA MaxCut


@pytest.mark.parametrize(("n", "p", "seed"), [(4, 1, 0), (6, 2, 1), (8, 3, 2), (10, 1, 3)])
def test_qaoa_maxcut_gate_content(n: int, p: int, seed: int) -> None:
    c = qaoa_maxcut(n, p, rng=rng(seed))
    rzz = ops(c, "rzz")
    edges = {q for q, _ in rzz}
    assert len(rzz) == p * len(edges)  # exactly p·|E| RZZ, each edge once per layer
    assert len(ops(c, "rx")) == p * n
    assert len(ops(c, "h")) == n
    assert c.family == "qaoa_maxcut" and c.name == f"qaoa_maxcut_n{n}_p{p}"
    graph = nx.Graph(list(edges))
    graph.add_nodes_from(range(n))
    assert nx.is_connected(graph)
    assert measured_at_end(c)
    counts = dict(c.qc.count_ops())
    assert set(counts) == {"h", "rzz", "rx", "barrier", "measure"}


def test_qaoa_maxcut_on_given_graph_uses_its_edges() -> None:
    graph = nx.relabel_nodes(nx.cycle_graph(5), {i: f"v{i}" for i in range(5)})
    c = qaoa_maxcut(5, 2, rng=rng(), graph=graph)
    layer = [q for q, _ in ops(c, "rzz")][:5]
    assert sorted(layer) == [(0, 1), (0, 4), (1, 2), (2, 3), (3, 4)]
    with pytest.raises(ValueError, match="n_nodes"):
        qaoa_maxcut(6, rng=rng(), graph=graph)


def test_qaoa_maxcut_p1_fixed_angles_reach_the_analytic_cut() -> None:
    # The cube is 3-regular and triangle-free: at the p = 1 optimum each edge is cut with
    # probability 1/2 + (1/(2 sqrt d)) ((d-1)/d)^((d-1)/2) = 0.6925 (Farhi et al. 2014).
    cube = nx.convert_node_labels_to_integers(nx.hypercube_graph(3), ordering="sorted")
    c = qaoa_maxcut(8, 1, rng=rng(), graph=cube)
    d = 3
    per_edge = 0.5 + (1 / (2 * math.sqrt(d))) * ((d - 1) / d) ** ((d - 1) / 2)
    assert expected_cut(c, cube) == pytest.approx(12 * per_edge, rel=1e-9)
    ((gamma,),) = [params for _, params in ops(c, "rzz")[:1]]
    assert gamma == pytest.approx(math.atan(1 / math.sqrt(2)))


def test_qaoa_maxcut_ramp_improves_with_depth() -> None:
    graph = nx.convert_node_labels_to_integers(
        nx.random_regular_graph(3, 8, seed=5), ordering="sorted"
    )
    cuts = [expected_cut(qaoa_maxcut(8, p, rng=rng(), graph=graph), graph) for p in (1, 2, 3)]
    assert cuts[0] > graph.number_of_edges() / 2  # better than random assignment
    assert cuts[0] < cuts[1] < cuts[2]


def test_qaoa_maxcut_random_angles_are_drawn() -> None:
    a = qaoa_maxcut(5, 2, rng=rng(1), angles="random")
    b = qaoa_maxcut(5, 2, rng=rng(2), angles="random")
    assert a.key != b.key
    with pytest.raises(ValueError, match="angles"):
        qaoa_maxcut(5, rng=rng(), angles="optimal")  # type: ignore[arg-type]


def test_qaoa_maxcut_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_nodes"):
        qaoa_maxcut(1, rng=rng())
    with pytest.raises(ValueError, match="p must"):
        qaoa_maxcut(4, 0, rng=rng())
    with pytest.raises(ValueError, match="edge_prob"):
        qaoa_maxcut(4, rng=rng(), edge_prob=0.0)
    with pytest.raises(ValueError, match="raise edge_prob"):
        qaoa_maxcut(30, rng=rng(), edge_prob=0.01)
    with pytest.raises(ValueError, match="rng"):
        qaoa_maxcut(4, rng=0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- TSP


def tour_length(w: np.ndarray, tour: tuple[int, ...]) -> float:
    return float(sum(w[tour[k], tour[(k + 1) % len(tour)]] for k in range(len(tour))))


def one_hot_bits(tour: tuple[int, ...]) -> np.ndarray:
    m = len(tour) - 1
    x = np.zeros((m, m), dtype=np.int64)  # [city-1, position-1]
    for position, city in enumerate(tour[1:]):
        x[city - 1, position] = 1
    return x.reshape(-1)


@pytest.mark.parametrize(("n_cities", "seed"), [(3, 0), (3, 1), (4, 0), (4, 1), (4, 2)])
def test_tsp_qubo_minimum_is_the_optimal_tour(n_cities: int, seed: int) -> None:
    w = random_tsp_distances(n_cities, rng(seed))
    qubo = tsp_qubo(w)
    m = (n_cities - 1) ** 2
    assert qubo.num_variables == m
    bits = bit_table(m)
    energy = qubo.energy(bits)
    best = bits[np.argmin(energy)]
    tour = tsp_decode(best, n_cities)
    assert tour is not None  # the minimum is a valid tour ...
    tours = [(0, *perm) for perm in itertools.permutations(range(1, n_cities))]
    optimum = min(tour_length(w, t) for t in tours)
    assert energy.min() == pytest.approx(optimum, abs=1e-12)  # ... of optimal length
    assert tour_length(w, tour) == pytest.approx(optimum, abs=1e-12)
    # Every valid tour costs exactly its length; every invalid bitstring costs more.
    for t in tours:
        assert qubo.energy(one_hot_bits(t)) == pytest.approx(tour_length(w, t), abs=1e-12)
    valid = np.array([tsp_decode(b, n_cities) is not None for b in bits])
    assert valid.sum() == math.factorial(n_cities - 1)
    assert energy[~valid].min() > max(tour_length(w, t) for t in tours)


def test_tsp_ising_matches_qubo_on_every_configuration() -> None:
    qubo = tsp_qubo(random_tsp_distances(4, rng(3)))
    bits = bit_table(9)
    ising = qubo.to_ising()
    np.testing.assert_allclose(ising.energy(1 - 2 * bits), qubo.energy(bits), atol=1e-9)
    assert np.allclose(ising.coupling, ising.coupling.T)
    assert np.all(np.diag(ising.coupling) == 0)


def test_tsp_asymmetric_distances() -> None:
    w = rng(4).random((4, 4))
    np.fill_diagonal(w, 0.0)
    qubo = tsp_qubo(w)
    for perm in itertools.permutations(range(1, 4)):
        t = (0, *perm)
        assert qubo.energy(one_hot_bits(t)) == pytest.approx(tour_length(w, t))


@pytest.mark.parametrize(("n_cities", "p"), [(3, 1), (4, 1), (4, 2)])
def test_qaoa_tsp_circuit_follows_the_ising_model(n_cities: int, p: int) -> None:
    w = random_tsp_distances(n_cities, rng(7))
    c = qaoa_tsp(n_cities, p, rng=rng(), distances=w)
    ising = tsp_qubo(w).to_ising()
    n = (n_cities - 1) ** 2
    assert c.num_qubits == n and c.family == "qaoa_tsp"
    pairs = {tuple(int(v) for v in ij) for ij in np.argwhere(np.triu(ising.coupling, 1) != 0)}
    rzz = ops(c, "rzz")
    assert len(rzz) == p * len(pairs)
    assert {q for q, _ in rzz} == pairs
    assert len(ops(c, "rz")) == p * int(np.count_nonzero(ising.h))
    # Angles are proportional to the couplings: RZZ(2γ J_ij s) with one scale s per layer.
    first = {q: params[0] for q, params in rzz[: len(pairs)]}
    ratios = [first[(i, j)] / ising.coupling[i, j] for i, j in pairs]
    assert np.allclose(ratios, ratios[0])
    assert measured_at_end(c)


def test_qaoa_tsp_draws_cities_from_rng() -> None:
    assert qaoa_tsp(4, rng=rng(1)).key == qaoa_tsp(4, rng=rng(1)).key
    assert qaoa_tsp(4, rng=rng(1)).key != qaoa_tsp(4, rng=rng(2)).key
    with pytest.raises(ValueError, match="n_cities"):
        qaoa_tsp(2, rng=rng())
    with pytest.raises(ValueError, match="n_cities=3"):
        qaoa_tsp(3, rng=rng(), distances=np.ones((4, 4)))


def test_tsp_decode_rejects_wrong_sizes() -> None:
    assert tsp_decode([1, 0, 0, 1], 3) == (0, 1, 2)
    assert tsp_decode([1, 1, 0, 0], 3) is None
    with pytest.raises(ValueError, match="4 entries"):
        tsp_decode([1, 0, 0], 3)


# --------------------------------------------------------------------------- VQE


@pytest.mark.parametrize(("entanglement", "pairs"), [("linear", 4), ("circular", 5), ("full", 10)])
def test_vqe_hea_structure(entanglement: str, pairs: int) -> None:
    n, layers = 5, 3
    c = vqe_hea(n, layers, rng=rng(), entanglement=entanglement)  # type: ignore[arg-type]
    assert len(ops(c, "ry")) == len(ops(c, "rz")) == n * (layers + 1)
    assert len(ops(c, "cx")) == layers * pairs
    angles = [params[0] for name in ("ry", "rz") for _, params in ops(c, name)]
    assert all(0 <= a < 2 * math.pi for a in angles)
    assert len(set(angles)) == len(angles)  # drawn, not fixed
    assert c.name == f"vqe_hea_n{n}_l{layers}" and c.family == "vqe"
    assert measured_at_end(c)
    cz = vqe_hea(n, layers, rng=rng(), entanglement=entanglement, entangler="cz")  # type: ignore[arg-type]
    assert len(ops(cz, "cz")) == layers * pairs and not ops(cz, "cx")


def test_vqe_named_molecules() -> None:
    h2, lih = vqe_h2(rng=rng()), vqe_lih(rng=rng())
    assert h2.num_qubits == 4 and lih.num_qubits == 12
    assert sorted(q[0] for q, _ in ops(h2, "x")) == [0, 2]  # 1 α + 1 β electron
    assert sorted(q[0] for q, _ in ops(lih, "x")) == [0, 1, 6, 7]  # 2 α + 2 β
    assert h2.name == "vqe_h2_l2" and lih.name == "vqe_lih_l2"
    with pytest.raises(ValueError, match="entanglement"):
        vqe_hea(4, 1, rng=rng(), entanglement="star")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reference"):
        vqe_hea(4, 1, rng=rng(), reference=[4])


# --------------------------------------------------------------------------- GHZ and QFT


@pytest.mark.parametrize("n", [2, 3, 5, 7])
def test_ghz_ideal_distribution(n: int) -> None:
    c = ghz(n)
    probs = Statevector(unitary_part(c)).probabilities()
    expected = np.zeros(2**n)
    expected[[0, 2**n - 1]] = 0.5
    np.testing.assert_allclose(probs, expected, atol=1e-12)
    assert measured_at_end(c)
    assert c.features() == {
        "num_qubits": n,
        "depth": n + 1,  # H, n-1 CX, then the measurements
        "count_1q": 1,
        "count_2q": n - 1,
        "count_multi": 0,
        "two_qubit_fraction": (n - 1) / n,
        "measured": n,
    }


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_qft_matches_qiskit_qft_on_basis_states(n: int) -> None:
    for x in range(2**n):
        c = qft(n, rng=rng(), x=x)
        assert c.name == f"qft_n{n}_x{x}"
        ours = Statevector(unitary_part(c))
        theirs = Statevector.from_int(x, 2**n).evolve(QFTGate(n))
        np.testing.assert_allclose(ours.data, theirs.data, atol=1e-12)


def test_qft_draws_its_input() -> None:
    inputs = {qft(6, rng=rng(s)).name for s in range(20)}
    assert len(inputs) > 10
    c = qft(6, rng=rng(3))
    x = int(c.name.rsplit("_x", 1)[1])
    assert sorted(q[0] for q, _ in ops(c, "x")) == [i for i in range(6) if x >> i & 1]
    with pytest.raises(ValueError, match="x must lie"):
        qft(3, rng=rng(), x=8)


# --------------------------------------------------------------------------- keys and Circuit


def test_keys_are_stable_and_content_based() -> None:
    a, b = qaoa_maxcut(6, 2, rng=rng(11)), qaoa_maxcut(6, 2, rng=rng(11))
    assert a.qc is not b.qc and a.key == b.key  # same content, same key
    assert a.key != qaoa_maxcut(6, 2, rng=rng(12)).key
    assert len(a.key) == 64 and int(a.key, 16) >= 0
    # Register names and the circuit name do not enter; one angle does.
    x = QuantumCircuit(2, name="one")
    x.h(0)
    x.cx(0, 1)
    x.rz(0.1, 1)
    y = QuantumCircuit(2, name="two")
    y.h(0)
    y.cx(0, 1)
    y.rz(0.1, 1)
    z = y.copy()
    z.data[-1] = z.data[-1].replace(params=[0.1 + 1e-15])
    assert circuit_key(x) == circuit_key(y) != circuit_key(z)
    # Custom gates are keyed by their definition, not only their name.
    inner1, inner2 = QuantumCircuit(2, name="g"), QuantumCircuit(2, name="g")
    inner1.cx(0, 1)
    inner2.cz(0, 1)
    u, v = QuantumCircuit(2), QuantumCircuit(2)
    u.append(inner1.to_gate(), [0, 1])
    v.append(inner2.to_gate(), [0, 1])
    assert circuit_key(u) != circuit_key(v)
    # Matrix parameters are keyed by their exact bytes, not numpy's rounded printout.
    m1, m2 = QuantumCircuit(1), QuantumCircuit(1)
    m1.unitary(np.diag([1.0, np.exp(0.1j)]), [0])
    m2.unitary(np.diag([1.0, np.exp((0.1 + 1e-12) * 1j)]), [0])
    assert circuit_key(m1) != circuit_key(m2)


def test_key_is_the_same_in_a_fresh_process() -> None:
    code = (
        "import numpy as np; from qenv.tasks.circuits import qaoa_tsp; "
        "print(qaoa_tsp(4, 2, rng=np.random.default_rng(5)).key)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=REPO
    )
    assert out.stdout.strip() == qaoa_tsp(4, 2, rng=rng(5)).key


def test_circuit_validation_and_renaming() -> None:
    qc = QuantumCircuit(1)
    qc.rx(Parameter("theta"), 0)
    with pytest.raises(ValueError, match="unbound parameters: theta"):
        Circuit("c", "qasm", qc)
    with pytest.raises(ValueError, match="family"):
        Circuit("c", "bell", QuantumCircuit(1))
    with pytest.raises(ValueError, match="name"):
        Circuit("", "ghz", QuantumCircuit(1))
    c = ghz(3)
    d = c.renamed("ghz_n3_s0")
    assert d.name == "ghz_n3_s0" and d.key == c.key and d.features() == c.features()
    assert c.name == "ghz_n3"
    assert "ghz_n3" in repr(c)


def test_features_count_gates_by_width() -> None:
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.ccx(0, 1, 2)
    qc.cx(0, 1)
    qc.barrier()
    qc.reset(2)
    qc.measure_all()
    f = Circuit("mixed", "qasm", qc).features()
    assert (f["count_1q"], f["count_2q"], f["count_multi"]) == (1, 1, 1)
    assert f["two_qubit_fraction"] == pytest.approx(1 / 3)
    assert f["measured"] == 3


# --------------------------------------------------------------------------- dispatch


def test_circuit_from_family_dispatch() -> None:
    made = {
        "qaoa_maxcut": circuit_from_family("qaoa_maxcut", 5, rng=rng(), p=2),
        "qaoa_tsp": circuit_from_family("qaoa_tsp", 3, rng=rng()),
        "vqe": circuit_from_family("vqe", "h2", rng=rng()),
        "ghz": circuit_from_family("ghz", 4, rng=rng()),
        "qft": circuit_from_family("qft", 3, rng=rng()),
        "qasm": circuit_from_family("qasm", REPO / "configs/circuits/ghz3.qasm", rng=rng()),
    }
    assert set(made) == set(FAMILIES)
    assert all(c.family == f for f, c in made.items())
    assert made["qaoa_maxcut"].name == "qaoa_maxcut_n5_p2"
    assert made["vqe"].num_qubits == 4 and made["qasm"].num_qubits == 3
    assert circuit_from_family("vqe", 6, rng=rng(1), layers=1).key == vqe_hea(6, 1, rng=rng(1)).key
    with pytest.raises(ValueError, match="family must be one of"):
        circuit_from_family("grover", 3, rng=rng())
    with pytest.raises(ValueError, match="'h2' or 'lih'"):
        circuit_from_family("vqe", "beh2", rng=rng())
    with pytest.raises(ValueError, match="must be an integer"):
        circuit_from_family("ghz", 2.5, rng=rng())  # type: ignore[arg-type]
