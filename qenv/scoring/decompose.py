"""② Decomposition: a circuit's instruction DAG, its qubit-interaction graph, features.

:func:`decompose` turns a circuit into a :class:`CircuitGraph`:

* ``dag`` — a networkx ``DiGraph`` with one node per instruction (barriers excluded),
  attributes ``name``, ``qubits``, ``clbits``; an edge u → v when v is the next
  instruction after u on a shared qubit or classical bit (the wire order of the circuit);
* ``interaction`` — a networkx ``Graph`` on the qubits, an edge per pair of qubits that
  share a multi-qubit gate, weighted by the number of such gates (a k-qubit gate adds
  every pair of its qubits).

Structural features (:attr:`CircuitGraph.features`), all computed from the two graphs:
``num_qubits``, ``active_qubits`` (touched by an instruction), ``num_clbits``,
``gates`` (unitary instructions), ``count_1q``, ``count_2q``, ``count_multi``,
``measurements``, ``depth`` (longest path of the DAG counting gates and measurements),
``depth_2q`` (longest path counting multi-qubit gates only), ``parallelism`` (gates /
depth), ``interaction_edges``, ``interaction_density`` (edges / (n choose 2)),
``max_degree`` and ``mean_degree`` of the interaction graph, ``clustering`` (its average
clustering coefficient), ``components`` (connected components among active qubits),
``diameter`` (of its largest component), ``gate_kinds`` (distinct gate names),
``mid_circuit_measurements`` (measurements followed by an instruction on their qubit),
``resets``.

:meth:`CircuitGraph.embedding` is the circuit's vector for Novelty
(:mod:`qenv.scoring.novelty`): log1p of the size features, the shape ratios, and the
gate-name histogram over :data:`GATE_VOCABULARY` (fractions of the gates; other gates
in one "other" bin), as a unit vector (all entries >= 0, so cosine similarities are in
[0, 1]).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Final

import networkx as nx
import numpy as np
import numpy.typing as npt
from qiskit import QuantumCircuit

from qenv.tasks import Circuit

__all__ = ["GATE_VOCABULARY", "CircuitGraph", "decompose"]

FloatArray = npt.NDArray[np.float64]

#: Gate names with their own bin in the embedding's gate histogram.
GATE_VOCABULARY: Final = (
    "h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "p", "u",
    "cx", "cz", "cp", "swap", "rzz", "rxx", "ecr", "ccx",
)  # fmt: skip
_NOT_GATES: Final = frozenset({"measure", "reset", "barrier", "delay", "store"})
_SIZE_FEATURES: Final = (
    "active_qubits", "gates", "count_1q", "count_2q", "count_multi", "measurements",
    "depth", "depth_2q", "interaction_edges", "max_degree", "diameter",
)  # fmt: skip
_RATIO_FEATURES: Final = ("interaction_density", "clustering", "parallelism_ratio")


@dataclass(frozen=True, eq=False)
class CircuitGraph:
    """A circuit decomposed into its instruction DAG and qubit-interaction graph."""

    name: str
    dag: nx.DiGraph
    interaction: nx.Graph
    features: dict[str, float]
    gate_counts: dict[str, int]
    _embedding: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        f = self.features
        sizes = [math.log1p(f[k]) for k in _SIZE_FEATURES]
        ratios = [
            f["interaction_density"],
            f["clustering"],
            f["parallelism"] / (1.0 + f["parallelism"]),
        ]
        total = max(sum(self.gate_counts.values()), 1)
        hist = [self.gate_counts.get(g, 0) / total for g in GATE_VOCABULARY]
        other = sum(c for g, c in self.gate_counts.items() if g not in GATE_VOCABULARY)
        vec = np.array([*sizes, *ratios, *hist, other / total], dtype=np.float64)
        norm = float(np.linalg.norm(vec))
        vec = vec / norm if norm > 0 else vec
        vec.flags.writeable = False
        object.__setattr__(self, "_embedding", vec)

    def embedding(self) -> FloatArray:
        """Unit embedding vector (read-only; see the module docstring)."""
        return self._embedding


def _longest(dag: nx.DiGraph, weight: dict[int, int]) -> int:
    """Longest path through the DAG where node n counts weight[n]."""
    best: dict[int, int] = {}
    top = 0
    for node in nx.topological_sort(dag):
        prev = max((best[p] for p in dag.predecessors(node)), default=0)
        best[node] = prev + weight[node]
        top = max(top, best[node])
    return top


@functools.lru_cache(maxsize=4096)
def _decompose_cached(key: str, circuit: Circuit) -> CircuitGraph:
    return _build(circuit.qc, circuit.name)


def decompose(circuit: Circuit | QuantumCircuit) -> CircuitGraph:
    """The :class:`CircuitGraph` of ``circuit`` (cached per circuit key for a Circuit)."""
    if isinstance(circuit, Circuit):
        return _decompose_cached(circuit.key, circuit)
    if isinstance(circuit, QuantumCircuit):
        return _build(circuit, circuit.name)
    raise ValueError(
        f"circuit must be a qenv Circuit or a qiskit QuantumCircuit, got {type(circuit).__name__}"
    )


def _build(qc: QuantumCircuit, name: str) -> CircuitGraph:
    qidx = {q: i for i, q in enumerate(qc.qubits)}
    cidx = {c: i for i, c in enumerate(qc.clbits)}
    dag = nx.DiGraph()
    inter = nx.Graph()
    inter.add_nodes_from(range(qc.num_qubits))
    last_q: dict[int, int] = {}
    last_c: dict[int, int] = {}
    counts: dict[str, int] = {}
    c1 = c2 = cm = meas = resets = mid = 0
    measured_at: dict[int, int] = {}
    active: set[int] = set()
    weight: dict[int, int] = {}
    weight2: dict[int, int] = {}
    for pos, inst in enumerate(qc.data):
        op = inst.operation
        op_name = str(op.name)
        if op_name == "barrier":
            continue
        qs = tuple(qidx[q] for q in inst.qubits)
        cs = tuple(cidx[c] for c in inst.clbits)
        dag.add_node(pos, name=op_name, qubits=qs, clbits=cs)
        for q in qs:
            if q in last_q:
                dag.add_edge(last_q[q], pos)
            last_q[q] = pos
            if q in measured_at:
                mid += 1
                measured_at.pop(q)
        for c in cs:
            if c in last_c:
                dag.add_edge(last_c[c], pos)
            last_c[c] = pos
        active.update(qs)
        is_gate = op_name not in _NOT_GATES
        weight[pos] = 1 if op_name != "delay" else 0
        weight2[pos] = 1 if is_gate and len(qs) >= 2 else 0
        if op_name == "measure":
            meas += 1
            for q in qs:
                measured_at[q] = pos
            continue
        if op_name == "reset":
            resets += 1
            continue
        if not is_gate:
            continue
        counts[op_name] = counts.get(op_name, 0) + 1
        if len(qs) == 1:
            c1 += 1
        elif len(qs) == 2:
            c2 += 1
        else:
            cm += 1
        for a_i in range(len(qs)):
            for b_i in range(a_i + 1, len(qs)):
                a, b = qs[a_i], qs[b_i]
                w = inter.get_edge_data(a, b, {"weight": 0})["weight"]
                inter.add_edge(a, b, weight=w + 1)
    n = qc.num_qubits
    gates = c1 + c2 + cm
    depth = _longest(dag, weight) if len(dag) else 0
    depth2 = _longest(dag, weight2) if len(dag) else 0
    sub = inter.subgraph(sorted(active))
    degrees = [d for _, d in sub.degree()] or [0]
    comps = list(nx.connected_components(sub)) if len(sub) else []
    diameter = 0
    if comps:
        largest = sub.subgraph(max(comps, key=len))
        diameter = nx.diameter(largest) if len(largest) > 1 else 0
    edges = inter.number_of_edges()
    pairs = n * (n - 1) / 2
    features: dict[str, Any] = {
        "num_qubits": float(n),
        "active_qubits": float(len(active)),
        "num_clbits": float(qc.num_clbits),
        "gates": float(gates),
        "count_1q": float(c1),
        "count_2q": float(c2),
        "count_multi": float(cm),
        "measurements": float(meas),
        "depth": float(depth),
        "depth_2q": float(depth2),
        "parallelism": gates / depth if depth else 0.0,
        "interaction_edges": float(edges),
        "interaction_density": edges / pairs if pairs else 0.0,
        "max_degree": float(max(degrees)),
        "mean_degree": float(np.mean(degrees)),
        "clustering": float(nx.average_clustering(sub)) if len(sub) else 0.0,
        "components": float(len(comps)),
        "diameter": float(diameter),
        "gate_kinds": float(len(counts)),
        "mid_circuit_measurements": float(mid),
        "resets": float(resets),
    }
    return CircuitGraph(
        name=name, dag=dag, interaction=inter, features=features, gate_counts=counts
    )
