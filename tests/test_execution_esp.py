"""Estimated success probability (qenv.execution.esp) against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from test_execution_routing import D1, D2, DRO, line_spec, long_range_circuit

from qenv.execution import (
    EspCache,
    esp,
    log_esp,
    log_esp_many,
    route,
    summarize,
    target_for,
)
from qenv.hardware import Calibration


def calibration(
    n: int = 5,
    *,
    e1: float | np.ndarray = 0.0,
    e2: float | np.ndarray = 0.0,
    ro: float | np.ndarray = 0.0,
    t1: float | np.ndarray = np.inf,
    t2: float | np.ndarray = np.inf,
    version: int = 0,
) -> Calibration:
    def full(x: float | np.ndarray, k: int) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=float), (k,)).copy()

    return Calibration(
        t1_s=full(t1, n),
        t2_s=full(t2, n),
        readout_error=full(ro, n),
        gate_error_1q=full(e1, n),
        gate_error_2q=full(e2, n - 1),
        version=version,
    )


def test_empty_circuit_has_esp_one() -> None:
    spec = line_spec()
    routed = route(QuantumCircuit(3), spec)
    assert routed.two_qubit_count == 0 and not routed.active.any()
    assert esp(routed, spec.calibration) == 1.0
    assert log_esp(routed, spec.calibration) == 0.0


def test_one_cx_on_a_perfect_device_costs_only_readout() -> None:
    ro = np.array([0.01, 0.03, 0.05, 0.02, 0.04])
    spec = line_spec().with_calibration(calibration(ro=ro))
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    routed = route(qc, spec)
    assert routed.two_qubit_count == 1 and routed.n_1q.sum() > 0  # gates are there, free
    measured = np.flatnonzero(routed.measured)
    assert measured.size == 2
    assert esp(routed, spec.calibration) == pytest.approx(np.prod(1.0 - ro[measured]), rel=1e-12)


def test_idle_term_matches_a_hand_computed_two_qubit_schedule() -> None:
    """q0: sx, ecr, measure; q1: ecr, sx, sx, sx, measure. Only idle decay (no gate errors).

    ASAP: sx(0) [0, D1]; ecr [D1, D1+D2]; q1's three sx end at D1+D2+3·D1; measurements
    last DRO. q0 idles 0 (measured right after the ecr); q1 waits D1 for the ecr to start.
    """
    t1 = np.array([50e-6, 70e-6, 1.0, 1.0, 1.0])
    t2 = np.array([60e-6, 30e-6, 1.0, 1.0, 1.0])
    spec = line_spec().with_calibration(calibration(t1=t1, t2=t2))

    def circuit(measured: list[int]) -> QuantumCircuit:
        qc = QuantumCircuit(2, 2)
        qc.sx(0)
        qc.ecr(0, 1)
        for _ in range(3):
            qc.sx(1)
        qc.measure(measured, measured)
        return qc

    routed = summarize(circuit([0, 1]), spec)
    busy = np.array([D1 + D2 + DRO, D2 + 3 * D1 + DRO])
    live_end = np.array([D1 + D2 + DRO, D1 + D2 + 3 * D1 + DRO])
    idle = live_end - busy
    np.testing.assert_allclose(idle, [0.0, D1], atol=1e-18)
    expected = -idle[0] / min(t1[0], t2[0]) - idle[1] / min(t1[1], t2[1])
    assert log_esp(routed, spec.calibration) == pytest.approx(expected, rel=1e-12)
    # an unmeasured qubit idles until the makespan instead (here q0's measurement end)
    routed2 = summarize(circuit([0]), spec)
    makespan = D1 + D2 + DRO
    idle_q1 = makespan - (D2 + 3 * D1)
    assert routed2.idle_s[1] == pytest.approx(idle_q1)
    assert log_esp(routed2, spec.calibration) == pytest.approx(-idle_q1 / 30e-6, rel=1e-12)


def test_esp_equals_the_product_over_instructions_of_the_target_errors() -> None:
    """Independent check: Π (1 − error) over the routed circuit's instructions, read from
    the qiskit Target (as MQT Predictor's expected_fidelity does), times the idle factor."""
    rng = np.random.default_rng(7)
    cal = calibration(
        e1=rng.uniform(1e-4, 1e-3, 5),
        e2=rng.uniform(5e-3, 3e-2, 4),
        ro=rng.uniform(0.01, 0.05, 5),
        t1=rng.uniform(50e-6, 150e-6, 5),
        t2=rng.uniform(40e-6, 90e-6, 5),
        version=3,
    )
    spec = line_spec().with_calibration(cal)
    routed = route(long_range_circuit(), spec, seed=2)
    target = target_for(spec)
    product = 1.0
    for ci in routed.circuit.data:
        if ci.operation.name == "barrier":
            continue
        qargs = tuple(routed.circuit.find_bit(q).index for q in ci.qubits)
        product *= 1.0 - target[ci.operation.name][qargs].error
    idle = np.exp(-np.sum(routed.idle_s / np.minimum(cal.t1_s, cal.t2_s)))
    assert esp(routed, cal) == pytest.approx(product * idle, rel=1e-10)
    assert 0.0 < esp(routed, cal) < product  # the idle factor bites


def test_infinite_coherence_adds_no_idle_term() -> None:
    spec = line_spec().with_calibration(calibration(e2=0.01))
    routed = route(long_range_circuit(), spec)
    assert routed.idle_s.max() > 0.0
    assert log_esp(routed, spec.calibration) == pytest.approx(
        routed.two_qubit_count * np.log1p(-0.01), rel=1e-12
    )


def test_log_esp_many_matches_single_calls_and_checks_shapes() -> None:
    spec = line_spec()
    circuits = [long_range_circuit(), QuantumCircuit(2)]
    ghz = QuantumCircuit(3)
    ghz.h(0)
    ghz.cx(0, 1)
    ghz.cx(1, 2)
    ghz.measure_all()
    circuits.append(ghz)
    routed = [route(c, spec) for c in circuits]
    many = log_esp_many(routed, spec.calibration)
    np.testing.assert_allclose(many, [log_esp(r, spec.calibration) for r in routed], rtol=1e-12)
    assert log_esp_many([], spec.calibration).shape == (0,)
    with pytest.raises(ValueError, match="calibration has 4 qubits and 3 edges"):
        log_esp(routed[0], calibration(4))
    with pytest.raises(ValueError, match="calibration has 4 qubits"):
        log_esp_many(routed, calibration(4))


def test_worse_calibration_lowers_esp_without_rerouting() -> None:
    spec = line_spec()
    routed = route(long_range_circuit(), spec)
    good = esp(routed, spec.calibration)
    worse_cal = calibration(e1=6e-4, e2=2e-2, ro=0.03, t1=50e-6, t2=40e-6, version=1)
    assert esp(routed, worse_cal) < good
    better_cal = calibration(e1=1e-4, e2=4e-3, ro=0.01, t1=200e-6, t2=150e-6, version=2)
    assert esp(routed, better_cal) > good


def test_esp_cache_keys_on_circuit_device_and_calibration_version() -> None:
    spec = line_spec()
    routed = route(long_range_circuit(), spec)
    cache = EspCache(max_size=8)
    v0 = cache.get("c", routed, spec.calibration)
    assert v0 == esp(routed, spec.calibration)
    # same version: the cached value, even if another object is passed
    assert cache.get("c", routed, calibration(e2=0.2)) == v0
    assert (cache.hits, cache.misses) == (1, 1)
    drifted = calibration(e1=3e-4, e2=2e-2, ro=0.02, t1=100e-6, t2=80e-6, version=1)
    v1 = cache.get("c", routed, drifted)
    assert v1 == esp(routed, drifted) and v1 < v0
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0 and cache.hits == 0
    with pytest.raises(ValueError, match="max_size"):
        EspCache(max_size=0)
