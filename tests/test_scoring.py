"""AHMO scoring pipeline (qenv.scoring): each stage against its definition.

① ingestion, ② decomposition, ③ the six sub-scores, V and the HyperScore, the score
table of the environment, and the parameters files.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import UnitaryGate, get_standard_gate_name_mapping
from qiskit.quantum_info import Operator
from scipy.special import expit

from qenv.execution import esp
from qenv.execution.density import scaled_noise
from qenv.hardware import load_qpu
from qenv.scoring import (
    WEIGHT_NAMES,
    ScoringParams,
    VectorStore,
    decompose,
    hyperscore,
    hyperscore_unit,
    impact_fore,
    ingest,
    load_params,
    logic_score,
    qnc_score,
    repro_score,
    save_params,
    score,
    v_score,
)
from qenv.scoring import sandbox as sandbox_mod
from qenv.scoring.feedback import load_matrix
from qenv.scoring.fusion import ahp_weights
from qenv.scoring.logic import ROUTER
from qenv.scoring.qnc import qnc_validation
from qenv.scoring.repro import qiskit_distribution, qutip_distribution, qutip_gate, tvd
from qenv.scoring.sandbox import SandboxResult, execute, run_sandbox, sandbox_score
from qenv.tasks import Circuit, QasmError, ghz, qaoa_maxcut, qft

REPO = Path(__file__).resolve().parents[1]
GHZ3_QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
h q[0];
cx q[0], q[1];
cx q[1], q[2];
"""


@pytest.fixture(scope="module")
def nairobi():
    return load_qpu("ibm_nairobi")


@pytest.fixture(scope="module")
def aria():
    return load_qpu("ionq_aria")


@pytest.fixture
def no_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QENV_SCORING_CACHE", "0")


# ---------------------------------------------------------------------- HyperScore and V
def test_hyperscore_matches_the_formula() -> None:
    v = np.array([1e-6, 0.1, 0.5, 0.9, 1.0, 2.0])
    expected = 100 * (1 + expit(5 * np.log(v) - math.log(2)) ** 2)
    np.testing.assert_allclose(hyperscore(v), expected, rtol=1e-12)
    assert hyperscore(1.0) == pytest.approx(100 * (1 + (1 / 3) ** 2))
    assert hyperscore(0.7, beta=2.0, gamma=0.3, kappa=1.5) == pytest.approx(
        100 * (1 + expit(2 * math.log(0.7) + 0.3) ** 1.5)
    )


def test_hyperscore_edges_and_arrays() -> None:
    assert hyperscore(0.0) == 100.0
    assert hyperscore(-3.0) == 100.0
    assert hyperscore(math.inf) == 200.0
    out = hyperscore(np.linspace(0, 1, 12).reshape(3, 4))
    assert isinstance(out, np.ndarray) and out.shape == (3, 4)
    assert (np.diff(out.ravel()) >= 0).all()  # increasing in V
    assert isinstance(hyperscore(0.5), float)
    with pytest.raises(ValueError, match="NaN"):
        hyperscore(np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="beta"):
        hyperscore(0.5, beta=0.0)
    with pytest.raises(ValueError, match="kappa"):
        hyperscore(0.5, kappa=-1.0)


def test_hyperscore_unit_is_the_normalised_excess() -> None:
    v = np.array([0.0, 0.2, 0.6, 1.0])
    unit = hyperscore_unit(v)
    np.testing.assert_allclose(unit, (hyperscore(v) - 100) / (hyperscore(1.0) - 100))
    assert unit[0] == 0.0 and unit[-1] == pytest.approx(1.0)
    assert hyperscore_unit(5.0) == 1.0


def test_v_is_the_weighted_sum_gated_by_logic_pi() -> None:
    p = ScoringParams(
        weights={"logic": 1, "novelty": 2, "impact": 3, "repro": 4, "meta": 5, "qnc": 5}
    )
    w = np.array([1, 2, 3, 4, 5, 5]) / 20
    v = v_score(1.0, 0.5, 0.2, 0.6, 1.0, 0.3, 0.8, p)
    expected = w @ [1.0 * 0.5, 0.2, math.log1p(0.6), 1.0, 0.3, 0.8]
    assert v == pytest.approx(expected)
    assert v_score(0.0, 1.0, 1, 1, 1, 1, 1, p) == 0.0  # a hard constraint fails
    assert v_score(1.0, 0.0, 1, 1, 1, 1, 1, p) == 0.0  # the sandbox run failed
    assert v_score(1.0, 1.0, np.nan, 0, 0, 0, 0, p) == pytest.approx(w[0])  # NaN counts 0
    top = v_score(1, 1, 1, 1, 1, 1, 1, p)
    assert 0 < top <= 1


# ---------------------------------------------------------------------- parameters
def test_params_normalise_and_validate(tmp_path: Path) -> None:
    p = ScoringParams(weights={"qnc": 3.0, "meta": 1.0})
    assert sum(p.weights.values()) == pytest.approx(1.0)
    assert p.weights["qnc"] == pytest.approx(0.75) and p.weights["logic"] == 0.0
    with pytest.raises(ValueError, match=r"weights\.meta: must be >= 0"):
        ScoringParams(weights={"meta": -1.0, "qnc": 1.0})
    with pytest.raises(ValueError, match="unknown term"):
        ScoringParams(weights={"speed": 1.0})
    with pytest.raises(ValueError, match="beta"):
        ScoringParams(beta=-1.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("weights: {qnc: 1}\nhyperscore: {beta: 5, delta: 1}\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: hyperscore: unknown key"):
        load_params(bad)
    with pytest.raises(ValueError, match="no such file"):
        load_params(tmp_path / "missing.yaml")


def test_params_round_trip_and_default_file(tmp_path: Path) -> None:
    p = ScoringParams(weights={"qnc": 2, "meta": 1, "logic": 1}, beta=3.0, gamma=0.1, kappa=1.5)
    path = save_params(p, tmp_path / "p.yaml", header="test")
    q = load_params(path)
    assert q == p
    default = load_params()
    assert default.beta == 5.0 and default.kappa == 2.0
    assert default.gamma == pytest.approx(-math.log(2))


def test_default_weights_are_the_ahp_eigenvector() -> None:
    matrix = load_matrix(REPO / "configs" / "scoring" / "ahp.yaml")
    result = ahp_weights(matrix)
    assert result.cr < 0.1
    default = load_params(REPO / "configs" / "scoring" / "default.yaml")
    np.testing.assert_allclose(default.weight_vector, result.weights, atol=1e-3)


# ---------------------------------------------------------------------- ① ingestion
def test_ingest_gives_one_ir_for_qasm_and_python(tmp_path: Path) -> None:
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    from_python = ingest(qc, name="ghz3")
    from_qasm2 = ingest(GHZ3_QASM2)
    qasm3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nh q[0];\ncx q[0], q[1];\n'
    qasm3 += "cx q[1], q[2];\n"
    from_qasm3 = ingest(qasm3)
    file = tmp_path / "ghz3.qasm"
    file.write_text(GHZ3_QASM2)
    from_file = ingest(file)
    assert isinstance(from_python, Circuit)
    assert from_python.key == from_qasm2.key == from_qasm3.key == from_file.key
    assert "measure" in from_python.qc.count_ops()  # measure_all added
    assert "measure" not in qc.count_ops()  # the caller's circuit is untouched
    same = ingest(from_python)
    assert same is from_python


def test_ingest_errors() -> None:
    with pytest.raises(QasmError) as info:
        ingest('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0]\ncx q[0], q[1];\n')
    assert info.value.line is not None
    with pytest.raises(ValueError, match="unbound parameter"):
        qc = QuantumCircuit(1)
        qc.rx(Parameter("theta"), 0)
        ingest(qc)
    with pytest.raises(ValueError, match="empty"):
        ingest("   ")
    with pytest.raises(ValueError, match="source must be"):
        ingest(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- ② decomposition
def test_decompose_ghz_chain() -> None:
    g = decompose(ghz(5))
    f = g.features
    assert f["num_qubits"] == 5 and f["active_qubits"] == 5
    assert f["count_1q"] == 1 and f["count_2q"] == 4 and f["measurements"] == 5
    assert f["depth"] == 6  # h, four CX in a chain, then the measurement
    assert f["depth_2q"] == 4
    assert sorted(g.interaction.edges()) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert f["diameter"] == 4 and f["components"] == 1 and f["max_degree"] == 2
    assert f["mid_circuit_measurements"] == 0
    assert g.dag.number_of_nodes() == 10  # barrier excluded
    emb = g.embedding()
    assert np.linalg.norm(emb) == pytest.approx(1.0) and (emb >= 0).all()


def test_decompose_qaoa_interaction_graph_is_the_problem_graph() -> None:
    import networkx as nx

    graph = nx.cycle_graph(6)
    graph.add_edge(0, 3)
    circ = qaoa_maxcut(6, 2, rng=np.random.default_rng(0), graph=graph)
    g = decompose(circ)
    assert {tuple(sorted(e)) for e in g.interaction.edges()} == {
        tuple(sorted(e)) for e in graph.edges()
    }
    assert all(d["weight"] == 2 for _, _, d in g.interaction.edges(data=True))  # p = 2
    assert g.features["interaction_density"] == pytest.approx(7 / 15)


def test_decompose_counts_mid_circuit_measurements() -> None:
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.measure(0, 0)
    qc.x(0)
    qc.measure(1, 1)
    f = decompose(qc).features
    assert f["mid_circuit_measurements"] == 1


# ---------------------------------------------------------------------- ③-1 LogicScore
def test_logic_score_hard_constraints(nairobi, aria) -> None:
    ok = logic_score(ghz(5), nairobi)
    assert ok.score == 1.0 and ok.reason is None and ok.routed is not None
    wide = logic_score(ghz(8), nairobi)
    assert wide.score == 0.0 and "needs 8 qubits" in wide.reason
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.measure(0, 0)
    qc.cx(0, 1)
    qc.measure(1, 1)
    after = logic_score(qc, aria)
    assert after.score == 0.0 and "after its measurement" in after.reason
    free = QuantumCircuit(1)
    free.rx(Parameter("a"), 0)
    assert "unbound" in logic_score(free, aria).reason
    reset = QuantumCircuit(1, 1)
    reset.h(0)
    reset.reset(0)
    reset.measure(0, 0)
    assert "reset" in logic_score(reset, aria).reason


def test_logic_score_routes_on_the_coupling_map(nairobi) -> None:
    # All-to-all interactions on a 7-qubit heavy-hex device need SWAPs; still routable.
    circ = qft(6, rng=np.random.default_rng(1))
    res = logic_score(circ, nairobi)
    assert res.score == 1.0
    edges = {tuple(e) for e in nairobi.edges.tolist()}
    pos = {q: i for i, q in enumerate(res.routed.circuit.qubits)}
    for inst in res.routed.circuit.data:
        if len(inst.qubits) == 2:
            assert tuple(sorted(pos[q] for q in inst.qubits)) in edges


# ---------------------------------------------------------------------- ③-2 sandbox
def test_sandbox_runs_in_a_child_and_caches(no_disk_cache, monkeypatch) -> None:
    sandbox_mod.CACHE.clear()
    circuits = [ghz(4), qft(4, rng=np.random.default_rng(2))]
    results = run_sandbox(circuits)
    assert [r.status for r in results] == ["ok", "ok"]
    assert all(r.score == 1.0 and r.norm_drift < 1e-10 for r in results)

    def no_child(memory_mb: int):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(sandbox_mod, "_spawn", no_child)
    again = run_sandbox(circuits)
    assert again == results


def test_sandbox_detects_errors_and_norm_drift(no_disk_cache) -> None:
    sandbox_mod.CACHE.clear()
    leaky = QuantumCircuit(1)
    leaky.h(0)
    leaky.append(UnitaryGate(np.diag([1.0, 1.0001]), check_input=False), [0])
    leaky.measure_all()
    mid = QuantumCircuit(2, 2)
    mid.h(0)
    mid.measure(0, 0)
    mid.cx(0, 1)
    mid.measure(1, 1)
    res = run_sandbox([Circuit("leaky", "qasm", leaky), Circuit("mid", "qasm", mid)])
    # |+> through diag(1, 1.0001): norm² = (1 + 1.0001²)/2, a drift of 1.0e-4.
    assert res[0].status == "ok" and res[0].norm_drift == pytest.approx(1.00005e-4, rel=1e-6)
    assert res[0].score == pytest.approx(0.0, abs=1e-4)
    assert res[1].status == "error" and "measure" in res[1].error and res[1].score == 0.0
    # The same function in-process, for the record.
    assert execute(ghz(3).qc)["status"] == "ok"


@pytest.mark.slow
def test_sandbox_timeout_scores_zero_and_the_batch_goes_on(no_disk_cache) -> None:
    sandbox_mod.CACHE.clear()
    n = 19
    slow = QuantumCircuit(n)
    for r in range(6):
        for q in range(n):
            slow.rx(0.1 * q + r, q)
        for q in range(n - 1):
            slow.cx(q, q + 1)
    slow.measure_all()
    res = run_sandbox(
        [Circuit("slow", "qasm", slow), ghz(3)], time_limit_s=0.3, memory_limit_mb=4096
    )
    assert res[0].status == "timeout" and res[0].score == 0.0
    assert res[1].status == "ok" and res[1].score == 1.0


def test_sandbox_refuses_what_cannot_fit(no_disk_cache) -> None:
    sandbox_mod.CACHE.clear()
    res = run_sandbox([ghz(10), ghz(5)], max_qubits=8, memory_limit_mb=64)
    assert res[0].status == "too_wide" and res[0].score == 0.0
    assert res[1].status == "ok"
    mem = run_sandbox([ghz(24)], max_qubits=30, memory_limit_mb=64)[0]
    assert mem.status == "memory" and "MiB" in mem.error
    assert sandbox_score(SandboxResult("ok", 1e-7, 0.0)) == pytest.approx(0.5)
    assert sandbox_score(SandboxResult("ok", math.nan, 0.0)) == 0.0


# ---------------------------------------------------------------------- ③-3 Novelty
def test_vector_store_novelty_rules() -> None:
    store = VectorStore()
    assert store.novelty([1.0, 0.0]) == 1.0  # empty store
    assert store.observe("a", [1.0, 0.0]) == 1.0
    assert store.observe("b", [0.0, 2.0]) == pytest.approx(1.0)  # orthogonal
    assert store.novelty([3.0, 0.0], key="c") == pytest.approx(0.0)  # a duplicate of a
    assert store.novelty([1.0, 0.0], key="a") == pytest.approx(1.0)  # not against itself
    assert store.novelty([1.0, 1.0]) == pytest.approx(1 - 1 / math.sqrt(2))
    store.add("a", [0.0, 1.0])  # a known key keeps its first vector
    assert len(store) == 2
    with pytest.raises(ValueError, match="zero"):
        store.novelty([0.0, 0.0])
    with pytest.raises(ValueError, match="2 entries"):
        store.add("d", [1.0, 2.0, 3.0])
    small = VectorStore(capacity=2)
    for i, vec in enumerate(([1, 0, 0], [0, 1, 0], [0, 0, 1])):
        small.add(str(i), vec)
    assert "0" not in small and len(small) == 2  # first in, first out


def test_novelty_of_circuits() -> None:
    store = VectorStore()
    a = decompose(ghz(6)).embedding()
    store.add("ghz6", a)
    near = store.novelty(decompose(ghz(7)).embedding())
    far = store.novelty(decompose(qft(6, rng=np.random.default_rng(0))).embedding())
    assert 0 <= near < far <= 1


# ---------------------------------------------------------------------- ③-4 ImpactFore
def test_impact_fore() -> None:
    assert impact_fore(3, 64) == pytest.approx(1.0)
    assert impact_fore(0, 10) == 0.0
    assert impact_fore(2, 5) == pytest.approx(math.log1p(10) / math.log1p(192))
    values = impact_fore(np.array([1, 2, 3]), np.array([8, 8, 8]))
    assert (np.diff(values) > 0).all()
    assert impact_fore(3, 1000) == 1.0  # clipped
    with pytest.raises(ValueError, match="priority"):
        impact_fore(np.nan, 3)


# ---------------------------------------------------------------------- ③-5 ΔRepro
@pytest.mark.parametrize(
    "name",
    ["x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "rx", "ry", "rz", "p", "u",
     "cx", "cy", "cz", "cp", "swap", "ecr", "rxx", "ryy", "rzz", "ccx"],
)  # fmt: skip
def test_qutip_gates_match_qiskit_up_to_phase(name: str) -> None:
    gate = get_standard_gate_name_mapping()[name]
    params = [0.37, -1.1, 0.4][: len(gate.params)]
    if params:
        gate = type(gate)(*params)
    k = gate.num_qubits
    little = Operator(gate).data
    rev = list(range(k))[::-1]
    big = little.reshape((2,) * (2 * k)).transpose(rev + [k + i for i in rev]).reshape(little.shape)
    ours = qutip_gate(name, params)
    i = np.unravel_index(np.argmax(np.abs(big)), big.shape)
    phase = big[i] / ours[i]
    assert abs(abs(phase) - 1) < 1e-12
    np.testing.assert_allclose(big, phase * ours, atol=1e-12)


def test_repro_agrees_across_simulators_and_devices(nairobi, aria) -> None:
    circ = qft(4, rng=np.random.default_rng(3))
    for spec in (nairobi, aria, load_qpu("ibm_brisbane")):
        res = repro_score(circ, spec)
        assert res.reason is None
        assert res.score == pytest.approx(1.0, abs=1e-9)
    adder = ingest(REPO / "configs" / "circuits" / "adder4.qasm")
    clbits, dist = qutip_distribution(ROUTER.route(adder.key, adder.qc, aria).circuit)
    assert clbits == (0, 1, 2, 3, 4)
    assert dist[0b10000] == pytest.approx(1.0)  # 0001 + 1111 = 10000, cout = 1


def test_repro_detects_a_different_output_and_refuses_what_it_cannot_run(aria) -> None:
    good = ghz(3).qc
    wrong = QuantumCircuit(3)
    wrong.h(0)
    wrong.cx(0, 1)
    wrong.cx(1, 2)
    wrong.x(2)  # flips the last bit of both branches
    wrong.measure_all()
    _, p = qiskit_distribution(good)
    _, q = qutip_distribution(wrong)
    assert tvd(p, q) == pytest.approx(1.0)  # |000>+|111> vs |011>+|100>: disjoint supports
    big = repro_score(ghz(10), aria, max_qubits=6)
    assert big.score == 0.0 and "repro.max_qubits" in big.reason
    mid = QuantumCircuit(2, 2)
    mid.h(0)
    mid.measure(0, 0)
    mid.cx(0, 1)
    mid.measure(1, 1)
    res = repro_score(Circuit("mid", "qasm", mid), aria)
    assert res.score == 0.0 and "after its measurement" in res.reason
    with pytest.raises(ValueError, match="shape"):
        tvd([0.5, 0.5], [1.0])


# ---------------------------------------------------------------------- ③-6 QNC
def test_qnc_is_the_esp_and_falls_with_noise(nairobi) -> None:
    circ = ghz(5)
    q = qnc_score(circ, nairobi)
    assert q == pytest.approx(esp(ROUTER.route(circ.key, circ.qc, nairobi), nairobi.calibration))
    assert 0 < q < 1
    noisy = scaled_noise(nairobi, 5.0)
    assert qnc_score(circ, noisy) < q
    assert qnc_validation()["spearman"] > 0.9


# ---------------------------------------------------------------------- score()
def test_score_end_to_end(aria, nairobi) -> None:
    from qenv.scoring import Task

    store = VectorStore()
    s = score(Task(ghz(5), shots=2000, priority=3, slack_s=30.0), aria, store=store)
    for name in ("logic", "sandbox", "novelty", "impact", "repro", "qnc", "meta"):
        assert 0 <= getattr(s, name) <= 1, name
    assert s.logic == 1 and s.sandbox == 1 and s.novelty == 1 and s.repro == pytest.approx(1)
    assert s.v == pytest.approx(
        v_score(s.logic, s.sandbox, s.novelty, s.impact, s.repro, s.meta, s.qnc, load_params())
    )
    assert s.hyperscore == pytest.approx(hyperscore(s.v))
    assert 100 < s.hyperscore < 112
    # A longer time budget makes Meta larger; the second circuit is no longer novel.
    t = score(Task(ghz(5), shots=2000, priority=3), aria, store=store)
    assert t.meta > s.meta and t.novelty == 1.0  # scored against the others only
    u = score(ghz(6), "ionq_aria", store=store)
    assert u.novelty < 0.1
    wide = score(ghz(8), nairobi, store=store)
    assert wide.logic == 0 and wide.v == 0 and wide.hyperscore == 100.0
    assert "needs 8 qubits" in wide.reasons["logic"]
    with pytest.raises(QasmError):
        score("OPENQASM 2.0;\nqreg q[2;\n", aria, store=store)


def test_scoring_package_imports_no_rl_stack() -> None:
    code = (
        "import sys, qenv.scoring, qenv.scoring.meta, qenv.scoring.feedback;"
        "bad = [m for m in ('gymnasium', 'pettingzoo', 'ray') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_weight_names_are_the_terms_of_v() -> None:
    assert WEIGHT_NAMES == ("logic", "novelty", "impact", "repro", "meta", "qnc")
