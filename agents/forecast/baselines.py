"""Naive demand forecasts and the error metrics the forecaster is scored with.

All forecasts take per-node counts ``counts`` (T, N) per window and forecast origins
``origins`` (O,) (the newest observed window), and return (O, H, N): the predicted
count of each node in windows ``t + 1 … t + H``. They use only windows ``<= t``.

| name | forecast of window t + h |
| --- | --- |
| ``last_value`` | ``counts[t]`` |
| ``moving_average`` | mean of ``counts[t − k + 1 … t]``; k chosen on the training part |
| ``seasonal_naive`` | ``counts[t + h − P·⌈h/P⌉]``: the same time one period P earlier |

``moving_average`` picks its window k among :data:`MA_WINDOWS` by the lowest RMSE at
the training origins (:func:`best_window`), so it is the best flat forecast of its
kind, not a strawman. ``seasonal_naive`` is the seasonal naive method of Hyndman &
Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed. (2021), §5.2, with the
period P in windows estimated on the training part
(:func:`agents.forecast.data.estimate_period`) or given.

Metrics (:func:`forecast_errors`): ``rmse_per_step[h]`` is the RMSE over origins and
nodes of the counts h + 1 windows ahead; ``rmse`` is their mean over the H steps and
``mae`` the mean absolute error over origins, steps and nodes (equal to the mean of
the per-step MAEs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int

__all__ = [
    "BASELINES",
    "MA_WINDOWS",
    "ForecastErrors",
    "best_window",
    "forecast_errors",
    "last_value",
    "moving_average",
    "seasonal_naive",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Names of the naive baselines, in report order.
BASELINES: tuple[str, ...] = ("last_value", "moving_average", "seasonal_naive")

#: Candidate windows of ``moving_average`` tried by :func:`best_window`.
MA_WINDOWS: tuple[int, ...] = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)


def _check(
    counts: npt.ArrayLike, origins: npt.ArrayLike, horizon: int
) -> tuple[FloatArray, IntArray]:
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"counts must have shape (windows, nodes), got {c.shape}")
    o = np.asarray(origins, dtype=np.int64).reshape(-1)
    check_positive_int("horizon", horizon)
    if o.size and (o.min() < 0 or o.max() >= c.shape[0]):
        raise ValueError(f"origins must lie in [0, {c.shape[0]}), got {o.min()}…{o.max()}")
    return c, o


class ForecastErrors(TypedDict):
    """Scores of one forecast (requests per window): see the module docstring."""

    mae: float
    rmse: float
    rmse_per_step: list[float]


def last_value(counts: npt.ArrayLike, origins: npt.ArrayLike, horizon: int) -> FloatArray:
    """Persistence: every step ahead gets the newest window's count."""
    c, o = _check(counts, origins, horizon)
    out: FloatArray = np.repeat(c[o][:, None, :], horizon, axis=1)
    return out


def moving_average(
    counts: npt.ArrayLike, origins: npt.ArrayLike, horizon: int, window: int
) -> FloatArray:
    """Mean of the last ``window`` windows (fewer at the start of the series)."""
    c, o = _check(counts, origins, horizon)
    k = check_positive_int("window", window)
    cum = np.vstack([np.zeros((1, c.shape[1])), np.cumsum(c, axis=0)])
    lo = np.maximum(o + 1 - k, 0)
    mean = (cum[o + 1] - cum[lo]) / (o + 1 - lo)[:, None]
    out: FloatArray = np.repeat(mean[:, None, :], horizon, axis=1)
    return out


def seasonal_naive(
    counts: npt.ArrayLike, origins: npt.ArrayLike, horizon: int, period: int | None
) -> FloatArray:
    """The count one period earlier; ``period=None`` (no seasonality) is ``last_value``.

    Where ``t + h − P·⌈h/P⌉`` is before the first window, the oldest window is used.
    """
    c, o = _check(counts, origins, horizon)
    if period is None:
        return last_value(c, o, horizon)
    p = check_positive_int("period", period)
    h = np.arange(1, horizon + 1)
    lag = p * -(-h // p)  # P·ceil(h/P) >= h: always an observed window
    idx = np.maximum(o[:, None] + h[None, :] - lag[None, :], 0)
    out: FloatArray = c[idx]
    return out


def forecast_errors(pred: npt.ArrayLike, truth: npt.ArrayLike) -> ForecastErrors:
    """``{"mae", "rmse", "rmse_per_step"}`` of (O, H, N) forecasts (see the module docstring)."""
    p = np.asarray(pred, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 3 or p.shape[0] == 0:
        raise ValueError(
            f"pred and truth must have one shape (origins >= 1, H, N), got {p.shape}, {y.shape}"
        )
    err = p - y
    per_step = np.sqrt((err * err).mean(axis=(0, 2)))
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(per_step.mean()),
        "rmse_per_step": [float(v) for v in per_step],
    }


def best_window(
    counts: npt.ArrayLike,
    origins: npt.ArrayLike,
    horizon: int,
    candidates: Sequence[int] = MA_WINDOWS,
) -> int:
    """The ``moving_average`` window with the lowest mean RMSE at ``origins`` (ties: the
    shorter). Pass origins of the training part only, so that the test part stays unseen."""
    c, o = _check(counts, origins, horizon)
    if o.size == 0:
        raise ValueError("origins: need at least one origin to choose a window")
    if o.max() + horizon >= c.shape[0]:
        raise ValueError("origins: an origin's horizon runs past the end of the series")
    truth = c[o[:, None] + np.arange(1, horizon + 1)[None, :]]
    usable = [check_positive_int("candidates", k) for k in candidates] or [1]
    scores = [forecast_errors(moving_average(c, o, horizon, k), truth)["rmse"] for k in usable]
    return int(usable[int(np.argmin(scores))])
