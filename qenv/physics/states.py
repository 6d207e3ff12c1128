"""Werner and Bell-diagonal two-qubit states, memory decoherence and swapping.

Conventions (DESIGN.md §1): fidelity F = ⟨Φ+|ρ|Φ+⟩ in [0.25, 1]; a Werner pair
ρ = w|Φ+⟩⟨Φ+| + (1 − w)·I/4 has Werner parameter w = (4F − 1)/3. Bell-diagonal
coefficients are ordered (Φ+, Ψ−, Ψ+, Φ−). Every function is elementwise over
numpy arrays; scalars in give floats out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qenv.checks import FloatArray, check_fidelity, check_range

#: Order of the Bell-diagonal coefficients used throughout qenv.
BELL_ORDER = ("phi_plus", "psi_minus", "psi_plus", "phi_minus")


def scalar_or_array(x: FloatArray) -> Any:
    """A 0-d result as a Python float, anything else as an array."""
    return float(x) if np.ndim(x) == 0 else x


def werner_parameter(fidelity: Any) -> Any:
    """w = (4F − 1)/3 of a Werner pair with fidelity F."""
    f = check_fidelity("fidelity", fidelity)
    return scalar_or_array((4.0 * f - 1.0) / 3.0)


def fidelity_from_werner(w: Any) -> Any:
    """F = (3w + 1)/4, the inverse of :func:`werner_parameter`; w in [0, 1]."""
    arr = check_range("w", w, 0.0, 1.0)
    return scalar_or_array((3.0 * arr + 1.0) / 4.0)


def werner_bell_diagonal(fidelity: Any) -> FloatArray:
    """Bell-diagonal coefficients (..., 4) of a Werner pair: (F, (1−F)/3, (1−F)/3, (1−F)/3)."""
    f = check_fidelity("fidelity", fidelity)
    rest = (1.0 - f) / 3.0
    return np.stack([f, rest, rest, rest], axis=-1)


def pair_coherence_time(t_coh_a: Any, t_coh_b: Any) -> Any:
    """Pair-level coherence time of two memories depolarising independently.

    Each memory shrinks its qubit's Bloch vector by exp(−t/T_i); on a Werner pair
    that multiplies w by both factors, so 1/T_pair = 1/T_a + 1/T_b.
    """
    ta = check_range("t_coh_a", t_coh_a, 0.0, low_open=True)
    tb = check_range("t_coh_b", t_coh_b, 0.0, low_open=True)
    return scalar_or_array(ta * tb / (ta + tb))


def decohered_fidelity(f0: Any, t: Any, t_coh: Any) -> Any:
    """F(t) = 1/4 + (F0 − 1/4)·exp(−t/T_coh): depolarising memory at pair level.

    ``t`` and ``t_coh`` in the same unit (seconds or slots); ``t_coh`` may be
    ``inf`` for a perfect memory.
    """
    f = check_fidelity("f0", f0)
    tt = check_range("t", t, 0.0)
    tc = check_range("t_coh", t_coh, 0.0, low_open=True)
    return scalar_or_array(0.25 + (f - 0.25) * np.exp(-tt / tc))


def swap_fidelity(f1: Any, f2: Any) -> Any:
    """Fidelity after swapping two Werner pairs with a perfect Bell measurement.

    F' = F1·F2 + (1 − F1)(1 − F2)/3, i.e. w' = w1·w2 (Dür & Briegel 2007). The
    result is again a Werner pair.
    """
    a = check_fidelity("f1", f1)
    b = check_fidelity("f2", f2)
    return scalar_or_array(a * b + (1.0 - a) * (1.0 - b) / 3.0)
