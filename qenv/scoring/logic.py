"""③-1 LogicScore: the hard constraints of running a circuit on a QPU.

LogicScore(circuit, QPU) = 1 if every constraint holds, else 0 (with the first failing
constraint as the reason), checked in this order:

1. **bound parameters** — no free qiskit ``Parameter`` is left;
2. **width** — the circuit's qubits ≤ the QPU's qubits;
3. **gate support** — every operation is a basis gate of the QPU or decomposable into
   them by qiskit's equivalence library (:func:`qenv.execution.executable`; control flow
   and mid-circuit ``reset`` are not supported);
4. **no use after measurement** — nothing acts on a qubit after it is measured (the
   execution model, like the ESP and the density-matrix check, takes terminal
   measurements only);
5. **routable** — qiskit's router places the circuit on the coupling map
   (:class:`qenv.execution.Router`, the routing the environment executes; cached per
   (circuit, device)) and the routed circuit uses only the device's couplings.

The score is binary on purpose: these are feasibility constraints, and how *well* a
circuit runs is QNC's job (routing overhead lowers the ESP through its extra gates).
A LogicScore of 0 makes V = 0 (:mod:`qenv.scoring.fusion`).
"""

from __future__ import annotations

from dataclasses import dataclass

from qiskit import QuantumCircuit

from qenv.execution import RoutedCircuit, Router, executable
from qenv.hardware import QPUSpec
from qenv.tasks import Circuit, circuit_key

__all__ = ["ROUTER", "LogicResult", "logic_score", "use_after_measurement"]

#: Routing cache of the scoring pipeline (the environment passes its own router).
ROUTER = Router(cache_size=8192)


@dataclass(frozen=True)
class LogicResult:
    """LogicScore and why it is 0 (``reason`` is None when every constraint holds)."""

    score: float
    reason: str | None
    routed: RoutedCircuit | None


def use_after_measurement(qc: QuantumCircuit) -> str | None:
    """A reason if an instruction acts on a qubit after its measurement, else None."""
    measured: dict[int, int] = {}
    index = {q: i for i, q in enumerate(qc.qubits)}
    for pos, inst in enumerate(qc.data):
        name = inst.operation.name
        if name == "barrier":
            continue
        for q in inst.qubits:
            i = index[q]
            if i in measured:
                return (
                    f"instruction {pos} ({name}) acts on qubit {i} after its measurement "
                    f"(instruction {measured[i]})"
                )
        if name == "measure":
            for q in inst.qubits:
                measured[index[q]] = pos
    return None


def logic_score(
    circuit: Circuit | QuantumCircuit,
    spec: QPUSpec,
    *,
    router: Router | None = None,
    routed: RoutedCircuit | None = None,
) -> LogicResult:
    """LogicScore of ``circuit`` on ``spec`` (module docstring); never raises on a bad
    circuit, returns 0 and the reason.

    ``routed``: the circuit already routed on ``spec`` (skips routing); ``router``: the
    routing cache to use (default :data:`ROUTER`).
    """
    qc = circuit.qc if isinstance(circuit, Circuit) else circuit
    if not isinstance(qc, QuantumCircuit):
        raise ValueError(
            f"circuit must be a qenv Circuit or a qiskit QuantumCircuit, got {type(qc).__name__}"
        )
    if qc.num_parameters:
        names = ", ".join(p.name for p in qc.parameters)
        return LogicResult(0.0, f"unbound parameter(s) {names}", None)
    if qc.num_qubits > spec.num_qubits:
        return LogicResult(
            0.0, f"needs {qc.num_qubits} qubits, {spec.name} has {spec.num_qubits}", None
        )
    reason = executable(qc, spec)
    if reason is not None:
        return LogicResult(0.0, reason, None)
    reason = use_after_measurement(qc)
    if reason is not None:
        return LogicResult(0.0, reason, None)
    if routed is None:
        try:
            key = circuit.key if isinstance(circuit, Circuit) else circuit_key(qc)
            routed = (router or ROUTER).route(key, qc, spec)
        except Exception as exc:  # qiskit's transpiler raises many types
            return LogicResult(0.0, f"routing failed: {type(exc).__name__}: {exc}", None)
    coupled = {tuple(e) for e in spec.edges.tolist()}
    if not spec.all_to_all:
        pos = {q: i for i, q in enumerate(routed.circuit.qubits)}
        for inst in routed.circuit.data:
            if len(inst.qubits) == 2 and inst.operation.name not in ("barrier",):
                a, b = sorted(pos[q] for q in inst.qubits)
                if (a, b) not in coupled:
                    return LogicResult(
                        0.0, f"routed gate {inst.operation.name} on uncoupled ({a}, {b})", routed
                    )
    return LogicResult(1.0, None, routed)
