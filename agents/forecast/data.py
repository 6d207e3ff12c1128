"""Request traces as forecasting data: per-node windows, features, seasonal period, splits.

A trace (:class:`qenv.network.traffic.Trace`: timestamp in seconds, source,
destination, requested fidelity) is cut into windows of ``window_s`` seconds; window
``i`` covers ``[i·W, (i + 1)·W)`` s, as :meth:`RequestHistory.counts` does. The
forecast target of node ``n`` is the number of requests whose *source* is ``n`` (the
node that queues the request and claims its paths), per window: ``counts[t, n]``.

Inputs per window and node (:data:`FEATURES`, float32; the order of the model's input):

| feature | value |
| --- | --- |
| ``count`` | requests of the node in the window / the node's scale |
| ``fidelity`` | mean requested fidelity F_min of those requests (0 without requests) |
| ``destinations`` | distinct destinations / requests (0 without requests) |
| ``time_sin``, ``time_cos`` | sin, cos of 2π·i/P, window index i, period P (0: none) |

The node's scale is its mean count per window over the fit part (:func:`node_scale`),
so the scaled count has mean 1 whatever the node's popularity. The destination summary
is the share of distinct destinations (1: every request to another node, low:
concentrated) rather than a mean distance, because a trace carries no topology; it
lies in [0, 1], as do all features except the scaled count.

Seasonal period (:func:`estimate_period`), from the training part only, so nothing
leaks from the test part. Every node's counts are standardised and their power
spectra averaged with weights ∝ the node's mean count (per node rather than on the
aggregate, so that nodes whose cycles are shifted do not cancel). The strongest line
at k >= 2 cycles over the series is a period when it stands ``3·ln(T/2)`` times above
the median power in bins k/2 … 2k (in one node's white-noise spectrum a bin does so
with probability ~(T/2)^−2, so some bin with ~(T/2)^−1; averaging nodes makes it rarer);
a line at a third or half of its frequency that is also significant is the
fundamental instead (a non-sinusoidal cycle also has lines at 2f and 3f). The period
is then located to a fraction of a frequency bin on an 8x zero-padded spectrum and
rounded to whole windows; when the window length is known and the estimate lies
within 3 % of a day or a week that is a whole number of windows, that calendar period
is taken. No line -> no seasonality (time features 0, ``seasonal_naive`` becomes
``last_value``).

Splits (:func:`split_windows`): the first ``train_fraction`` of the windows train the
model, of which the last ``val_fraction`` (at least ``H + 1`` windows) is the
validation part for early stopping; the rest is the held-out test part. A forecast
origin ``t`` (the newest observed window) predicts windows ``t + 1 … t + H``; an origin
belongs to the part that holds all of its targets, so every scored target lies in its
part while the history before it may come from earlier parts (as when forecasting
online). Each part must hold at least ``H + 1`` windows; a shorter trace raises
:class:`TraceTooShortError`, which says how many windows (and seconds) are needed.

Everything is vectorised numpy; nothing here imports torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int
from qenv.network.traffic import Trace

__all__ = [
    "FEATURES",
    "Split",
    "TraceTooShortError",
    "WindowCounts",
    "aggregate",
    "estimate_period",
    "load_trace",
    "min_windows",
    "node_scale",
    "split_windows",
    "targets",
    "window_features",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]
PathLike = str | os.PathLike[str]

#: Input features per window and node, in the model's input order.
FEATURES: tuple[str, ...] = ("count", "fidelity", "destinations", "time_sin", "time_cos")

#: Smallest node scale, as a fraction of the mean scale over nodes (silent nodes).
_SCALE_FLOOR = 0.05


class TraceTooShortError(ValueError):
    """A trace with too few windows for the horizon and the splits."""


def _check_window(window_s: float) -> float:
    if isinstance(window_s, bool) or not isinstance(window_s, int | float | np.number):
        raise ValueError(f"window_s must be a number of seconds > 0, got {window_s!r}")
    w = float(window_s)
    if not math.isfinite(w) or w <= 0:
        raise ValueError(f"window_s must be finite and > 0 (s), got {window_s!r}")
    return w


def _check_fraction(name: str, value: float, low: float = 0.0, high: float = 1.0) -> float:
    v = float(value)
    if not low < v < high:
        raise ValueError(f"{name} must lie in ({low:g}, {high:g}), got {value!r}")
    return v


# --------------------------------------------------------------------------- traces


def load_trace(path: PathLike, n_nodes: int | None = None) -> Trace:
    """Read a ``timestamp,source,destination,fidelity`` CSV trace (timestamps in s).

    Builds on :meth:`Trace.from_csv`, whose ``ValueError`` names the file and the
    1-based line (header = line 1) of a missing column, an unparseable row, a negative
    timestamp, a fidelity outside [0.25, 1], ``source == destination``, or (when
    ``n_nodes`` is known) a node id outside ``[0, n_nodes)``. Adds: a missing or
    unreadable file and a trace without rows are ``ValueError`` naming the file.
    """
    name = os.fspath(path)
    try:
        trace = Trace.from_csv(path, n_nodes)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: cannot read trace: {exc}") from exc
    if len(trace) == 0:
        raise ValueError(f"{name}: the trace has no rows (only a header)")
    return trace


@dataclass(frozen=True)
class WindowCounts:
    """Per-node request statistics per window of ``window_s`` s; arrays are (T, N).

    ``counts`` (requests with the node as source), ``fidelity_sum`` (sum of their
    requested fidelities) and ``destinations`` (distinct destinations among them).
    """

    counts: IntArray
    fidelity_sum: FloatArray
    destinations: IntArray
    window_s: float

    @property
    def n_windows(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.counts.shape[1])


def aggregate(
    trace: Trace,
    window_s: float,
    n_nodes: int | None = None,
    n_windows: int | None = None,
) -> WindowCounts:
    """Per-node counts, fidelity sums and distinct destinations per window.

    Args:
        trace: the requests.
        window_s: window length (s); window i covers [i·W, (i + 1)·W).
        n_nodes: number of nodes (default: largest node id + 1); a larger id in the
            trace is an error.
        n_windows: windows to keep (default: up to the window of the last request).
    """
    w = _check_window(window_s)
    node_max = int(max(trace.source.max(initial=-1), trace.destination.max(initial=-1)))
    if n_nodes is None:
        n_nodes = max(node_max + 1, 2)
    n = check_positive_int("n_nodes", n_nodes, 2)
    if node_max >= n:
        raise ValueError(f"n_nodes={n} but the trace has node {node_max}")
    win = np.floor(trace.timestamp / w).astype(np.int64)
    if n_windows is None:
        t = int(win[-1]) + 1 if win.size else 0
    else:
        t = check_positive_int("n_windows", n_windows, 0)
    keep = win < t
    src, dst = trace.source[keep], trace.destination[keep]
    cell = win[keep] * n + src
    size = t * n
    counts = np.bincount(cell, minlength=size).reshape(t, n)
    fid = np.bincount(cell, weights=trace.fidelity[keep], minlength=size).reshape(t, n)
    # Distinct (window, source, destination) triples, counted per (window, source).
    triple = np.unique(cell * n + dst)
    dests = np.bincount(triple // n, minlength=size).reshape(t, n)
    return WindowCounts(counts.astype(np.int64), fid.astype(np.float64), dests.astype(np.int64), w)


# --------------------------------------------------------------------------- features


def node_scale(counts: npt.ArrayLike) -> FloatArray:
    """Per-node scale: the mean count per window, floored at 5 % of the mean over nodes.

    The floor keeps nodes that were (almost) silent from dividing by ~0.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] == 0:
        raise ValueError(f"counts must have shape (windows >= 1, nodes), got {c.shape}")
    mean = c.mean(axis=0)
    floor = max(_SCALE_FLOOR * float(mean.mean()), 1e-6)
    out: FloatArray = np.maximum(mean, floor)
    return out


def window_features(
    counts: npt.ArrayLike,
    fidelity_sum: npt.ArrayLike,
    destinations: npt.ArrayLike,
    scale: FloatArray,
    period: int | None,
    start: int = 0,
    out: F32Array | None = None,
) -> F32Array:
    """The :data:`FEATURES` of windows ``start, start + 1, …``: (T, N, F) float32.

    ``counts``, ``fidelity_sum`` and ``destinations`` are (T, N) (see :func:`aggregate`);
    ``scale`` is (N,) from :func:`node_scale`; ``period`` in windows or None. ``out``
    (T, N, F) float32 is filled in place when given (the wrapper's step path).
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"counts must have shape (windows, nodes), got {c.shape}")
    t, n = c.shape
    if out is None:
        out = np.empty((t, n, len(FEATURES)), dtype=np.float32)
    inv = 1.0 / np.maximum(c, 1.0)
    out[..., 0] = c / scale
    out[..., 1] = np.asarray(fidelity_sum) * inv
    out[..., 2] = np.asarray(destinations) * inv
    if period:
        angle = (2.0 * np.pi / period) * np.arange(start, start + t, dtype=np.float64)
        out[..., 3] = np.sin(angle)[:, None]
        out[..., 4] = np.cos(angle)[:, None]
    else:
        out[..., 3:5] = 0.0
    return out


def estimate_period(
    counts: npt.ArrayLike, window_s: float | None = None, min_period: int = 2
) -> int | None:
    """Seasonal period in windows (see the module docstring), or None.

    Args:
        counts: (T, N) counts per window; only the part to learn from.
        window_s: window length (s); enables snapping to a day or a week.
        min_period: shortest period considered (windows).
    """
    spec, xs, weight = _mean_spectrum(counts)
    t = xs.shape[0]
    lo_k, hi_k = 2, min(t // max(int(min_period), 2), spec.size - 1)
    if spec.size == 0 or hi_k < lo_k:
        return None
    threshold = 3.0 * math.log(max(t / 2.0, 2.0))

    def strength(k: int) -> float:
        band = spec[max(1, k // 2) : min(spec.size, 2 * k + 1)]
        background = float(np.median(band))
        return float(spec[k]) / background if background > 0 else math.inf

    ks = np.arange(lo_k, hi_k + 1)
    k = int(ks[np.argmax(spec[ks])])
    if strength(k) < threshold:
        return None
    for divisor in (3, 2):  # prefer the fundamental when it is a line too
        sub = round(k / divisor)
        if sub >= lo_k:
            near = np.arange(max(lo_k, sub - 1), min(hi_k, sub + 1) + 1)
            best = int(near[np.argmax(spec[near])])
            if strength(best) >= threshold:
                k = best
                break
    # Sub-bin location of the line on a zero-padded spectrum.
    pad = 8
    fine = (np.abs(np.fft.rfft(xs, n=pad * t, axis=0)) ** 2) @ weight
    window = np.arange(max(1, pad * k - pad), min(fine.size - 1, pad * k + pad) + 1)
    j = int(window[np.argmax(fine[window])])
    period_f = pad * t / j
    period = round(period_f)
    if window_s is not None:
        for calendar_s in (86_400.0, 604_800.0):
            whole = calendar_s / window_s
            if abs(whole - round(whole)) < 1e-6 and abs(period_f / whole - 1.0) <= 0.03:
                period = round(whole)
    return period if max(2, int(min_period)) <= period <= t // 2 else None


def _mean_spectrum(
    counts: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Power spectrum (rfft bins) of the per-node standardised counts, averaged with
    weights ∝ the node's mean count; also the standardised series and the weights.
    Constant nodes are left out."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] < 4:
        raise ValueError(f"counts must have shape (windows >= 4, nodes), got {c.shape}")
    t = c.shape[0]
    x = c - c.mean(axis=0)
    sd = np.sqrt((x * x).mean(axis=0))
    ok = sd > 0
    if not ok.any():
        return np.zeros(0), np.zeros((t, 0)), np.zeros(0)
    xs = x[:, ok] / sd[ok]
    weight = c.mean(axis=0)[ok]
    weight = weight / weight.sum()
    spec: FloatArray = (np.abs(np.fft.rfft(xs, axis=0)) ** 2) @ weight
    return spec, xs, weight


# --------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class Split:
    """Window indices of the parts: fit ``[0, fit_end)``, validation ``[fit_end,
    train_end)``, test ``[train_end, n_windows)``; origins as in the module docstring."""

    n_windows: int
    horizon: int
    fit_end: int
    train_end: int

    def _origins(self, start: int, stop: int) -> IntArray:
        # Origins t with t + 1 >= start and t + H < stop.
        return np.arange(max(start - 1, 0), stop - self.horizon, dtype=np.int64)

    @property
    def fit_origins(self) -> IntArray:
        return self._origins(0, self.fit_end)

    @property
    def val_origins(self) -> IntArray:
        return self._origins(self.fit_end, self.train_end)

    @property
    def test_origins(self) -> IntArray:
        return self._origins(self.train_end, self.n_windows)


def _parts(n_windows: int, train_fraction: float, val_fraction: float, horizon: int) -> Split:
    train_end = math.floor(train_fraction * n_windows)
    val = max(horizon + 1, round(val_fraction * train_end))
    return Split(n_windows, horizon, train_end - val, train_end)


def _long_enough(s: Split) -> bool:
    need = s.horizon + 1
    return (
        s.fit_end >= need and s.train_end - s.fit_end >= need and s.n_windows - s.train_end >= need
    )


def min_windows(horizon: int, train_fraction: float = 0.7, val_fraction: float = 0.2) -> int:
    """Fewest windows for which every part (fit, validation, test) holds ``H + 1``."""
    horizon = check_positive_int("horizon", horizon)
    train_fraction = _check_fraction("train_fraction", train_fraction)
    val_fraction = _check_fraction("val_fraction", val_fraction)
    t = 3 * (horizon + 1)
    while not _long_enough(_parts(t, train_fraction, val_fraction, horizon)):
        t += 1
    return t


def split_windows(
    n_windows: int,
    horizon: int,
    train_fraction: float = 0.7,
    val_fraction: float = 0.2,
    window_s: float | None = None,
) -> Split:
    """Fit / validation / test parts of ``n_windows`` windows (see the module docstring).

    Raises:
        TraceTooShortError: a part would hold fewer than ``horizon + 1`` windows; the
            message gives the number of windows needed (and seconds, with ``window_s``).
    """
    n_windows = check_positive_int("n_windows", n_windows, 0)
    horizon = check_positive_int("horizon", horizon)
    train_fraction = _check_fraction("train_fraction", train_fraction)
    val_fraction = _check_fraction("val_fraction", val_fraction)
    split = _parts(n_windows, train_fraction, val_fraction, horizon)
    if not _long_enough(split):
        need = min_windows(horizon, train_fraction, val_fraction)
        have = f"{n_windows} windows"
        want = f"{need} windows"
        if window_s is not None:
            have += f" of {window_s:g} s ({n_windows * window_s:g} s)"
            want += f" ({need * window_s:g} s of trace)"
        raise TraceTooShortError(
            f"trace too short for horizon {horizon}: it has {have}; with train fraction "
            f"{train_fraction:g} it needs at least {want}, so that the fit, validation and "
            f"test parts each hold {horizon + 1} windows (one forecast origin and its "
            f"{horizon} targets)"
        )
    return split


def targets(counts: npt.ArrayLike, origins: IntArray, horizon: int) -> FloatArray:
    """``counts[t + h]`` for each origin t and h = 1 … H: shape (origins, H, N)."""
    c = np.asarray(counts, dtype=np.float64)
    idx = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    if idx.size and (idx.min() < 0 or idx.max() >= c.shape[0]):
        raise ValueError("targets: an origin's horizon runs past the end of the series")
    out: FloatArray = c[idx]
    return out
