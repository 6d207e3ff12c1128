"""Routing, ASAP schedule and executability checks of qenv.execution.routing.

Devices are built by hand (a 5-qubit line, a 4-qubit all-to-all trapped-ion device) so
that routing stays fast and every number can be computed by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Gate
from qiskit.quantum_info import Statevector

from qenv.execution import Router, asap_schedule, executable, route, summarize, target_for
from qenv.execution.routing import spec_fingerprint
from qenv.hardware import Calibration, QPUSpec

D1, D2, DRO = 35e-9, 500e-9, 1e-6


def line_spec(
    n: int = 5,
    *,
    name: str = "line5",
    e1: float = 3e-4,
    e2: float = 8e-3,
    ro: float = 0.02,
    t1: float = 100e-6,
    t2: float = 80e-6,
    version: int = 0,
) -> QPUSpec:
    """A superconducting line 0-1-…-(n-1) with IBM's basis (rz virtual) and uniform noise."""
    cal = Calibration(
        t1_s=np.full(n, t1),
        t2_s=np.full(n, t2),
        readout_error=np.full(n, ro),
        gate_error_1q=np.full(n, e1),
        gate_error_2q=np.full(n - 1, e2),
        version=version,
    )
    return QPUSpec(
        name=name,
        technology="superconducting",
        num_qubits=n,
        edges=np.array([[i, i + 1] for i in range(n - 1)]),
        basis_gates=("rz", "sx", "x", "ecr"),
        virtual_gates=("rz",),
        duration_1q_s=np.full(n, D1),
        duration_2q_s=np.full(n - 1, D2),
        duration_readout_s=np.full(n, DRO),
        shot_overhead_s=250e-6,
        calibration=cal,
        source="test",
        synthetic=True,
    )


def ion_spec(n: int = 4) -> QPUSpec:
    """All-to-all trapped-ion device with (rz, rx, ry, rxx)."""
    i, j = np.triu_indices(n, k=1)
    e = len(i)
    return QPUSpec(
        name=f"ion{n}",
        technology="trapped_ion",
        num_qubits=n,
        edges=np.stack([i, j], axis=1),
        basis_gates=("rz", "rx", "ry", "rxx"),
        virtual_gates=("rz",),
        duration_1q_s=np.full(n, 135e-6),
        duration_2q_s=np.full(e, 600e-6),
        duration_readout_s=np.full(n, 300e-6),
        shot_overhead_s=5e-3,
        calibration=Calibration(
            t1_s=np.full(n, 10.0),
            t2_s=np.full(n, 1.0),
            readout_error=np.full(n, 0.0063),
            gate_error_1q=np.full(n, 2e-4),
            gate_error_2q=np.full(e, 0.0128),
        ),
        source="test",
        synthetic=True,
    )


def long_range_circuit(*, measure: bool = True) -> QuantumCircuit:
    """Interactions 0-4, 1-3, 0-2 on 5 qubits: no line layout avoids SWAPs."""
    qc = QuantumCircuit(5)
    qc.h(0)
    qc.cx(0, 4)
    qc.cx(1, 3)
    qc.cx(0, 2)
    qc.cx(4, 1)
    qc.cx(2, 3)
    qc.cx(0, 3)
    if measure:
        qc.measure_all()
    return qc


# --------------------------------------------------------------------------- target


def test_target_carries_spec_durations_errors_and_is_cached() -> None:
    spec = line_spec()
    target = target_for(spec)
    assert target.num_qubits == 5
    assert target["rz"][(2,)].duration == 0.0 and target["rz"][(2,)].error == 0.0
    assert target["sx"][(2,)].duration == pytest.approx(D1)
    assert target["sx"][(2,)].error == pytest.approx(3e-4)
    assert set(target["ecr"]) == {(i, i + 1) for i in range(4)} | {(i + 1, i) for i in range(4)}
    assert target["ecr"][(3, 2)].error == pytest.approx(8e-3)
    assert target["measure"][(0,)].error == pytest.approx(0.02)
    assert target["measure"][(0,)].duration == pytest.approx(DRO)
    assert target.qubit_properties[1].t1 == pytest.approx(100e-6)
    assert target_for(spec) is target
    assert target_for(line_spec(version=1)) is not target


# --------------------------------------------------------------------------- route


def test_routed_two_qubit_gates_use_device_edges_and_counts_agree() -> None:
    spec = line_spec()
    routed = route(long_range_circuit(), spec, seed=3)
    edges = {tuple(e) for e in spec.edges.tolist()}
    circuit = routed.circuit
    ops = circuit.count_ops()
    assert set(ops) <= {"rz", "sx", "x", "ecr", "measure", "barrier"}
    two_q = [ci for ci in circuit.data if ci.operation.num_qubits == 2]
    for ci in two_q:
        a, b = (circuit.find_bit(q).index for q in ci.qubits)
        assert (min(a, b), max(a, b)) in edges
    assert routed.swaps >= 1
    assert routed.two_qubit_count == len(two_q) == int(routed.n_2q.sum()) == ops["ecr"]
    assert int(routed.n_1q.sum()) == ops.get("sx", 0) + ops.get("x", 0)
    assert routed.measured.sum() == 5 and routed.active.all()
    assert routed.calibration_version == spec.calibration.version
    for arr in (routed.n_1q, routed.n_2q, routed.idle_s, routed.measured):
        assert not arr.flags.writeable


def test_routing_preserves_the_output_distribution() -> None:
    spec = line_spec()
    qc = long_range_circuit(measure=False)
    qc.ry(0.7, 1)  # make the distribution non-trivial
    qc.ry(0.3, 3)
    qc.measure_all()
    routed = route(qc, spec, seed=1)
    assert routed.swaps >= 1  # the final permutation matters
    final = routed.circuit.layout.final_index_layout()  # virtual -> physical at the end
    ideal = Statevector(qc.remove_final_measurements(inplace=False)).probabilities()
    got = Statevector(routed.circuit.remove_final_measurements(inplace=False)).probabilities(
        qargs=final
    )
    np.testing.assert_allclose(got, ideal, atol=1e-9)


def test_all_to_all_device_needs_no_swaps() -> None:
    spec = ion_spec()
    qc = QuantumCircuit(4)
    qc.h(0)
    qc.cx(0, 3)
    qc.cx(1, 2)
    qc.cx(3, 1)
    qc.measure_all()
    routed = route(qc, spec)
    assert routed.swaps == 0
    assert routed.two_qubit_count == 3 == routed.circuit.count_ops()["rxx"]
    # cx(1,2) then cx(3,1) share qubit 1, cx(0,3) then cx(3,1) share qubit 3: two rxx in a
    # row at least, then the readout.
    assert routed.duration_s >= 2 * 600e-6 + 300e-6


def test_hand_built_counts_and_schedule() -> None:
    """q0: sx, ecr(0,1), measure; q1: ecr, rz, sx, sx, measure; q2: x, measure early."""
    spec = line_spec()
    qc = QuantumCircuit(5, 3)
    qc.sx(0)
    qc.ecr(0, 1)
    qc.rz(0.3, 1)
    qc.sx(1)
    qc.sx(1)
    qc.x(2)
    qc.measure(0, 0)
    qc.measure(1, 1)
    qc.measure(2, 2)
    routed = summarize(qc, spec, swaps=0)
    np.testing.assert_array_equal(routed.n_1q, [1, 2, 1, 0, 0])
    np.testing.assert_array_equal(routed.n_2q, [1, 0, 0, 0])
    np.testing.assert_array_equal(routed.measured, [True, True, True, False, False])
    np.testing.assert_array_equal(routed.active, [True, True, True, False, False])
    # ASAP: q0 sx [0, D1], ecr [D1, D1+D2], q1 sx sx until D1+D2+2·D1, measure 1 µs.
    end_q0 = D1 + D2 + DRO
    end_q1 = D1 + D2 + 2 * D1 + DRO
    end_q2 = D1 + DRO
    assert routed.duration_s == pytest.approx(end_q1)
    # live end = end of the measurement; busy = summed durations; rz counts 0.
    busy = np.array([D1 + D2 + DRO, D2 + 2 * D1 + DRO, D1 + DRO])
    live = np.array([end_q0, end_q1, end_q2])
    np.testing.assert_allclose(routed.idle_s[:3], live - busy, atol=1e-15)
    np.testing.assert_allclose(routed.idle_s[:3], [0.0, D1, 0.0], atol=1e-15)
    assert routed.idle_s[3] == routed.idle_s[4] == 0.0
    assert routed.two_qubit_count == 1 and routed.depth == 6  # sx ecr rz sx sx measure
    assert routed.runtime_s(1000, 250e-6) == pytest.approx(1000 * (end_q1 + 250e-6))


def test_unmeasured_qubit_idles_until_the_makespan_and_barriers_align() -> None:
    spec = line_spec()
    qc = QuantumCircuit(3)
    qc.sx(0)
    qc.barrier(0, 1)  # q1 may not start before q0's sx ends
    qc.sx(1)
    qc.ecr(1, 2)
    sched = asap_schedule(qc, spec)
    starts = {op.position: op.start_s for op in sched.ops}
    assert starts[2] == pytest.approx(D1)  # the sx on q1 waited for the barrier
    assert starts[3] == pytest.approx(2 * D1)
    makespan = 2 * D1 + D2
    assert sched.makespan_s == pytest.approx(makespan)
    # idle = makespan − busy for unmeasured qubits (MQT Predictor).
    np.testing.assert_allclose(
        sched.idle_s[:3], [makespan - D1, makespan - D1 - D2, makespan - D2], atol=1e-15
    )


def test_delay_counts_as_idle_time() -> None:
    spec = line_spec()
    qc = QuantumCircuit(1, 1)
    qc.x(0)
    qc.delay(2.0, 0, unit="us")
    qc.measure(0, 0)
    routed = summarize(qc, spec)
    assert routed.duration_s == pytest.approx(D1 + 2e-6 + DRO)
    assert routed.idle_s[0] == pytest.approx(2e-6)
    qc_dt = QuantumCircuit(1)
    qc_dt.delay(100, 0, unit="dt")
    with pytest.raises(ValueError, match="unit 'dt'"):
        asap_schedule(qc_dt, spec)


def test_schedule_rejects_unrouted_circuits() -> None:
    spec = line_spec()
    not_basis = QuantumCircuit(2)
    not_basis.cx(0, 1)
    with pytest.raises(ValueError, match="'cx' on qubits \\(0, 1\\) is not a basis"):
        asap_schedule(not_basis, spec)
    far = QuantumCircuit(3)
    far.ecr(0, 2)
    with pytest.raises(ValueError, match="not a coupling of line5"):
        asap_schedule(far, spec)


# --------------------------------------------------------------------------- executable


def test_executable_reports_width_and_untranslatable_gates() -> None:
    spec = line_spec()
    assert executable(QuantumCircuit(6), spec) == "needs 6 qubits, device has 5"
    assert executable(long_range_circuit(), spec) is None

    opaque = QuantumCircuit(2)
    opaque.append(Gate("xyz", 2, []), [0, 1])
    reason = executable(opaque, spec)
    assert reason is not None and "'xyz' cannot be translated to basis (rz, sx, x, ecr)" in reason

    inner = QuantumCircuit(2)
    inner.h(0)
    inner.cz(0, 1)
    composite = QuantumCircuit(3)
    composite.append(inner.to_gate(label="mine"), [0, 2])
    composite.ccx(0, 1, 2)
    assert executable(composite, spec) is None

    reset = QuantumCircuit(1)
    reset.reset(0)
    assert executable(reset, spec) == "mid-circuit reset is not supported"

    branch = QuantumCircuit(1, 1)
    branch.measure(0, 0)
    with branch.if_test((branch.clbits[0], 1)):
        branch.x(0)
    assert "control flow 'if_else'" in str(executable(branch, spec))


def test_route_raises_with_the_reason() -> None:
    with pytest.raises(ValueError, match="needs 6 qubits, device has 5"):
        route(QuantumCircuit(6), line_spec())
    with pytest.raises(ValueError, match="optimization_level"):
        route(QuantumCircuit(2), line_spec(), optimization_level=4)


# --------------------------------------------------------------------------- Router


def test_router_caches_per_circuit_key_and_device() -> None:
    router = Router(cache_size=2)
    spec = line_spec()
    qc = long_range_circuit()
    first = router.route("c1", qc, spec)
    assert router.route("c1", qc, spec) is first
    assert (router.hits, router.misses) == (1, 1)
    # a new calibration of the same device keeps the layout (cache ignores the version)
    drifted = spec.with_calibration(line_spec(e2=2e-2, version=7).calibration)
    assert router.route("c1", qc, drifted) is first
    other = router.route("c1", qc, line_spec(name="line5b"))
    assert other is not first and other.device == "line5b"
    router.route("c2", qc, spec)  # evicts the least recently used entry ("c1", "line5")
    assert len(router) == 2
    assert router.route("c1", qc, spec) is not first
    with pytest.raises(ValueError, match="cache_size"):
        Router(cache_size=0)


def test_caches_tell_apart_devices_that_share_a_name() -> None:
    # Same name, same calibration version, other numbers: a test device or an edited
    # YAML must not get the cached target of another.
    a, b = line_spec(e1=3e-4), line_spec(e1=5e-3)
    assert target_for(a)["sx"][(2,)].error == pytest.approx(3e-4)
    assert target_for(b)["sx"][(2,)].error == pytest.approx(5e-3)
    assert spec_fingerprint(a) != spec_fingerprint(b)
    assert spec_fingerprint(a, calibration=False) == spec_fingerprint(b, calibration=False)
