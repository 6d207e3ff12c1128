"""Input checks that fail early with the argument's name and the allowed range.

Every public function of qenv validates its arguments with these helpers, so a
bad value is reported where it enters, never deep inside a vectorised kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = float | int | npt.ArrayLike


def as_float_array(name: str, value: Any) -> FloatArray:
    """``value`` as a float64 array; ``ValueError`` naming ``name`` if it is not numeric or NaN."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {value!r}") from exc
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not be NaN")
    return arr


def check_range(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> FloatArray:
    """Return ``value`` as an array after checking ``low <= value <= high`` elementwise.

    ``low_open``/``high_open`` make the bound strict. The error names the argument,
    the allowed interval and the first offending value.
    """
    arr = as_float_array(name, value)
    bad = np.zeros(arr.shape, dtype=bool)
    if low is not None:
        bad |= (arr <= low) if low_open else (arr < low)
    if high is not None:
        bad |= (arr >= high) if high_open else (arr > high)
    if bad.any():
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        interval = f"{left}{lo}, {hi}{right}"
        first = arr[bad].flat[0]
        raise ValueError(f"{name} must lie in {interval}, got {first:g}")
    return arr


def check_probability(name: str, value: Any) -> FloatArray:
    """A probability in [0, 1]."""
    return check_range(name, value, 0.0, 1.0)


def check_fidelity(name: str, value: Any) -> FloatArray:
    """A two-qubit fidelity to |Φ+⟩ of a Werner pair, in [0.25, 1]."""
    return check_range(name, value, 0.25, 1.0)


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """An integer ``>= minimum`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)
