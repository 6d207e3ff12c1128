"""Density-matrix check of the ESP: a routed circuit under explicit noise channels (qutip).

:func:`simulate_noisy` runs a routed circuit, restricted to its active qubits (at most
``max_qubits``, 7 by default), as a density matrix through the ASAP schedule of
:func:`qenv.execution.routing.asap_schedule`, with the noise the ESP summarises:

* every gate is followed by a depolarizing channel on its qubits,
  ρ → (1 − p)·ρ + p·Tr_g(ρ) ⊗ I/d with d = 2^k for a k-qubit gate. The calibration gives
  the *average gate infidelity* ε (what randomized benchmarking reports); for a
  depolarizing channel ε = p·(d − 1)/d (Nielsen, "A simple formula for the average gate
  fidelity of a quantum dynamical operation", Phys. Lett. A 303, 249, 2002), so
  p = ε·d/(d − 1). Virtual gates carry no channel;
* every idle window of a qubit in the schedule (before its first operation, between
  operations, during a ``delay``, and after its last gate up to the makespan for an
  unmeasured qubit) is the Lindblad evolution exp(𝓛t) with jump operators √(1/T1)·σ₋
  (amplitude damping) and √(1/(2Tφ))·σz (pure dephasing), 1/T2 = 1/(2T1) + 1/Tφ, so
  ⟨1|ρ|1⟩ decays as e^{−t/T1} and coherences as e^{−t/T2} (Nielsen & Chuang §8.3);
* a measurement reports the wrong bit with the readout error (a classical bit flip on the
  output distribution). Measurements must be terminal: nothing may act on a measured qubit.

qutip builds and composes every channel: gate unitaries become superoperators
(``to_super``), depolarizing channels come from their Pauli Kraus operators
(``kraus_to_super``), idle channels are the exponential of qutip's ``liouvillian``; a
tensor contraction then applies each k-qubit superoperator to its qubits of the register
(tests compare it with qutip's own ``expand_operator`` on the full register). The ideal
state comes from qiskit's ``Statevector`` of the same routed circuit, an independent
simulator.

Success metric (:attr:`NoisyOutcome.success`): the fidelity ⟨ψ|ρ|ψ⟩ of the noisy state
with the ideal one, times the readout survival Π_{q measured}(1 − ε_ro[q]). Chosen over
the classical (Hellinger) fidelity of the output distributions because (i) it sees every
error — QFT on |0…0⟩ outputs the uniform distribution, whose classical fidelity stays 1
under any depolarization, and dephasing of a GHZ state leaves its Z-basis distribution
unchanged; (ii) a depolarizing channel with p = ε·d/(d − 1) lowers it by exactly ε, the
factor ESP charges per gate, when the gate's qubits are not entangled with the rest (ε is
an average over such inputs), and by up to ε·(d + 1)/d when they are maximally entangled.
ESP and this metric therefore differ only where ESP's product of independent error
probabilities is an approximation: that entanglement factor, errors compounding on
already mixed states, idle time spent in |0⟩ (no decay, but counted by MQT Predictor's
idle time) and e^{−t/min(T1,T2)} versus the true Lindblad decay. The Hellinger fidelity
with the bit flips applied is reported beside it (:attr:`NoisyOutcome.hellinger_fidelity`).

Units: seconds, probabilities. Imports no gymnasium, pettingzoo or ray.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import qutip as qt
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator, Statevector
from scipy import stats

from qenv.checks import FloatArray, check_positive_int, check_range
from qenv.execution.esp import esp
from qenv.execution.routing import RoutedCircuit, asap_schedule, route

if TYPE_CHECKING:
    from qenv.hardware import Calibration, QPUSpec

ComplexArray = npt.NDArray[np.complex128]

_PAULIS = (qt.qeye(2), qt.sigmax(), qt.sigmay(), qt.sigmaz())


# --------------------------------------------------------------------------- channels


def depolarizing_parameter(error: float, num_qubits: int) -> float:
    """p = ε·d/(d − 1), d = 2^num_qubits: the depolarizing strength of average infidelity ε."""
    check_positive_int("num_qubits", num_qubits)
    d = 2**num_qubits
    eps = float(check_range("error", error, 0.0, (d - 1) / d))
    return float(eps * d / (d - 1))


def depolarizing_kraus(error: float, num_qubits: int) -> list[qt.Qobj]:
    """Pauli Kraus operators of the depolarizing channel with average infidelity ``error``.

    ρ → (1 − p)ρ + p·I/d·Tr ρ = (1 − p·(d² − 1)/d²)·ρ + (p/d²)·Σ_{P ≠ I} PρP.
    """
    p = depolarizing_parameter(error, num_qubits)
    d2 = 4**num_qubits
    kraus = []
    for i, paulis in enumerate(itertools.product(_PAULIS, repeat=num_qubits)):
        weight = 1.0 - p * (d2 - 1) / d2 if i == 0 else p / d2
        if weight > 0.0:
            kraus.append(np.sqrt(weight) * qt.tensor(*paulis))
    return kraus


def depolarizing_superop(error: float, num_qubits: int) -> qt.Qobj:
    """Superoperator (qutip, column-stacking) of :func:`depolarizing_kraus`."""
    return qt.kraus_to_super(depolarizing_kraus(error, num_qubits))


def relaxation_superop(t_s: float, t1_s: float, t2_s: float) -> qt.Qobj:
    """Idle channel exp(𝓛t) of one qubit: amplitude damping (T1) and pure dephasing (Tφ).

    Jump operators √(1/T1)·σ₋ and √(1/(2Tφ))·σz with 1/Tφ = 1/T2 − 1/(2T1) (σ₋ = |0⟩⟨1|,
    |0⟩ the ground state); infinite times drop their operator. Requires T2 ≤ 2·T1.
    """
    t = float(check_range("t_s", t_s, 0.0))
    t1 = float(check_range("t1_s", t1_s, 0.0, low_open=True))
    t2 = float(check_range("t2_s", t2_s, 0.0, 2.0 * t1, low_open=True))
    liouvillian, vectors, rates, inverse = _liouvillian(t1, t2)
    # exp(𝓛t) = V·diag(e^{λt})·V⁻¹: 𝓛 is diagonalizable (eigenvalues 0, −1/T1, −1/T2 twice)
    # and this is ~50x cheaper than a Padé expm per idle window.
    channel = (vectors * np.exp(rates * t)) @ inverse
    return qt.Qobj(channel, dims=liouvillian.dims, superrep="super")


@lru_cache(maxsize=1024)
def _liouvillian(t1: float, t2: float) -> tuple[qt.Qobj, ComplexArray, ComplexArray, ComplexArray]:
    """qutip's Lindblad generator of the idle qubit and its eigendecomposition."""
    rate_phi = 1.0 / t2 - 0.5 / t1  # 1/Tφ; 0 when T2 = 2·T1, T2 = inf gives 1/Tφ = 0 too
    c_ops = []
    if np.isfinite(t1):
        c_ops.append(np.sqrt(1.0 / t1) * qt.destroy(2))
    if rate_phi > 0.0:
        c_ops.append(np.sqrt(rate_phi / 2.0) * qt.sigmaz())
    liouvillian = qt.liouvillian(qt.qzero(2), c_ops)
    rates, vectors = np.linalg.eig(liouvillian.full())
    return liouvillian, vectors, rates, np.linalg.inv(vectors)


def gate_superop(unitary: ComplexArray, error: float) -> qt.Qobj:
    """Superoperator of a k-qubit gate (big-endian ``unitary``) followed by depolarizing."""
    k = int(np.log2(unitary.shape[0]))
    u = qt.to_super(qt.Qobj(unitary, dims=[[2] * k, [2] * k]))
    if error == 0.0:
        return u
    return depolarizing_superop(error, k) @ u


def apply_superop(rho: ComplexArray, superop: qt.Qobj, targets: Sequence[int]) -> ComplexArray:
    """Apply a k-qubit superoperator to qubits ``targets`` of an n-qubit density matrix.

    ``rho`` has shape ``(2,)*2n`` (row axes, then column axes; qubit 0 is the first tensor
    factor, as in qutip); ``superop`` acts on column-stacked vectors (qutip's convention)
    with its qubits in the order of ``targets``. Returns a new array of the same shape.
    """
    k = len(targets)
    n = rho.ndim // 2
    tensor = superop.full().reshape((2,) * (4 * k))  # axes (col_out, row_out, col_in, row_in)
    out = np.tensordot(
        tensor,
        rho,
        axes=(
            list(range(3 * k, 4 * k)) + list(range(2 * k, 3 * k)),
            list(targets) + [n + t for t in targets],
        ),
    )
    # out: (col_out targets, row_out targets, untouched rows, untouched columns)
    moved: ComplexArray = np.moveaxis(
        out, list(range(2 * k)), [n + t for t in targets] + list(targets)
    )
    return moved


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True)
class NoisyOutcome:
    """Result of :func:`noisy_outcome` (see the module docstring for the metric)."""

    state_fidelity: float  # ⟨ψ|ρ|ψ⟩ before readout
    readout_survival: float  # Π over measured qubits of (1 − ε_ro)
    success: float  # state_fidelity · readout_survival
    hellinger_fidelity: float  # (Σ √(p_noisy·p_ideal))² of the measured bits, bit flips applied
    num_qubits: int  # active qubits simulated


def _big_endian(matrix: ComplexArray) -> ComplexArray:
    """qiskit's little-endian matrix over qargs (q0, …, qk−1) in big-endian order."""
    k = int(np.log2(matrix.shape[0]))
    rev = list(range(k))[::-1]
    tensor = matrix.reshape((2,) * (2 * k)).transpose(rev + [k + i for i in rev])
    return np.ascontiguousarray(tensor.reshape(matrix.shape))


def _ideal_state(circuit: QuantumCircuit, active: list[int]) -> ComplexArray:
    """Statevector (qiskit) of the unitary part of ``circuit`` on ``active``, big-endian."""
    local = {q: i for i, q in enumerate(active)}
    reduced = QuantumCircuit(len(active))
    for ci in circuit.data:
        if ci.operation.name in ("measure", "barrier", "delay"):
            continue
        qs = [local[circuit.find_bit(q).index] for q in ci.qubits]
        reduced.append(ci.operation, qs)
    vec = np.asarray(Statevector(reduced).data, dtype=np.complex128)
    n = len(active)
    return np.ascontiguousarray(vec.reshape((2,) * n).transpose(list(range(n))[::-1]).ravel())


def _marginal(probs: FloatArray, keep: list[int]) -> FloatArray:
    """Distribution of the qubits ``keep`` (in that order) from a big-endian one over all."""
    n = int(np.log2(probs.size))
    drop = [i for i in range(n) if i not in keep]
    tensor = probs.reshape((2,) * n).transpose(keep + drop)
    out: FloatArray = tensor.reshape((2,) * len(keep) + (-1,)).sum(axis=-1)
    return out


def _flip_bits(probs: FloatArray, errors: FloatArray) -> FloatArray:
    """Distribution (axes = measured qubits) after independent bit flips."""
    out = probs
    for axis, e in enumerate(errors):
        confusion = np.array([[1.0 - e, e], [e, 1.0 - e]])
        out = np.moveaxis(np.tensordot(confusion, out, axes=([1], [axis])), 0, axis)
    return out


def noisy_outcome(
    routed_qc: QuantumCircuit | RoutedCircuit,
    spec: QPUSpec,
    calibration: Calibration | None = None,
    *,
    max_qubits: int = 7,
) -> NoisyOutcome:
    """Simulate a routed circuit on ``spec`` under ``calibration`` (default: the snapshot).

    ``routed_qc`` is a circuit on the device's physical qubits (``RoutedCircuit.circuit``)
    or a :class:`RoutedCircuit`. Raises ``ValueError`` for more than ``max_qubits`` active
    qubits or a non-terminal measurement.
    """
    circuit = routed_qc.circuit if isinstance(routed_qc, RoutedCircuit) else routed_qc
    cal = spec.calibration if calibration is None else calibration
    check_positive_int("max_qubits", max_qubits)
    sched = asap_schedule(circuit, spec)
    active = [int(q) for q in np.flatnonzero(sched.active)]
    n = len(active)
    if n > max_qubits:
        raise ValueError(
            f"circuit touches {n} qubits of {spec.name}; the density matrix is limited to "
            f"max_qubits={max_qubits}"
        )
    local = {q: i for i, q in enumerate(active)}
    e1, e2 = cal.gate_error_1q, cal.gate_error_2q
    t1, t2 = cal.t1_s, cal.t2_s

    rho = np.zeros((2**n, 2**n), dtype=np.complex128)
    rho[0, 0] = 1.0
    rho = rho.reshape((2,) * (2 * n))
    free = dict.fromkeys(active, 0.0)
    measured: list[int] = []

    def idle(q: int, until: float) -> None:
        nonlocal rho
        gap = until - free[q]
        if gap > 0.0 and min(t1[q], t2[q]) < np.inf:
            rho = apply_superop(rho, relaxation_superop(gap, t1[q], t2[q]), [local[q]])
        free[q] = max(free[q], until)

    superops: dict[tuple[Any, ...], qt.Qobj] = {}  # (gate, params, error) -> channel
    for op in sched.ops:
        if op.kind in ("barrier", "delay"):
            continue  # a delay is idle time: the next operation's gap covers it
        for q in op.qubits:
            if q in measured:
                raise ValueError(
                    f"instruction {op.position}: qubit {q} is used after its measurement; "
                    "only terminal measurements are simulated"
                )
            idle(q, op.start_s)
        if op.kind == "measure":
            measured.append(op.qubits[0])
            continue
        instr = circuit.data[op.position].operation
        error = 0.0
        if op.kind == "1q":
            error = float(e1[op.resource])
        elif op.kind == "2q":
            error = float(e2[op.resource])
        key = (instr.name, tuple(float(p) for p in instr.params), error)
        if key not in superops:
            unitary = _big_endian(np.asarray(Operator(instr).data, dtype=np.complex128))
            superops[key] = gate_superop(unitary, error)
        rho = apply_superop(rho, superops[key], [local[q] for q in op.qubits])
        for q in op.qubits:
            free[q] = op.start_s + op.duration_s
    for q in active:
        if q not in measured:
            idle(q, sched.makespan_s)

    psi = _ideal_state(circuit, active)
    rho_q = qt.Qobj(rho.reshape(2**n, 2**n), dims=[[2] * n, [2] * n])
    ket = qt.Qobj(psi, dims=[[2] * n, [1] * n])
    fidelity = float(np.real(qt.expect(rho_q, ket)))

    ro = np.array([cal.readout_error[q] for q in measured], dtype=np.float64)
    survival = float(np.prod(1.0 - ro))
    keep = [local[q] for q in measured]
    diag = np.clip(np.real(np.diagonal(rho.reshape(2**n, 2**n))), 0.0, None)
    p_noisy = _flip_bits(_marginal(diag, keep), ro)
    p_ideal = _marginal(np.abs(psi) ** 2, keep)
    hellinger = float(np.sum(np.sqrt(p_noisy * p_ideal)) ** 2)
    return NoisyOutcome(
        state_fidelity=fidelity,
        readout_survival=survival,
        success=fidelity * survival,
        hellinger_fidelity=hellinger,
        num_qubits=n,
    )


def simulate_noisy(
    routed_qc: QuantumCircuit | RoutedCircuit,
    spec: QPUSpec,
    calibration: Calibration | None = None,
) -> float:
    """Success metric of the density-matrix simulation (:attr:`NoisyOutcome.success`)."""
    return noisy_outcome(routed_qc, spec, calibration).success


# --------------------------------------------------------------------------- validation


def scaled_noise(spec: QPUSpec, factor: float, name: str | None = None) -> QPUSpec:
    """``spec`` with every error × ``factor`` (capped at 0.5) and T1, T2 ÷ ``factor``.

    A synthetic device that widens the range of success probabilities in the validation;
    it gets its own name (default ``<name>_x<factor>``) so caches keep it apart.
    """
    f = float(check_range("factor", factor, 0.0, low_open=True))
    cal = spec.calibration
    from qenv.hardware import Calibration

    def worse(err: FloatArray) -> FloatArray:
        return np.minimum(err * f, 0.5)

    new_cal = Calibration(
        t1_s=cal.t1_s / f,
        t2_s=cal.t2_s / f,
        readout_error=worse(cal.readout_error),
        gate_error_1q=worse(cal.gate_error_1q),
        gate_error_2q=worse(cal.gate_error_2q),
        version=cal.version,
    )
    return dataclasses.replace(
        spec, name=name or f"{spec.name}_x{f:g}", calibration=new_cal, synthetic=True
    )


def validation_circuits(seed: int = 0, *, large: bool = True) -> dict[str, QuantumCircuit]:
    """The validation suite from :mod:`qenv.tasks.circuits`: GHZ-3/4/5, QFT-3/4 (on
    |0…0⟩), QAOA MaxCut on random 4- and 5-node graphs and a 4-qubit hardware-efficient
    ansatz (``large=False``: GHZ-3, QFT-3, QAOA-4, HEA-3)."""
    from qenv.tasks.circuits import ghz, qaoa_maxcut, qft, vqe_hea

    rng = np.random.default_rng(seed)
    if not large:
        return {
            "ghz3": ghz(3).qc,
            "qft3": qft(3, rng=rng, x=0).qc,
            "qaoa4": qaoa_maxcut(4, 1, rng=rng).qc,
            "hea3": vqe_hea(3, 1, rng=rng).qc,
        }
    return {
        "ghz3": ghz(3).qc,
        "ghz4": ghz(4).qc,
        "ghz5": ghz(5).qc,
        "qft3": qft(3, rng=rng, x=0).qc,
        "qft4": qft(4, rng=rng, x=0).qc,
        "qaoa4": qaoa_maxcut(4, 1, rng=rng).qc,
        "qaoa5": qaoa_maxcut(5, 2, rng=rng).qc,
        "hea4": vqe_hea(4, 2, rng=rng).qc,
    }


def validation_devices() -> list[QPUSpec]:
    """IBM Nairobi (7 qubits), IonQ Aria, the photonic device, and Nairobi with 10× noise."""
    from qenv.hardware import load_qpu

    nairobi = load_qpu("ibm_nairobi")
    return [
        nairobi,
        load_qpu("ionq_aria"),
        load_qpu("photonic_synthetic"),
        scaled_noise(nairobi, 10.0),
    ]


@dataclass(frozen=True)
class ValidationPoint:
    """ESP and the density-matrix metric of one (circuit, device)."""

    circuit: str
    device: str
    esp: float
    success: float  # NoisyOutcome.success
    state_fidelity: float
    hellinger_fidelity: float
    num_qubits: int
    two_qubit_count: int
    swaps: int
    duration_s: float


def validate_esp(
    circuits: Mapping[str, QuantumCircuit], specs: Sequence[QPUSpec], *, seed: int = 0
) -> list[ValidationPoint]:
    """Route every circuit on every device and compare ESP with :func:`noisy_outcome`."""
    points = []
    for spec in specs:
        for name, circuit in circuits.items():
            routed = route(circuit, spec, seed=seed)
            outcome = noisy_outcome(routed, spec)
            points.append(
                ValidationPoint(
                    circuit=name,
                    device=spec.name,
                    esp=esp(routed, spec.calibration),
                    success=outcome.success,
                    state_fidelity=outcome.state_fidelity,
                    hellinger_fidelity=outcome.hellinger_fidelity,
                    num_qubits=outcome.num_qubits,
                    two_qubit_count=routed.two_qubit_count,
                    swaps=routed.swaps,
                    duration_s=routed.duration_s,
                )
            )
    return points


def agreement(points: Sequence[ValidationPoint]) -> dict[str, float]:
    """Spearman rank correlation and mean / max absolute difference of ESP and success."""
    if len(points) < 3:
        raise ValueError(f"points must hold at least 3 entries, got {len(points)}")
    a = np.array([p.esp for p in points])
    b = np.array([p.success for p in points])
    rho = float(stats.spearmanr(a, b).statistic)
    diff = np.abs(a - b)
    return {
        "spearman": rho,
        "mean_abs_diff": float(diff.mean()),
        "max_abs_diff": float(diff.max()),
        "mean_diff_esp_minus_sim": float((a - b).mean()),
        "points": float(len(points)),
    }
