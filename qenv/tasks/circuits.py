"""Quantum circuits of the QPU-allocation world: a frozen :class:`Circuit` and its generators.

A :class:`Circuit` wraps a qiskit ``QuantumCircuit`` whose parameters are all bound
and whose qubits are measured at the end (``measure_all``: a barrier, then one
measurement per qubit into a new ``meas`` register). Its ``key`` is a SHA-256 of a
canonical listing of the instructions (name, qubit and clbit indices, ``repr`` of each
float parameter, and recursively the definitions of non-standard gates), so that
routing results and scores can be cached per circuit content. The listing is ours
rather than ``qiskit.qasm3.dumps`` because the exporter names some custom gates after
``id()`` of the Python object, which changes between runs. Do not mutate ``qc``: the key
and the features are computed once, when the ``Circuit`` is built.

Families (each generator takes a ``numpy.random.Generator`` where it draws anything):

* ``qaoa_maxcut`` — QAOA (Farhi, Goldstone & Gutmann 2014, arXiv:1411.4028) for MaxCut
  on an Erdős–Rényi graph G(n, edge_prob) conditioned on being connected (rejection
  sampling). Cost layer ``exp(-iγ H)`` with ``H = Σ_(i,j)∈E Z_i Z_j / 2`` (minimising H
  maximises the cut ``|E|/2 - H``), i.e. one ``RZZ(γ)`` per edge; mixer
  ``exp(+iβ Σ X) = Π RX(-2β)`` (annealing sign: the start state ``|+…+⟩`` is the
  ground state of ``-Σ X``), so good angles are positive. Angles: for p = 1 the
  fixed angles of d-regular triangle-free graphs, ``γ* = arctan(1/sqrt(d-1))``,
  ``β* = π/8`` (Wang, Hadfield, Jiang & Rieffel 2018, PRA 97, 022304; Wurtz & Lykov 2021,
  PRA 104, 052419) with d the rounded mean degree (at least 2); for p > 1 a linear
  ramp through them, ``γ_k = 2γ* t_k``, ``β_k = 2β* (1 - t_k)``, ``t_k = (k - 1/2)/p``
  (a Trotterised anneal, as in Zhou et al. 2020, PRX 10, 021067). These angles are a
  heuristic, not optimised per instance; ``angles="random"`` draws
  ``γ ~ U(0, π)``, ``β ~ U(0, π/2)`` per layer instead.
* ``qaoa_tsp`` — QAOA for the travelling-salesman QUBO of Lucas 2014 (Front. Phys. 2, 5,
  §7.2) with city 0 fixed at position 0: ``(n-1)²`` qubits, 4 for 3 cities, 9 for 4,
  16 for 5. Cities are uniform in the unit square (Euclidean distances). The QUBO is
  mapped to an Ising model (``x = (1 - z)/2``), scaled so the largest coefficient is
  1/2 (as in MaxCut), and ``exp(-iγ H)`` becomes ``RZ(2γ h_i)`` and ``RZZ(2γ J_ij)``.
  Angles as for MaxCut, with d the mean number of couplings per qubit (a heuristic:
  no optimality is claimed for TSP).
* ``vqe`` — the hardware-efficient ansatz of Kandala et al. 2017 (Nature 549, 242):
  an RY·RZ rotation layer, then ``layers`` × (entangler, rotation layer), with CX or
  CZ entanglers on a linear, circular or full pattern and parameters drawn
  ``U(0, 2π)``. Named sizes start from the Hartree–Fock state (X on the occupied
  spin orbitals, Jordan–Wigner, block spin order: all α orbitals, then all β):
  ``vqe_h2`` — H2 in STO-3G, 2 spatial orbitals → 4 qubits, 2 electrons; ``vqe_lih`` —
  LiH in STO-3G, 6 spatial orbitals → 12 qubits, 4 electrons (no active-space
  reduction).
* ``ghz`` — H on qubit 0 and a CX chain: ``(|0…0⟩ + |1…1⟩)/√2``.
* ``qft`` — X gates preparing a uniformly drawn basis state ``|x⟩`` (little-endian,
  qubit 0 is the least significant bit), then the textbook QFT (Nielsen & Chuang 2010,
  §5.1) in the gate order of qiskit's ``synth_qft_full``: H and controlled phases
  ``CP(π/2^(j-k))``, then the qubit-reversal swaps; it equals ``QFTGate(n)``.
* ``qasm`` — circuits read from OpenQASM 2/3 (:mod:`qenv.tasks.qasm`).

:func:`circuit_from_family` dispatches on the family name.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import networkx as nx
import numpy as np
import numpy.typing as npt
from qiskit import QuantumCircuit
from qiskit.circuit.library import get_standard_gate_name_mapping

from qenv.checks import check_positive_int

__all__ = [
    "FAMILIES",
    "Circuit",
    "Ising",
    "Qubo",
    "circuit_from_family",
    "circuit_key",
    "ghz",
    "qaoa_maxcut",
    "qaoa_tsp",
    "qft",
    "random_tsp_distances",
    "tsp_decode",
    "tsp_qubo",
    "vqe_h2",
    "vqe_hea",
    "vqe_lih",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Circuit families; ``qasm`` marks circuits read from OpenQASM files or strings.
FAMILIES: Final = ("qaoa_maxcut", "qaoa_tsp", "vqe", "ghz", "qft", "qasm")

Angles = Literal["fixed", "random"]
Entanglement = Literal["linear", "circular", "full"]

# Operations that are not gates: excluded from the gate counts.
_NON_GATES: Final = frozenset({"barrier", "measure", "reset", "delay", "store"})
_STANDARD_GATES: Final = frozenset(get_standard_gate_name_mapping()) | {"barrier"}
# Rejection sampling of connected random graphs gives up after this many draws.
_MAX_GRAPH_TRIES: Final = 1000


# --------------------------------------------------------------------------- the circuit


def _canonical_lines(qc: QuantumCircuit, depth: int = 0) -> Iterator[str]:
    """One text line per instruction; recurses into non-standard gate definitions."""
    qubit_index = {q: i for i, q in enumerate(qc.qubits)}
    clbit_index = {c: i for i, c in enumerate(qc.clbits)}
    pad = " " * depth
    yield f"{pad}circuit {qc.num_qubits} {qc.num_clbits}"
    for inst in qc.data:
        op = inst.operation
        qubits = ",".join(str(qubit_index[q]) for q in inst.qubits)
        clbits = ",".join(str(clbit_index[c]) for c in inst.clbits)
        params: list[str] = []
        blocks: list[QuantumCircuit] = []
        for p in op.params:
            if isinstance(p, QuantumCircuit):  # control-flow bodies
                blocks.append(p)
            elif isinstance(p, complex | np.complexfloating):
                params.append(repr(complex(p)))
            elif isinstance(p, int | float | np.number):
                params.append(repr(float(p)))
            elif isinstance(p, np.ndarray):  # e.g. a UnitaryGate's matrix: exact bytes
                digest = hashlib.sha256(np.ascontiguousarray(p).tobytes()).hexdigest()
                params.append(f"array{p.shape}{p.dtype}:{digest}")
            else:
                params.append(str(p))
        yield f"{pad}{op.name}({','.join(params)}) q[{qubits}] c[{clbits}]"
        for block in blocks:
            yield from _canonical_lines(block, depth + 1)
        if op.name not in _STANDARD_GATES:  # a custom gate: its body is part of the content
            definition = getattr(op, "definition", None)
            if isinstance(definition, QuantumCircuit):
                yield from _canonical_lines(definition, depth + 1)


def circuit_key(qc: QuantumCircuit) -> str:
    """SHA-256 (hex) of the circuit's canonical instruction listing (see the module doc).

    Equal for circuits with the same instructions on the same qubit/clbit indices and the
    same parameters (``repr`` of floats, exact bytes of arrays such as unitary matrices);
    register names, the circuit name and the global phase do not enter.
    """
    digest = hashlib.sha256()
    for line in _canonical_lines(qc):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Circuit:
    """A bound, measured circuit with a content key; tasks refer to it by library index.

    Attributes:
        name: e.g. ``"qaoa_maxcut_n8_p2_s3"``; for files, the file path.
        family: one of :data:`FAMILIES`.
        qc: the qiskit circuit (all parameters bound; measured at the end).
        key: SHA-256 of the canonical instruction listing (:func:`circuit_key`);
            computed at construction.
    """

    name: str
    family: str
    qc: QuantumCircuit
    key: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if not isinstance(self.qc, QuantumCircuit):
            raise ValueError(f"qc must be a qiskit QuantumCircuit, got {type(self.qc).__name__}")
        if self.qc.num_parameters:
            names = ", ".join(p.name for p in self.qc.parameters)
            raise ValueError(f"circuit {self.name!r}: unbound parameters: {names}")
        object.__setattr__(self, "key", circuit_key(self.qc))

    def renamed(self, name: str) -> Circuit:
        """The same circuit under another name (key and features are not recomputed)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        other = object.__new__(Circuit)
        other.__dict__.update(self.__dict__)  # fields and the cached features
        other.__dict__["name"] = name
        return other

    @property
    def num_qubits(self) -> int:
        """Width of the circuit (qubits)."""
        return int(self.qc.num_qubits)

    @functools.cached_property
    def _features(self) -> dict[str, float]:
        count_1q = count_2q = count_multi = 0
        measured: set[int] = set()
        qubit_index = {q: i for i, q in enumerate(self.qc.qubits)}
        for inst in self.qc.data:
            name = inst.operation.name
            if name == "measure":
                measured.update(qubit_index[q] for q in inst.qubits)
            elif name in _NON_GATES:
                continue
            elif len(inst.qubits) == 1:
                count_1q += 1
            elif len(inst.qubits) == 2:
                count_2q += 1
            else:
                count_multi += 1
        n_gates = count_1q + count_2q + count_multi
        return {
            "num_qubits": float(self.qc.num_qubits),
            "depth": float(self.qc.depth()),
            "count_1q": float(count_1q),
            "count_2q": float(count_2q),
            "count_multi": float(count_multi),
            "two_qubit_fraction": count_2q / n_gates if n_gates else 0.0,
            "measured": float(len(measured)),
        }

    def features(self) -> dict[str, float]:
        """Structural features (a fresh dict; computed once per circuit).

        ``num_qubits``; ``depth`` (qiskit's ``depth()``: barriers excluded, measurements
        included); ``count_1q``, ``count_2q`` and ``count_multi`` (gates on 1, 2 and ≥ 3
        qubits; measure, reset, delay and barrier are not gates); ``two_qubit_fraction``
        (``count_2q`` over all gates, 0 without gates); ``measured`` (distinct qubits
        measured).
        """
        return dict(self._features)

    def __repr__(self) -> str:
        return (
            f"Circuit(name={self.name!r}, family={self.family!r}, "
            f"num_qubits={self.num_qubits}, key={self.key[:12]!r})"
        )


# --------------------------------------------------------------------------- QAOA


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _qaoa_angles(
    p: int, degree: float, angles: str, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """(γ, β) per layer; see the module docstring for the fixed-angle ramp."""
    if angles == "random":
        return rng.uniform(0.0, math.pi, size=p), rng.uniform(0.0, math.pi / 2, size=p)
    if angles != "fixed":
        raise ValueError(f"angles must be 'fixed' or 'random', got {angles!r}")
    d = max(2, round(degree))
    gamma_star = math.atan(1.0 / math.sqrt(d - 1))
    beta_star = math.pi / 8
    t = (np.arange(1, p + 1) - 0.5) / p
    return 2.0 * gamma_star * t, 2.0 * beta_star * (1.0 - t)


def _qaoa_circuit(
    h: FloatArray, couplings: list[tuple[int, int, float]], gammas: FloatArray, betas: FloatArray
) -> QuantumCircuit:
    """|+…+⟩, then per layer exp(-iγH) (RZ, RZZ) and exp(+iβΣX) (RX(-2β)), then measure."""
    n = h.size
    qc = QuantumCircuit(n)
    qc.h(range(n))
    linear = np.flatnonzero(h)
    for gamma, beta in zip(gammas.tolist(), betas.tolist(), strict=True):
        for i in linear.tolist():
            qc.rz(2.0 * gamma * float(h[i]), i)
        for i, j, coupling in couplings:
            qc.rzz(2.0 * gamma * coupling, i, j)
        for q in range(n):
            qc.rx(-2.0 * beta, q)
    qc.measure_all()
    return qc


def _random_connected_graph(n: int, edge_prob: float, rng: np.random.Generator) -> nx.Graph:
    iu, ju = np.triu_indices(n, k=1)
    for _ in range(_MAX_GRAPH_TRIES):
        keep = rng.random(iu.size) < edge_prob
        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from(zip(iu[keep].tolist(), ju[keep].tolist(), strict=True))
        if nx.is_connected(graph):
            return graph
    raise ValueError(
        f"edge_prob={edge_prob} gave no connected graph on {n} nodes in {_MAX_GRAPH_TRIES} "
        "draws; raise edge_prob"
    )


def qaoa_maxcut(
    n_nodes: int,
    p: int = 1,
    *,
    rng: np.random.Generator,
    edge_prob: float = 0.5,
    graph: nx.Graph | None = None,
    angles: Angles = "fixed",
    name: str | None = None,
) -> Circuit:
    """QAOA-p for MaxCut: ``p · |E|`` RZZ gates, ``n + p · n`` single-qubit gates.

    Args:
        n_nodes: number of graph nodes = qubits (>= 2).
        p: QAOA depth (>= 1).
        rng: draws the graph (and the angles when ``angles="random"``).
        edge_prob: G(n, edge_prob) edge probability; the graph is redrawn until
            connected (ValueError after 1000 draws).
        graph: a given graph instead of a random one; its nodes, in sorted order, become
            qubits ``0..n-1``; it must have ``n_nodes`` nodes and at least one edge.
        angles: ``"fixed"`` (degree-based fixed angles, ramped for p > 1) or ``"random"``.
        name: default ``qaoa_maxcut_n{n}_p{p}``.
    """
    n_nodes = check_positive_int("n_nodes", n_nodes, 2)
    p = check_positive_int("p", p, 1)
    rng = _check_rng(rng)
    if graph is None:
        if not 0.0 < edge_prob <= 1.0:
            raise ValueError(f"edge_prob must lie in (0, 1], got {edge_prob!r}")
        graph = _random_connected_graph(n_nodes, edge_prob, rng)
    else:
        if graph.number_of_nodes() != n_nodes:
            raise ValueError(f"graph has {graph.number_of_nodes()} nodes, but n_nodes={n_nodes}")
        if graph.number_of_edges() == 0:
            raise ValueError("graph must have at least one edge")
        graph = nx.convert_node_labels_to_integers(graph, ordering="sorted")
    edges = sorted((min(u, v), max(u, v)) for u, v in graph.edges if u != v)
    degree = 2.0 * len(edges) / n_nodes
    gammas, betas = _qaoa_angles(p, degree, angles, rng)
    # H = Σ Z_i Z_j / 2: J = 1/2 per edge, so exp(-iγH) is RZZ(γ) per edge.
    qc = _qaoa_circuit(np.zeros(n_nodes), [(u, v, 0.5) for u, v in edges], gammas, betas)
    return Circuit(name or f"qaoa_maxcut_n{n_nodes}_p{p}", "qaoa_maxcut", qc)


# --------------------------------------------------------------------------- TSP QUBO


@dataclass(frozen=True, eq=False)
class Ising:
    """``E(z) = offset + Σ_i h_i z_i + Σ_{i<j} J_ij z_i z_j`` for spins ``z ∈ {±1}``.

    ``coupling`` is symmetric with a zero diagonal. Spin ``z_i = +1`` is qubit state
    ``|0⟩`` (the Z eigenvalue), so bit ``x_i = (1 - z_i)/2``.
    """

    h: FloatArray  # (n,)
    coupling: FloatArray  # (n, n)
    offset: float

    def energy(self, z: npt.ArrayLike) -> FloatArray:
        """Energies of spin configurations, shape (k, n) or (n,) → (k,) or ()."""
        spins = np.asarray(z, dtype=np.float64)
        quad = 0.5 * np.einsum("...i,ij,...j->...", spins, self.coupling, spins)
        return np.asarray(self.offset + spins @ self.h + quad, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Qubo:
    """``E(x) = offset + Σ_i linear_i x_i + Σ_{i<j} Q_ij x_i x_j`` for bits ``x ∈ {0, 1}``.

    ``quadratic`` is symmetric with a zero diagonal (``x_i² = x_i`` sits in ``linear``).
    """

    linear: FloatArray  # (n,)
    quadratic: FloatArray  # (n, n)
    offset: float

    @property
    def num_variables(self) -> int:
        return int(self.linear.size)

    def energy(self, x: npt.ArrayLike) -> FloatArray:
        """Energies of bitstrings, shape (k, n) or (n,) → (k,) or ()."""
        bits = np.asarray(x, dtype=np.float64)
        quad = 0.5 * np.einsum("...i,ij,...j->...", bits, self.quadratic, bits)
        return np.asarray(self.offset + bits @ self.linear + quad, dtype=np.float64)

    def to_ising(self) -> Ising:
        """Substitute ``x = (1 - z)/2``; the energies agree on every configuration."""
        q = self.quadratic
        coupling = q / 4.0
        h = -self.linear / 2.0 - q.sum(axis=1) / 4.0
        offset = self.offset + self.linear.sum() / 2.0 + np.triu(q, 1).sum() / 4.0
        return Ising(h, coupling, float(offset))


def random_tsp_distances(n_cities: int, rng: np.random.Generator) -> FloatArray:
    """Euclidean distances of ``n_cities`` uniform points in the unit square, (n, n)."""
    n_cities = check_positive_int("n_cities", n_cities, 3)
    points = _check_rng(rng).random((n_cities, 2))
    return np.asarray(
        np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1), dtype=np.float64
    )


def _check_distances(distances: npt.ArrayLike) -> FloatArray:
    w = np.asarray(distances, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] < 3:
        raise ValueError(f"distances must be an (n, n) matrix with n >= 3, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("distances must be finite and >= 0")
    return w


def tsp_qubo(distances: npt.ArrayLike, penalty: float | None = None) -> Qubo:
    """Lucas (2014) §7.2 TSP QUBO with city 0 fixed at position 0.

    Variable ``x[(v-1)(n-1) + (j-1)]`` = 1 when city ``v ∈ 1..n-1`` is visited at position
    ``j ∈ 1..n-1``. ``E = A Σ_v (1 - Σ_j x_vj)² + A Σ_j (1 - Σ_v x_vj)² + tour length``
    (the legs 0 → position 1 and position n-1 → 0 are linear terms; ``W_uv`` may be
    asymmetric). The default penalty ``A = (n + 1) · max W`` exceeds any tour length, and a
    violated constraint costs at least A, so every minimiser is a valid tour of minimum
    length.
    """
    w = _check_distances(distances)
    n = w.shape[0]
    m = n - 1  # free cities and free positions
    a = (n + 1) * (float(w.max()) or 1.0) if penalty is None else float(penalty)
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"penalty must be finite and > 0, got {penalty!r}")
    idx = np.arange(m * m).reshape(m, m)  # idx[v-1, j-1]
    var = np.arange(m * m)
    # A (1 - Σ_g x)² = A - A Σ_g x + 2A Σ_{a<b in g} x_a x_b for each one-hot group g (a
    # city's positions, a position's cities); every variable lies in one group of each kind.
    offset = 2.0 * a * m
    linear = np.full(m * m, -2.0 * a)
    same_city = (var[:, None] // m) == (var[None, :] // m)
    same_position = (var[:, None] % m) == (var[None, :] % m)
    quad = 2.0 * a * ((same_city | same_position) & ~np.eye(m * m, dtype=bool))
    # Tour legs: 0 -> the city at position 1, the city at position n-1 -> 0 (linear), and
    # city u at position j -> city v != u at position j+1 (quadratic).
    city = var // m
    linear += np.where(var % m == 0, w[0, 1:][city], 0.0)
    linear += np.where(var % m == m - 1, w[1:, 0][city], 0.0)
    legs = w[1:, 1:] * (1.0 - np.eye(m))
    for j in range(m - 1):
        quad[np.ix_(idx[:, j], idx[:, j + 1])] += legs
        quad[np.ix_(idx[:, j + 1], idx[:, j])] += legs.T
    return Qubo(linear, quad, offset)


def tsp_decode(bits: Sequence[int] | npt.ArrayLike, n_cities: int) -> tuple[int, ...] | None:
    """The tour ``(0, c1, …, c_{n-1})`` encoded by ``bits``, or None if not one-hot."""
    m = check_positive_int("n_cities", n_cities, 3) - 1
    x = np.asarray(bits, dtype=np.int64).reshape(-1)
    if x.size != m * m:
        raise ValueError(f"bits must have {m * m} entries for {n_cities} cities, got {x.size}")
    grid = x.reshape(m, m)  # [city-1, position-1]
    if not (np.all(grid.sum(axis=0) == 1) and np.all(grid.sum(axis=1) == 1)):
        return None
    return (0, *(int(c) + 1 for c in np.argmax(grid, axis=0)))


def qaoa_tsp(
    n_cities: int,
    p: int = 1,
    *,
    rng: np.random.Generator,
    distances: npt.ArrayLike | None = None,
    angles: Angles = "fixed",
    name: str | None = None,
) -> Circuit:
    """QAOA-p for TSP on ``(n_cities - 1)²`` qubits (see :func:`tsp_qubo`).

    Args:
        n_cities: 3 (4 qubits), 4 (9 qubits), 5 (16 qubits), … (>= 3).
        p: QAOA depth (>= 1).
        rng: draws the cities (uniform in the unit square) unless ``distances`` is given,
            and the angles when ``angles="random"``.
        distances: an (n_cities, n_cities) distance matrix instead of random cities.
        angles: ``"fixed"`` or ``"random"`` (module docstring).
        name: default ``qaoa_tsp_c{n_cities}_p{p}``.
    """
    n_cities = check_positive_int("n_cities", n_cities, 3)
    p = check_positive_int("p", p, 1)
    rng = _check_rng(rng)
    w = random_tsp_distances(n_cities, rng) if distances is None else _check_distances(distances)
    if w.shape[0] != n_cities:
        raise ValueError(f"distances is {w.shape[0]}x{w.shape[0]}, but n_cities={n_cities}")
    ising = tsp_qubo(w).to_ising()
    scale = 0.5 / max(float(np.abs(ising.h).max()), float(np.abs(ising.coupling).max()))
    iu, ju = np.nonzero(np.triu(ising.coupling, 1))
    couplings = [
        (i, j, float(ising.coupling[i, j]) * scale)
        for i, j in zip(iu.tolist(), ju.tolist(), strict=True)
    ]
    degree = 2.0 * len(couplings) / ising.h.size
    gammas, betas = _qaoa_angles(p, degree, angles, rng)
    qc = _qaoa_circuit(ising.h * scale, couplings, gammas, betas)
    return Circuit(name or f"qaoa_tsp_c{n_cities}_p{p}", "qaoa_tsp", qc)


# --------------------------------------------------------------------------- VQE


def _entangler_pairs(n: int, entanglement: str) -> list[tuple[int, int]]:
    if entanglement == "linear":
        return [(i, i + 1) for i in range(n - 1)]
    if entanglement == "circular":
        return [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if n > 2 else [])
    if entanglement == "full":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    raise ValueError(f"entanglement must be 'linear', 'circular' or 'full', got {entanglement!r}")


def vqe_hea(
    n_qubits: int,
    layers: int = 2,
    *,
    rng: np.random.Generator,
    entanglement: Entanglement = "linear",
    entangler: Literal["cx", "cz"] = "cx",
    reference: Sequence[int] = (),
    name: str | None = None,
) -> Circuit:
    """Hardware-efficient ansatz (Kandala et al. 2017) with random bound parameters.

    Structure: X on the ``reference`` qubits (an occupied-orbital reference state), an
    RY·RZ layer, then ``layers`` × (entanglers on the ``entanglement`` pattern, RY·RZ
    layer); ``2 n (layers + 1)`` rotation angles drawn ``U(0, 2π)`` from ``rng``.

    Args:
        n_qubits: width (>= 2).
        layers: entangling layers (>= 1).
        entanglement: ``"linear"`` (n-1 pairs), ``"circular"`` (n), ``"full"`` (n(n-1)/2).
        entangler: ``"cx"`` or ``"cz"``.
        reference: qubits flipped to ``|1⟩`` first.
        name: default ``vqe_hea_n{n}_l{layers}``.
    """
    n_qubits = check_positive_int("n_qubits", n_qubits, 2)
    layers = check_positive_int("layers", layers, 1)
    rng = _check_rng(rng)
    pairs = _entangler_pairs(n_qubits, entanglement)
    if entangler not in ("cx", "cz"):
        raise ValueError(f"entangler must be 'cx' or 'cz', got {entangler!r}")
    occupied = sorted(set(reference))
    if any(not 0 <= q < n_qubits for q in occupied):
        raise ValueError(f"reference qubits must lie in [0, {n_qubits}), got {list(reference)}")
    theta = rng.uniform(0.0, 2.0 * math.pi, size=(layers + 1, 2, n_qubits)).tolist()
    qc = QuantumCircuit(n_qubits)
    for q in occupied:
        qc.x(q)
    for layer in range(layers + 1):
        if layer:
            for a, b in pairs:
                (qc.cx if entangler == "cx" else qc.cz)(a, b)
        for q in range(n_qubits):
            qc.ry(theta[layer][0][q], q)
            qc.rz(theta[layer][1][q], q)
    qc.measure_all()
    return Circuit(name or f"vqe_hea_n{n_qubits}_l{layers}", "vqe", qc)


def _hartree_fock(n_spatial: int, n_alpha: int, n_beta: int) -> list[int]:
    """Occupied JW qubits in block spin order (α orbitals 0..n-1, β orbitals n..2n-1)."""
    return list(range(n_alpha)) + [n_spatial + i for i in range(n_beta)]


def vqe_h2(*, rng: np.random.Generator, layers: int = 2, **kwargs: Any) -> Circuit:
    """H2/STO-3G: 4 qubits (2 spatial orbitals, JW), Hartree–Fock reference ``|0101⟩``."""
    return vqe_hea(
        4, layers, rng=rng, reference=_hartree_fock(2, 1, 1), name=f"vqe_h2_l{layers}", **kwargs
    )


def vqe_lih(*, rng: np.random.Generator, layers: int = 2, **kwargs: Any) -> Circuit:
    """LiH/STO-3G: 12 qubits (6 spatial orbitals, JW, no active space), 4 electrons."""
    return vqe_hea(
        12, layers, rng=rng, reference=_hartree_fock(6, 2, 2), name=f"vqe_lih_l{layers}", **kwargs
    )


# --------------------------------------------------------------------------- GHZ and QFT


def ghz(n: int, *, name: str | None = None) -> Circuit:
    """GHZ state on ``n >= 2`` qubits: H(0), CX(i, i+1) for i < n-1, measure all."""
    n = check_positive_int("n", n, 2)
    qc = QuantumCircuit(n)
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure_all()
    return Circuit(name or f"ghz_n{n}", "ghz", qc)


def qft(
    n: int, *, rng: np.random.Generator, x: int | None = None, name: str | None = None
) -> Circuit:
    """QFT on a basis state ``|x⟩`` (X gates on the 1 bits of x), measured at the end.

    ``x`` (little-endian integer in ``[0, 2**n)``) defaults to a uniform draw from ``rng``.
    The default name ``qft_n{n}_x{x}`` records the input.
    """
    n = check_positive_int("n", n, 1)
    _check_rng(rng)
    if x is None:
        bits = rng.integers(0, 2, size=n)
    else:
        x = check_positive_int("x", x, 0)
        if x >= 2**n:
            raise ValueError(f"x must lie in [0, 2**n) = [0, {2**n}), got {x}")
        bits = np.array([(x >> i) & 1 for i in range(n)], dtype=np.int64)
    x = sum(1 << i for i in np.flatnonzero(bits).tolist())
    qc = QuantumCircuit(n)
    for q in np.flatnonzero(bits).tolist():
        qc.x(q)
    for j in reversed(range(n)):
        qc.h(j)
        for k in reversed(range(j)):
            qc.cp(math.pi * 2.0 ** (k - j), j, k)
    for i in range(n // 2):
        qc.swap(i, n - 1 - i)
    qc.measure_all()
    return Circuit(name or f"qft_n{n}_x{x}", "qft", qc)


# --------------------------------------------------------------------------- dispatch

_VQE_NAMED: Final = {"h2": vqe_h2, "lih": vqe_lih}


def circuit_from_family(
    family: str,
    size: int | str | os.PathLike[str],
    *,
    rng: np.random.Generator,
    **kwargs: Any,
) -> Circuit:
    """One circuit of ``family``; ``size`` is the family's natural size.

    ``qaoa_maxcut``: nodes; ``qaoa_tsp``: cities; ``vqe``: qubits, or ``"h2"`` / ``"lih"``;
    ``ghz``, ``qft``: qubits; ``qasm``: a file path (or program text) for
    :func:`qenv.tasks.qasm.load_qasm`. ``kwargs`` go to the generator (``p``,
    ``edge_prob``, ``angles``, ``layers``, ``entanglement``, ``entangler``, ``name``).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    if family == "qasm":
        from qenv.tasks.qasm import load_qasm  # qasm imports this module

        if not isinstance(size, str | os.PathLike):
            raise ValueError(f"size of a qasm circuit must be a path or text, got {size!r}")
        return load_qasm(size, **kwargs)
    if family == "vqe" and isinstance(size, str):
        if size.lower() not in _VQE_NAMED:
            raise ValueError(f"vqe size must be a qubit count or 'h2' or 'lih', got {size!r}")
        return _VQE_NAMED[size.lower()](rng=rng, **kwargs)
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise ValueError(f"size of a {family} circuit must be an integer, got {size!r}")
    if family == "qaoa_maxcut":
        return qaoa_maxcut(int(size), rng=rng, **kwargs)
    if family == "qaoa_tsp":
        return qaoa_tsp(int(size), rng=rng, **kwargs)
    if family == "vqe":
        return vqe_hea(int(size), rng=rng, **kwargs)
    if family == "ghz":
        return ghz(int(size), **kwargs)
    return qft(int(size), rng=rng, **kwargs)
