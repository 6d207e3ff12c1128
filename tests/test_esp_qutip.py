"""The density-matrix check (qenv.execution.density): channels against closed forms and
qutip's own tools, single-error circuits against exact values, and ESP against the
simulation on a grid of circuits and devices."""

from __future__ import annotations

import numpy as np
import pytest
import qutip as qt
from qiskit import QuantumCircuit
from test_execution_routing import D1, line_spec, long_range_circuit

from qenv.execution import esp, route, summarize
from qenv.execution.density import (
    agreement,
    apply_superop,
    depolarizing_kraus,
    depolarizing_parameter,
    depolarizing_superop,
    noisy_outcome,
    relaxation_superop,
    simulate_noisy,
    validate_esp,
    validation_circuits,
    validation_devices,
)
from qenv.hardware import Calibration


def calibration(
    n: int = 5,
    *,
    e1: float = 0.0,
    e2: float = 0.0,
    ro: float = 0.0,
    t1: float = np.inf,
    t2: float = np.inf,
) -> Calibration:
    return Calibration(
        t1_s=np.full(n, t1),
        t2_s=np.full(n, t2),
        readout_error=np.full(n, ro),
        gate_error_1q=np.full(n, e1),
        gate_error_2q=np.full(n - 1, e2),
    )


# --------------------------------------------------------------------------- channels


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("error", [0.0, 1e-3, 0.05, 0.3])
def test_depolarizing_channel_has_the_requested_average_infidelity(k: int, error: float) -> None:
    d = 2**k
    p = depolarizing_parameter(error, k)
    assert p == pytest.approx(error * d / (d - 1))
    channel = depolarizing_superop(error, k)
    # qutip's average gate fidelity of the channel (Nielsen 2002) is 1 − ε
    assert qt.average_gate_fidelity(channel) == pytest.approx(1.0 - error, abs=1e-12)
    # closed form on a random state: (1 − p)ρ + p·I/d
    rho = qt.rand_dm([2] * k, seed=k)
    out = qt.vector_to_operator(channel @ qt.operator_to_vector(rho))
    expected = (1 - p) * rho.full() + p * np.eye(d) / d
    np.testing.assert_allclose(out.full(), expected, atol=1e-12)
    assert len(depolarizing_kraus(error, k)) == (1 if error == 0.0 else 4**k)


def test_depolarizing_rejects_errors_beyond_full_depolarization() -> None:
    with pytest.raises(ValueError, match="error must lie in"):
        depolarizing_parameter(0.6, 1)  # > (d − 1)/d = 0.5


@pytest.mark.parametrize(("t1", "t2"), [(50e-6, 30e-6), (50e-6, 100e-6), (40e-6, np.inf)])
def test_relaxation_matches_closed_forms(t1: float, t2: float) -> None:
    if t2 > 2 * t1:
        t2 = 2 * t1
    t = 17e-6
    one = qt.basis(2, 1).proj()
    out = qt.vector_to_operator(relaxation_superop(t, t1, t2) @ qt.operator_to_vector(one))
    assert out.full()[1, 1].real == pytest.approx(np.exp(-t / t1), rel=1e-10)
    plus = (qt.basis(2, 0) + qt.basis(2, 1)).unit().proj()
    out = qt.vector_to_operator(relaxation_superop(t, t1, t2) @ qt.operator_to_vector(plus))
    assert abs(out.full()[0, 1]) == pytest.approx(0.5 * np.exp(-t / t2), rel=1e-10)


def test_relaxation_matches_mesolve_and_infinite_times_do_nothing() -> None:
    t1, t2, t = 60e-6, 45e-6, 25e-6
    rho0 = qt.rand_dm(2, seed=3)
    t_phi = 1.0 / (1.0 / t2 - 0.5 / t1)
    c_ops = [np.sqrt(1 / t1) * qt.destroy(2), np.sqrt(1 / (2 * t_phi)) * qt.sigmaz()]
    ref = qt.mesolve(qt.qzero(2), rho0, [0.0, t], c_ops, options={"atol": 1e-12, "rtol": 1e-10})
    out = qt.vector_to_operator(relaxation_superop(t, t1, t2) @ qt.operator_to_vector(rho0))
    np.testing.assert_allclose(out.full(), ref.states[-1].full(), atol=1e-8)
    ident = relaxation_superop(t, np.inf, np.inf)
    np.testing.assert_allclose(ident.full(), np.eye(4), atol=1e-15)


@pytest.mark.parametrize("targets", [[2, 0], [1], [0, 1]])
def test_apply_superop_agrees_with_qutip_on_the_full_register(targets: list[int]) -> None:
    n, k = 3, len(targets)
    rho = qt.rand_dm([2] * n, seed=11)
    channel = qt.rand_super_bcsz([2] * k, seed=5)
    kraus = qt.to_kraus(channel)
    expected = sum(
        qt.expand_operator(kk, dims=[2] * n, targets=targets)
        @ rho
        @ qt.expand_operator(kk, dims=[2] * n, targets=targets).dag()
        for kk in kraus
    )
    got = apply_superop(rho.full().reshape((2,) * (2 * n)), channel, targets)
    np.testing.assert_allclose(got.reshape(2**n, 2**n), expected.full(), atol=1e-12)


# --------------------------------------------------------------------------- simulation


def test_perfect_device_reproduces_the_ideal_state() -> None:
    """No noise: fidelity 1 with qiskit's Statevector (checks qubit order and layout)."""
    spec = line_spec().with_calibration(calibration())
    qc = long_range_circuit(measure=False)
    qc.ry(0.4, 2)
    qc.rz(0.9, 4)
    qc.sx(1)
    qc.measure_all()
    routed = route(qc, spec, seed=1)
    outcome = noisy_outcome(routed, spec)
    assert outcome.state_fidelity == pytest.approx(1.0, abs=1e-10)
    assert outcome.hellinger_fidelity == pytest.approx(1.0, abs=1e-10)
    assert outcome.success == pytest.approx(1.0, abs=1e-10) == esp(routed, spec.calibration)


@pytest.mark.parametrize("gate", ["sx", "ecr"])
def test_one_noisy_gate_lowers_fidelity_by_its_error(gate: str) -> None:
    """A depolarizing channel with p = ε·d/(d−1) on a pure state: fidelity exactly 1 − ε."""
    error = 0.03
    cal = calibration(e1=error) if gate == "sx" else calibration(e2=error)
    spec = line_spec().with_calibration(cal)
    qc = QuantumCircuit(2, 2)
    qc.sx(0) if gate == "sx" else qc.ecr(0, 1)
    qc.measure([0, 1], [0, 1]) if gate == "ecr" else qc.measure(0, 0)
    routed = summarize(qc, spec)
    assert simulate_noisy(routed, spec) == pytest.approx(1.0 - error, rel=1e-12)
    assert esp(routed, spec.calibration) == pytest.approx(1.0 - error, rel=1e-12)


def test_idle_decay_and_readout_flip_of_an_excited_qubit() -> None:
    t1, t_idle, ro = 50e-6, 2e-6, 0.1
    spec = line_spec().with_calibration(calibration(ro=ro, t1=t1, t2=2 * t1))
    qc = QuantumCircuit(1, 1)
    qc.x(0)
    qc.delay(t_idle, 0, unit="s")
    qc.measure(0, 0)
    routed = summarize(qc, spec)
    out = noisy_outcome(routed, spec)
    decay = np.exp(-t_idle / t1)  # ⟨1|ρ|1⟩ after the idle window
    assert out.state_fidelity == pytest.approx(decay, rel=1e-10)
    assert out.readout_survival == pytest.approx(1 - ro)
    assert out.success == pytest.approx(decay * (1 - ro), rel=1e-10)
    # P(read 1) = decay·(1 − ro) + (1 − decay)·ro; the ideal outcome is always 1
    assert out.hellinger_fidelity == pytest.approx(decay * (1 - ro) + (1 - decay) * ro)
    # ESP charges the same window at the rate 1/min(T1, T2) = 1/T1 here
    assert esp(routed, spec.calibration) == pytest.approx(decay * (1 - ro), rel=1e-10)
    # waiting in |0⟩ does not decay, but MQT Predictor's idle time (and so ESP) counts it
    late = QuantumCircuit(2, 2)
    late.sx(1)
    late.ecr(1, 0)  # qubit 0 waits D1 in |0⟩ for the ecr
    late.measure([0, 1], [0, 1])
    routed_late = summarize(late, spec)
    assert routed_late.idle_s[0] == pytest.approx(D1)
    assert noisy_outcome(routed_late, spec).state_fidelity == pytest.approx(1.0, abs=1e-12)
    assert esp(routed_late, spec.calibration) == pytest.approx(
        np.exp(-D1 / t1) * (1 - ro) ** 2, rel=1e-10
    )


def test_simulation_rejects_mid_circuit_measurements_and_wide_circuits() -> None:
    spec = line_spec().with_calibration(calibration())
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    qc.x(0)
    with pytest.raises(ValueError, match="used after its measurement"):
        noisy_outcome(summarize(qc, spec), spec)
    wide = QuantumCircuit(5)
    wide.sx(range(5))
    with pytest.raises(ValueError, match=r"touches 5 qubits .* max_qubits=4"):
        noisy_outcome(summarize(wide, spec), spec, max_qubits=4)


# --------------------------------------------------------------------------- ESP vs qutip


def test_esp_ranks_like_the_density_matrix_on_the_validation_grid() -> None:
    """8 circuits (GHZ-3/4/5, QFT-3/4, QAOA-4/5, HEA-4) × 4 devices (IBM Nairobi, IonQ Aria,
    the photonic device, Nairobi with ×10 noise), as ``bench/esp_validation.py``."""
    circuits = validation_circuits()
    points = validate_esp(circuits, validation_devices())
    assert len(points) == 32
    summary = agreement(points)
    assert summary["spearman"] >= 0.9, summary
    assert summary["mean_abs_diff"] <= 0.1, summary
    # both put every circuit's worst device on the synthetic ×10-noise Nairobi
    for name in circuits:
        row = [p for p in points if p.circuit == name]
        assert min(row, key=lambda p: p.esp).device == "ibm_nairobi_x10"
        assert min(row, key=lambda p: p.success).device == "ibm_nairobi_x10"
