"""③-4 ImpactFore: the forecast value of a task, from its priority and problem size.

A task's value is forecast as priority × problem size: the priority class (1 low, 2 normal,
3 high) says how much the submitter values the result, and the problem size, the width of
the circuit (the variables of the instance: graph nodes for QAOA MaxCut, (n − 1)² for TSP,
spin orbitals for VQE, register bits for GHZ/QFT/arithmetic), how much a solved instance is
worth. Log-compressed and normalised by the largest value of the scale::

    ImpactFore = ln(1 + priority · size) / ln(1 + priority_max · size_max)   ∈ [0, 1]

(clipped; ``impact.size_max`` 64 qubits and ``impact.priority_max`` 3 by default). V then
takes ln(ImpactFore + 1) (DESIGN.md §5). It is a property of the task, equal on every QPU.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["impact_fore"]


def impact_fore(
    priority: npt.ArrayLike,
    size: npt.ArrayLike,
    *,
    size_max: float = 64.0,
    priority_max: float = 3.0,
) -> float | npt.NDArray[np.float64]:
    """ImpactFore of the module docstring, elementwise (a float for scalars).

    Raises:
        ValueError: NaN or negative priority or size; non-positive maxima.
    """
    p = np.asarray(priority, dtype=np.float64)
    s = np.asarray(size, dtype=np.float64)
    for name, arr in (("priority", p), ("size", s)):
        if np.isnan(arr).any() or (arr < 0).any():
            raise ValueError(f"{name} must be >= 0 and not NaN, got {arr!r}")
    if not (size_max > 0 and priority_max > 0):
        raise ValueError(f"size_max and priority_max must be > 0, got {size_max}, {priority_max}")
    scale = math.log1p(priority_max * size_max)
    out = np.clip(np.log1p(p * s) / scale, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out
