"""Every formula of qenv.physics against a density-matrix computation in qutip."""

from __future__ import annotations

import numpy as np
import pytest
import qutip as qt

from qenv.physics import (
    bbpssw,
    decohered_fidelity,
    dejmps,
    pair_coherence_time,
    swap_fidelity,
    werner_bell_diagonal,
)

ZERO, ONE = qt.basis(2, 0), qt.basis(2, 1)
PHI_P = (qt.tensor(ZERO, ZERO) + qt.tensor(ONE, ONE)).unit()
PHI_M = (qt.tensor(ZERO, ZERO) - qt.tensor(ONE, ONE)).unit()
PSI_P = (qt.tensor(ZERO, ONE) + qt.tensor(ONE, ZERO)).unit()
PSI_M = (qt.tensor(ZERO, ONE) - qt.tensor(ONE, ZERO)).unit()
BELL = [PHI_P, PSI_M, PSI_P, PHI_M]  # qenv's order (Φ+, Ψ−, Ψ+, Φ−)


def bell_diagonal(c: np.ndarray) -> qt.Qobj:
    return sum(float(ci) * b.proj() for ci, b in zip(c, BELL, strict=True))


def werner(f: float) -> qt.Qobj:
    return bell_diagonal(werner_bell_diagonal(f))


def bell_coefficients(rho: qt.Qobj) -> np.ndarray:
    return np.array([qt.expect(b.proj(), rho) for b in BELL])


def purify_circuit(rho1: qt.Qobj, rho2: qt.Qobj, dejmps_rotation: bool) -> tuple[float, qt.Qobj]:
    """Bilateral CNOT recurrence on qubits (A1, B1, A2, B2); keep pair 1 if A2, B2 agree."""
    rho = qt.tensor(rho1, rho2)
    if dejmps_rotation:
        ra, rb = qt.gates.rx(np.pi / 2), qt.gates.rx(-np.pi / 2)
        u = qt.tensor(ra, rb, ra, rb)
        rho = u * rho * u.dag()
    dims = [2, 2, 2, 2]
    cnots = qt.expand_operator(qt.gates.cnot(), dims=dims, targets=[0, 2]) * qt.expand_operator(
        qt.gates.cnot(), dims=dims, targets=[1, 3]
    )
    rho = cnots * rho * cnots.dag()
    keep = sum(qt.tensor(qt.qeye(2), qt.qeye(2), m.proj(), m.proj()) for m in (ZERO, ONE))
    kept = keep * rho * keep
    p = float(kept.tr().real)
    return p, (kept / p).ptrace([0, 1])


FIDELITIES = [0.25, 0.5, 0.7, 0.85, 0.95, 1.0]


@pytest.mark.parametrize("f1", FIDELITIES)
@pytest.mark.parametrize("f2", [0.6, 0.9, 1.0])
def test_swap_matches_bell_measurement(f1: float, f2: float) -> None:
    rho = qt.tensor(werner(f1), werner(f2))  # qubits (1, 2) and (3, 4)
    # Every Bell outcome on the middle qubits, corrected by the matching Pauli on qubit 4,
    # leaves the outer qubits with the same fidelity; each outcome has probability 1/4.
    paulis = [qt.qeye(2), qt.sigmaz() * qt.sigmax(), qt.sigmax(), qt.sigmaz()]
    for bell, corr in zip(BELL, paulis, strict=True):
        proj = qt.tensor(qt.qeye(2), bell.proj(), qt.qeye(2))
        out = proj * rho * proj
        p = float(out.tr().real)
        assert p == pytest.approx(0.25, abs=1e-12)
        pair = (out / p).ptrace([0, 3])
        fix = qt.tensor(qt.qeye(2), corr)
        pair = fix * pair * fix.dag()
        assert qt.expect(PHI_P.proj(), pair) == pytest.approx(swap_fidelity(f1, f2), abs=1e-12)


@pytest.mark.parametrize(("t_a", "t_b"), [(1.0, 1.0), (0.5, 2.0)])
def test_depolarising_memories_give_pair_level_formula(t_a: float, t_b: float) -> None:
    f0 = 0.95
    # Lindblad rate 1/(4T) per Pauli shrinks a qubit's Bloch vector as exp(-t/T).
    c_ops = []
    for q, t in ((0, t_a), (1, t_b)):
        for s in (qt.sigmax(), qt.sigmay(), qt.sigmaz()):
            ops = [qt.qeye(2), qt.qeye(2)]
            ops[q] = s
            c_ops.append(np.sqrt(1 / (4 * t)) * qt.tensor(*ops))
    times = np.linspace(0.0, 3.0, 7)
    h = qt.qzero([2, 2])
    result = qt.mesolve(h, werner(f0), times, c_ops, e_ops=[PHI_P.proj()])
    t_pair = pair_coherence_time(t_a, t_b)
    expected = decohered_fidelity(f0, times, t_pair)
    np.testing.assert_allclose(result.expect[0], expected, atol=1e-6)


@pytest.mark.parametrize("f1", [0.5, 0.7, 0.9, 0.99])
@pytest.mark.parametrize("f2", [0.55, 0.8, 0.95])
def test_bbpssw_matches_circuit(f1: float, f2: float) -> None:
    p, out = purify_circuit(werner(f1), werner(f2), dejmps_rotation=False)
    p_formula, f_formula = bbpssw(f1, f2)
    assert p == pytest.approx(p_formula, abs=1e-12)
    assert qt.expect(PHI_P.proj(), out) == pytest.approx(f_formula, abs=1e-12)


@pytest.mark.parametrize(
    ("c1", "c2"),
    [
        ([0.7, 0.1, 0.1, 0.1], [0.7, 0.1, 0.1, 0.1]),
        ([0.8, 0.15, 0.03, 0.02], [0.6, 0.05, 0.3, 0.05]),
        ([0.5, 0.2, 0.2, 0.1], [0.9, 0.02, 0.03, 0.05]),
        ([0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]),
    ],
)
def test_dejmps_matches_circuit(c1: list[float], c2: list[float]) -> None:
    p, out = purify_circuit(bell_diagonal(np.array(c1)), bell_diagonal(np.array(c2)), True)
    p_formula, c_formula = dejmps(c1, c2)
    assert p == pytest.approx(p_formula, abs=1e-12)
    np.testing.assert_allclose(bell_coefficients(out), c_formula, atol=1e-12)
    # The output stays Bell-diagonal: no weight off the Bell basis.
    assert bell_coefficients(out).sum() == pytest.approx(1.0, abs=1e-12)


def test_dejmps_on_werner_equals_bbpssw_first_round_fidelity() -> None:
    # Both protocols see the same Φ+ weight in the first round on Werner inputs.
    f = 0.8
    p_b, f_b = bbpssw(f, f)
    p_d, c_d = dejmps(werner_bell_diagonal(f), werner_bell_diagonal(f))
    assert p_b == pytest.approx(p_d)
    assert f_b == pytest.approx(c_d[0])
