"""③-5 ΔRepro: agreement of the output distribution from two independent simulators.

ΔRepro(circuit, QPU) = 1 − TVD(P_qiskit, P_qutip), TVD(P, Q) = ½ Σ_x |P(x) − Q(x)|, over the
circuit's classical bits:

* **P_qiskit** — qiskit's ``Statevector`` of the *logical* circuit (as submitted; final
  measurements stripped, then the Born probabilities of the measured qubits in clbit
  order);
* **P_qutip** — a second simulator on the *compiled* circuit the QPU would run (routed on
  its coupling map and translated to its basis by :class:`qenv.execution.Router`,
  restricted to its active physical qubits): every gate's unitary is built with qutip from
  its own definition (:func:`qutip_gate`: Pauli rotations ``(−iθ/2·P).expm()``, projector
  sums for the controlled gates, ECR as (X⊗I − Y⊗X)/√2, …; never from qiskit's matrices),
  applied to the state tensor by a tensor contraction, and the measured qubits read out
  through the routed circuit's own measurements (so the final layout is respected).

The two agree (ΔRepro ≈ 1) when the compilation preserved the circuit's semantics and
both simulators are right; a difference flags a compilation problem or a gate whose
conventions differ. It is ideal (noise-free) on purpose: the noise is QNC's.
Documented zeros (with a ``reason``): a circuit with a use after measurement or a
non-unitary operation, a compiled circuit with more than ``repro.max_qubits`` active
qubits (16 by default: the dense state is 2^n amplitudes), or a gate without a qutip
model. Cached per (circuit key, device structure) in the process and on disk
(:mod:`qenv.scoring.diskcache`); independent of the calibration.
"""

from __future__ import annotations

import cmath
import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from qiskit import QuantumCircuit

from qenv.execution import RoutedCircuit, Router
from qenv.execution.routing import LRUCache, spec_fingerprint
from qenv.hardware import QPUSpec
from qenv.scoring import diskcache
from qenv.scoring.logic import ROUTER, use_after_measurement
from qenv.tasks import Circuit

__all__ = [
    "ReproResult",
    "qiskit_distribution",
    "qutip_distribution",
    "qutip_gate",
    "repro_score",
    "tvd",
]

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

_SKIP: Final = frozenset({"barrier", "delay"})
_CACHE = LRUCache(16384)
_LOGICAL = LRUCache(4096)


class UnsupportedGate(ValueError):
    """A gate without a qutip model in :func:`qutip_gate`."""


@dataclass(frozen=True)
class ReproResult:
    """ΔRepro and why it is 0 when it could not be computed."""

    score: float
    tvd: float  # nan when not computed
    reason: str | None = None


# --------------------------------------------------------------------------- qutip gates
@functools.cache
def _gates() -> dict[str, Callable[..., Any]]:
    """Gate name -> qutip constructor (qutip is imported on first use: it is slow to load)."""
    import qutip as qt

    x, y, z, eye2 = qt.sigmax(), qt.sigmay(), qt.sigmaz(), qt.qeye(2)

    def rot(pauli: Any, theta: float) -> Any:
        """exp(−iθ/2·P) = cos(θ/2)·I − i·sin(θ/2)·P for a Pauli string P (P² = I)."""
        return math.cos(theta / 2) * qt.qeye(pauli.dims[0]) - 1j * math.sin(theta / 2) * pauli

    def proj(bit: int) -> Any:
        return qt.basis(2, bit) * qt.basis(2, bit).dag()

    def controlled(u: Any) -> Any:
        return qt.tensor(proj(0), qt.qeye(u.dims[0])) + qt.tensor(proj(1), u)

    def phase(lam: float) -> Any:
        return qt.Qobj(np.diag([1.0, cmath.exp(1j * lam)]))

    def u3(theta: float, phi: float, lam: float) -> Any:
        c, s = math.cos(theta / 2), math.sin(theta / 2)
        return qt.Qobj(
            np.array(
                [
                    [c, -cmath.exp(1j * lam) * s],
                    [cmath.exp(1j * phi) * s, cmath.exp(1j * (phi + lam)) * c],
                ]
            )
        )

    return {
        "id": lambda: eye2,
        "x": lambda: x,
        "y": lambda: y,
        "z": lambda: z,
        "h": lambda: (x + z) / math.sqrt(2.0),
        "s": lambda: phase(math.pi / 2),
        "sdg": lambda: phase(-math.pi / 2),
        "t": lambda: phase(math.pi / 4),
        "tdg": lambda: phase(-math.pi / 4),
        "sx": lambda: rot(x, math.pi / 2),  # = SX up to a global phase
        "sxdg": lambda: rot(x, -math.pi / 2),
        "rx": lambda t: rot(x, t),
        "ry": lambda t: rot(y, t),
        "rz": lambda t: rot(z, t),
        "p": phase,
        "u1": phase,
        "u": u3,
        "u3": u3,
        "cx": lambda: controlled(x),
        "cy": lambda: controlled(y),
        "cz": lambda: controlled(z),
        "cp": lambda lam: controlled(phase(lam)),
        "swap": lambda: qt.Qobj(np.eye(4)[[0, 2, 1, 3]], dims=[[2, 2], [2, 2]]),
        # Qiskit's ECR = (IX − XY)/√2 in its little-endian labels: X on the first qubit,
        # and Y on the first with X on the second.
        "ecr": lambda: (qt.tensor(x, eye2) - qt.tensor(y, x)) / math.sqrt(2.0),
        "rxx": lambda t: rot(qt.tensor(x, x), t),
        "ryy": lambda t: rot(qt.tensor(y, y), t),
        "rzz": lambda t: rot(qt.tensor(z, z), t),
        "ccx": lambda: qt.tensor(proj(0), qt.qeye([2, 2])) + qt.tensor(proj(1), controlled(x)),
    }


@functools.lru_cache(maxsize=8192)
def _gate_matrix(name: str, params: tuple[float, ...]) -> ComplexArray:
    maker = _gates().get(name)
    if maker is None:
        raise UnsupportedGate(f"gate {name!r} has no qutip model")
    try:
        op = maker(*params)
    except TypeError as exc:
        raise UnsupportedGate(f"gate {name!r}: unexpected parameters {params}") from exc
    out: ComplexArray = np.ascontiguousarray(op.full(), dtype=np.complex128)
    out.flags.writeable = False
    return out


def qutip_gate(name: str, params: Sequence[float] = ()) -> ComplexArray:
    """Unitary of gate ``name`` built with qutip, with the first qubit argument as the
    *most* significant tensor factor (big-endian over the gate's qubits)."""
    return _gate_matrix(str(name), tuple(float(p) for p in params))


# --------------------------------------------------------------------------- simulators
def _measure_map(qc: QuantumCircuit) -> dict[int, int]:
    """clbit index -> qubit index of the last measurement writing it."""
    out: dict[int, int] = {}
    for inst in qc.data:
        if inst.operation.name == "measure":
            for q, c in zip(inst.qubits, inst.clbits, strict=True):
                out[qc.find_bit(c).index] = qc.find_bit(q).index
    return out


def qiskit_distribution(qc: QuantumCircuit) -> tuple[tuple[int, ...], FloatArray]:
    """(measured clbits in ascending order, their distribution) from qiskit's Statevector.

    Index of an outcome: Σ_i bit(clbits[i])·2^i. Raises ``ValueError`` for a use after
    measurement or a non-unitary operation.
    """
    from qiskit.quantum_info import Statevector

    reason = use_after_measurement(qc)
    if reason is not None:
        raise ValueError(reason)
    cmap = _measure_map(qc)
    if not cmap:
        raise ValueError("the circuit measures nothing")
    body = QuantumCircuit(*qc.qregs)
    for inst in qc.data:
        name = inst.operation.name
        if name in ("measure", "barrier", "delay"):
            continue
        if name == "reset" or inst.clbits:
            raise ValueError(f"non-unitary operation {name!r}")
        body.append(inst.operation, inst.qubits)
    clbits = tuple(sorted(cmap))
    probs = Statevector(body).probabilities([cmap[c] for c in clbits])
    return clbits, np.asarray(probs, dtype=np.float64)


def _apply(psi: ComplexArray, u: ComplexArray, targets: list[int], n: int) -> ComplexArray:
    """``u`` (big-endian over ``targets``) applied to the flat state ``psi`` of n qubits,
    axis i of the (2,)*n view being qubit i."""
    if len(targets) == 1:
        t = targets[0]
        view = psi.reshape(2**t, 2, -1)
        a, b = view[:, 0, :], view[:, 1, :]
        out = np.empty_like(view)
        out[:, 0, :] = u[0, 0] * a + u[0, 1] * b
        out[:, 1, :] = u[1, 0] * a + u[1, 1] * b
        return out.reshape(-1)
    k = len(targets)
    front = np.ascontiguousarray(np.moveaxis(psi.reshape((2,) * n), targets, list(range(k))))
    flat = front.reshape(2**k, -1)
    # A broadcast sum, not BLAS: multithreaded zgemm on thin matrices is slower here.
    front = (u[:, :, None] * flat[None, :, :]).sum(axis=1).reshape(front.shape)
    return np.ascontiguousarray(np.moveaxis(front, list(range(k)), targets)).reshape(-1)


def qutip_distribution(
    qc: QuantumCircuit, max_qubits: int = 16
) -> tuple[tuple[int, ...], FloatArray]:
    """(measured clbits, distribution) of ``qc`` with qutip-built gates (module docstring),
    simulated on its active qubits only. Raises ``ValueError`` (too many active qubits, a
    use after measurement, a non-unitary operation) or :class:`UnsupportedGate`."""
    reason = use_after_measurement(qc)
    if reason is not None:
        raise ValueError(reason)
    active: list[int] = []
    seen: set[int] = set()
    for inst in qc.data:
        if inst.operation.name in _SKIP:
            continue
        for q in inst.qubits:
            i = qc.find_bit(q).index
            if i not in seen:
                seen.add(i)
                active.append(i)
    active.sort()
    n = len(active)
    if n > max_qubits:
        raise ValueError(f"{n} active qubits > repro.max_qubits = {max_qubits}")
    local = {q: i for i, q in enumerate(active)}
    psi = np.zeros(2**n, dtype=np.complex128)
    psi[0] = 1.0
    # Runs of one-qubit gates are multiplied into one matrix per qubit (pending) and
    # applied when a multi-qubit gate touches the qubit, or at the end.
    pending: dict[int, ComplexArray] = {}
    for inst in qc.data:
        op = inst.operation
        name = op.name
        if name in _SKIP or name == "measure":
            continue
        if name == "reset" or inst.clbits:
            raise ValueError(f"non-unitary operation {name!r}")
        u = qutip_gate(name, tuple(float(p) for p in op.params))
        targets = [local[qc.find_bit(q).index] for q in inst.qubits]
        if len(targets) == 1:
            t = targets[0]
            pending[t] = u @ pending[t] if t in pending else u
            continue
        for t in targets:
            if t in pending:
                psi = _apply(psi, pending.pop(t), [t], n)
        psi = _apply(psi, u, targets, n)
    for t, u in pending.items():
        psi = _apply(psi, u, [t], n)
    psi = psi.reshape((2,) * n)
    cmap = _measure_map(qc)
    if not cmap:
        raise ValueError("the circuit measures nothing")
    clbits = tuple(sorted(cmap))
    probs = np.abs(psi) ** 2
    axes = [local[cmap[c]] for c in clbits]
    if len(set(axes)) != len(axes):
        raise ValueError("two classical bits read the same qubit")
    rest = [a for a in range(n) if a not in axes]
    marg = probs.sum(axis=tuple(rest)) if rest else probs
    # marg's axes are the kept axes in increasing order; put clbits[-1] first (big-endian).
    kept = sorted(axes)
    order = [kept.index(a) for a in reversed(axes)]
    dist = np.transpose(marg, order).reshape(-1)
    return clbits, np.asarray(dist, dtype=np.float64)


def tvd(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Total variation distance ½ Σ |p − q| of two distributions on the same outcomes."""
    a = np.asarray(p, dtype=np.float64)
    b = np.asarray(q, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"distributions differ in shape: {a.shape} and {b.shape}")
    return float(0.5 * np.abs(a - b).sum())


# --------------------------------------------------------------------------- score
def _logical(circuit: Circuit) -> Any:
    def make() -> Any:
        try:
            return qiskit_distribution(circuit.qc)
        except Exception as exc:  # the logical circuit cannot be simulated
            return f"qiskit Statevector: {type(exc).__name__}: {exc}"

    return _LOGICAL.get_or_make(circuit.key, make)


def repro_score(
    circuit: Circuit,
    spec: QPUSpec,
    *,
    routed: RoutedCircuit | None = None,
    router: Router | None = None,
    max_qubits: int = 16,
) -> ReproResult:
    """ΔRepro of ``circuit`` compiled for ``spec`` (module docstring); never raises on a
    circuit that cannot be compared, returns 0 and the reason."""
    key = (circuit.key, spec_fingerprint(spec, calibration=False), int(max_qubits))

    def make() -> ReproResult:
        logical = _logical(circuit)
        if isinstance(logical, str):
            return ReproResult(0.0, math.nan, logical)
        clbits_a, p = logical
        try:
            compiled = routed or (router or ROUTER).route(circuit.key, circuit.qc, spec)
        except Exception as exc:
            return ReproResult(0.0, math.nan, f"routing failed: {type(exc).__name__}: {exc}")
        try:
            clbits_b, q = qutip_distribution(compiled.circuit, max_qubits)
        except (ValueError, IndexError) as exc:
            return ReproResult(0.0, math.nan, f"qutip simulation: {exc}")
        if clbits_a != clbits_b:
            return ReproResult(
                0.0, math.nan, f"measured clbits differ: {clbits_a} vs {clbits_b} after compiling"
            )
        d = tvd(p, q)
        return ReproResult(float(np.clip(1.0 - d, 0.0, 1.0)), d, None)

    def cached() -> ReproResult:
        disk_key = [circuit.key, list(map(str, key[1])), int(max_qubits)]
        stored = diskcache.get("repro", disk_key)
        if stored is not None:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                return ReproResult(float(stored["score"]), float(stored["tvd"]), stored["reason"])
        result = make()
        if routed is None or result.reason is None:  # a routed circuit given: its own key
            diskcache.put("repro", disk_key, dataclasses.asdict(result))
        return result

    result: ReproResult = _CACHE.get_or_make(key, cached)
    return result
