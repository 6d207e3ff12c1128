"""Entanglement purification: BBPSSW (Werner in and out) and DEJMPS (Bell-diagonal).

Both take two pairs, apply bilateral CNOTs (pair 1 controls, pair 2 targets),
measure pair 2 in the computational basis on both sides and keep pair 1 when
the outcomes agree. They return ``(p_success, output)``; both are elementwise
over arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qenv.checks import FloatArray, check_fidelity, check_probability
from qenv.physics.states import scalar_or_array


def bbpssw(f1: Any, f2: Any) -> tuple[Any, Any]:
    """BBPSSW recurrence (Bennett et al. 1996) for Werner pairs with fidelities F1, F2.

    p = F1F2 + [F1(1−F2) + (1−F1)F2]/3 + 5(1−F1)(1−F2)/9,
    F' = [F1F2 + (1−F1)(1−F2)/9] / p; the output is twirled back to a Werner pair.
    """
    a = check_fidelity("f1", f1)
    b = check_fidelity("f2", f2)
    na, nb = 1.0 - a, 1.0 - b
    p = a * b + (a * nb + na * b) / 3.0 + 5.0 * na * nb / 9.0
    f_out = (a * b + na * nb / 9.0) / p
    return scalar_or_array(p), scalar_or_array(f_out)


def _check_bell_diagonal(name: str, c: Any) -> FloatArray:
    arr = check_probability(name, c)
    if arr.shape[-1:] != (4,):
        raise ValueError(
            f"{name} must have a last axis of 4 Bell coefficients, got shape {arr.shape}"
        )
    if not np.allclose(arr.sum(axis=-1), 1.0, atol=1e-9):
        raise ValueError(f"{name} must sum to 1 over its last axis")
    return arr


def dejmps(c1: Any, c2: Any) -> tuple[Any, FloatArray]:
    """DEJMPS recurrence (Deutsch et al. 1996) on Bell-diagonal pairs.

    Coefficients (A, B, C, D) = (Φ+, Ψ−, Ψ+, Φ−) along the last axis. With
    N = (A1+B1)(A2+B2) + (C1+D1)(C2+D2) the success probability:
    A' = (A1A2 + B1B2)/N, B' = (C1D2 + D1C2)/N, C' = (C1C2 + D1D2)/N,
    D' = (A1B2 + B1A2)/N. Before the CNOTs Alice applies Rx(π/2) and Bob
    Rx(−π/2) to each of their qubits, which swaps the roles of Ψ− and Φ−.
    """
    x = _check_bell_diagonal("c1", c1)
    y = _check_bell_diagonal("c2", c2)
    a1, b1, cc1, d1 = np.moveaxis(x, -1, 0)
    a2, b2, cc2, d2 = np.moveaxis(y, -1, 0)
    n = (a1 + b1) * (a2 + b2) + (cc1 + d1) * (cc2 + d2)
    out = (
        np.stack(
            [a1 * a2 + b1 * b2, cc1 * d2 + d1 * cc2, cc1 * cc2 + d1 * d2, a1 * b2 + b1 * a2],
            axis=-1,
        )
        / n[..., None]
    )
    return scalar_or_array(n), out
