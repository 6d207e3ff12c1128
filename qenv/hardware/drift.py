"""Calibration drift: the true noise of a QPU wanders around its snapshot (DESIGN.md §4).

Agents schedule on the last published calibration while circuits run on the true noise,
which has moved since. :class:`CalibrationDrift` keeps both.

Model. Every calibrated number of :class:`~qenv.hardware.spec.Calibration` is a latent
``x`` that follows its own Ornstein–Uhlenbeck process around the snapshot value ``μ``::

    dx = −θ (x − μ) dt + σ dW

in log space for times (``x = ln T1``, ``ln T2``) and in logit space for error
probabilities (``x = ln(p / (1 − p))`` for readout, 1q and 2q errors), so times stay
positive and probabilities stay in [0, 1). For the small error rates of real devices
logit ≈ log, so ``σ`` is a relative volatility for every quantity. The transition is
exact for any step ``Δ``::

    x(t + Δ) = μ + (x(t) − μ)·e^(−θΔ) + σ·sqrt((1 − e^(−2θΔ)) / (2θ))·ξ,   ξ ~ N(0, 1)

so results do not depend on the step size (in distribution) and the stationary law is
N(μ, σ²/(2θ)): the long-run mean of ``ln T1`` is the snapshot's, which is the median
of T1. Entries that cannot move stay fixed: infinite T1/T2 (photonic) and zero
probabilities. T2 is clipped to 2·T1 on output (by ``Calibration``), not in the latent
walk. Entries drift independently and share one ``σ`` and one ``θ``: a documented
simplification (the correlated part of real drift, e.g. a fridge warming up, is absent).

Units and defaults: ``sigma`` in 1/sqrt(hour), ``reversion`` θ in 1/hour (1/θ is the
correlation time), times in seconds. σ = 0.15 /√h and θ = 0.5 /h give a 2-hour
correlation time and a stationary relative spread σ/√(2θ) = 15 % (excursions of ±30 %
are routine), and move the noise by about 0.15·√(1000/3600) ≈ 8 % over a 1,000-s
episode. This matches the reported scale: transmon T1 fluctuates by tens of percent over
hours as two-level-system defects drift through the qubit frequency (Klimov et al., PRL
121, 090502 (2018); Burnett et al., npj Quantum Inf. 5, 54 (2019)). ``sigma=0`` gives a
static device.

Recalibration: agents see :meth:`CalibrationDrift.observed`, the true calibration as it
was at the last recalibration time ``k·recalibration_period_s`` (``k = 0``: the
snapshot). Steps are split at recalibration times, so the copy is the true noise at that
instant. Recalibrating only measures: it does not pull the true noise back to the
snapshot (IBM re-tunes gates daily; over an episode, measurement is what matters).
Default period: one hour.

Versions: every calibration made here gets a version from a process-wide counter
(increasing, never reused within the process, and above the snapshot's own version), so
``(spec.name, version)`` stays a safe cache key across drifts and episodes. Versions are
keys, not data: two drifts with the same seed produce the same numbers under different
versions.
"""

from __future__ import annotations

import math
import threading
from typing import Final

import numpy as np

from qenv.hardware.spec import Calibration, FloatArray, QPUSpec

__all__ = ["HOUR_S", "CalibrationDrift", "new_version"]

HOUR_S: Final = 3600.0
_version_lock = threading.Lock()
_last_version = 0
# Largest float64 below 1: keeps a probability inside [0, 1) after expit rounds.
_BELOW_ONE: Final = float(np.nextafter(1.0, 0.0))
_TINY: Final = float(np.finfo(np.float64).tiny)
_REAL = int | float | np.integer | np.floating
_TIME_KEYS: Final = ("t1_s", "t2_s")
_PROBABILITY_KEYS: Final = ("readout_error", "gate_error_1q", "gate_error_2q")


def _logit(p: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore"):  # p = 0 -> -inf: a zero error never drifts
        out: FloatArray = np.log(p) - np.log1p(-p)
    return out


def _expit(x: FloatArray, out: FloatArray) -> None:
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x << 0: expit -> 0
        np.exp(-x, out=out)
    out += 1.0
    np.reciprocal(out, out=out)


def new_version(after: int = 0) -> int:
    """A calibration version above ``after`` and above every version handed out before."""
    global _last_version
    with _version_lock:
        _last_version = max(_last_version, after) + 1
        return _last_version


class CalibrationDrift:
    """True calibration of one QPU as a mean-reverting random walk; observed = last recalibration.

    Args:
        spec: the device; its ``calibration`` is the snapshot the walk reverts to.
        sigma: volatility of ln T and logit p, in 1/sqrt(hour) (>= 0; 0: no drift).
        reversion: mean-reversion rate θ, in 1/hour (>= 0; 0: a pure random walk).
        recalibration_period_s: time between recalibrations, s (> 0; ``math.inf``:
            agents only ever see the snapshot).
    """

    def __init__(
        self,
        spec: QPUSpec,
        *,
        sigma: float = 0.15,
        reversion: float = 0.5,
        recalibration_period_s: float = HOUR_S,
    ) -> None:
        if not isinstance(spec, QPUSpec):
            raise ValueError(f"spec must be a QPUSpec, got {type(spec).__name__}")
        for name, value in (("sigma", sigma), ("reversion", reversion)):
            if not (isinstance(value, _REAL) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        period = recalibration_period_s
        if not (isinstance(period, _REAL) and period > 0):  # NaN fails too
            raise ValueError(f"recalibration_period_s must be > 0 (s), got {period!r}")
        self._spec = spec
        self._sigma = float(sigma)
        self._reversion = float(reversion)
        self._period = float(period)

        snapshot = spec.calibration
        self._snapshot_version = snapshot.version
        parts = [np.log(getattr(snapshot, key)) for key in _TIME_KEYS]
        parts += [_logit(getattr(snapshot, key)) for key in _PROBABILITY_KEYS]
        bounds = np.cumsum([0, *(p.size for p in parts)])
        self._slices = {
            key: slice(int(a), int(b))
            for key, a, b in zip(
                (*_TIME_KEYS, *_PROBABILITY_KEYS), bounds, bounds[1:], strict=False
            )
        }
        self._mu_all: FloatArray = np.concatenate(parts)
        self._live = np.isfinite(self._mu_all)  # inf T and p = 0 never move
        self._mu: FloatArray = self._mu_all[self._live]
        self._all_live = bool(self._live.all())
        self._n_times = self._slices["t2_s"].stop
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Back to the snapshot at time 0 (true = observed = ``spec.calibration``)."""
        self._x: FloatArray = self._mu.copy()
        self._time = 0.0
        self._last_recalibration = 0.0
        self._true = self._observed = self._spec.calibration

    @property
    def spec(self) -> QPUSpec:
        return self._spec

    @property
    def sigma(self) -> float:
        return self._sigma

    @property
    def reversion(self) -> float:
        return self._reversion

    @property
    def recalibration_period_s(self) -> float:
        return self._period

    @property
    def stationary_std(self) -> float:
        """Long-run standard deviation of ln T and logit p: σ/√(2θ) (inf when θ = 0)."""
        return self._sigma / math.sqrt(2 * self._reversion) if self._reversion else math.inf

    @property
    def time_s(self) -> float:
        """Time since the snapshot (s)."""
        return self._time

    @property
    def last_recalibration_s(self) -> float:
        return self._last_recalibration

    @property
    def next_recalibration_s(self) -> float:
        return self._last_recalibration + self._period

    def true(self) -> Calibration:
        """The noise circuits experience now."""
        return self._true

    def observed(self) -> Calibration:
        """What agents see: the true calibration at the last recalibration."""
        return self._observed

    # ------------------------------------------------------------------ dynamics

    def step(self, dt_s: float, rng: np.random.Generator) -> Calibration:
        """Advance the true noise by ``dt_s`` seconds; returns the new true calibration.

        Recalibrations that fall inside the step happen at their exact times. The draws
        depend only on ``rng`` and the sequence of steps, so a seed reproduces the walk.
        """
        if not (isinstance(dt_s, _REAL) and math.isfinite(dt_s) and dt_s >= 0):
            raise ValueError(f"dt_s must be a finite number >= 0 (s), got {dt_s!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        remaining = float(dt_s)
        eps = 1e-12 * max(1.0, self._time + remaining)  # float slack on boundary times
        while self.next_recalibration_s - self._time <= remaining + eps:
            span = max(self.next_recalibration_s - self._time, 0.0)
            self._advance(span, rng)
            remaining -= span
            self._time = self._last_recalibration = self.next_recalibration_s
            self._true = self._observed = self._materialize()
        if remaining > eps:
            self._advance(remaining, rng)
            self._time += remaining
            self._true = self._materialize()
        return self._true

    def _advance(self, span_s: float, rng: np.random.Generator) -> None:
        if span_s <= 0 or self._mu.size == 0 or self._sigma == 0:
            return  # x starts at μ, so with σ = 0 it never leaves
        theta = self._reversion / HOUR_S
        sigma = self._sigma / math.sqrt(HOUR_S)
        if theta > 0:
            decay = math.exp(-theta * span_s)
            std = sigma * math.sqrt(-math.expm1(-2 * theta * span_s) / (2 * theta))
        else:
            decay, std = 1.0, sigma * math.sqrt(span_s)
        noise = rng.standard_normal(self._mu.size)
        self._x = self._mu + (self._x - self._mu) * decay + std * noise

    def _materialize(self) -> Calibration:
        # One exp and one expit over the stacked latents; the fields are read-only views.
        if self._all_live:
            values = self._x
        else:
            values = self._mu_all.copy()
            values[self._live] = self._x
        out = np.empty_like(values)
        k = self._n_times
        np.exp(values[:k], out=out[:k])
        np.maximum(out[:k], _TINY, out=out[:k])  # exp underflow would make a time 0
        _expit(values[k:], out[k:])
        np.minimum(out[k:], _BELOW_ONE, out=out[k:])
        t1, t2 = out[self._slices["t1_s"]], out[self._slices["t2_s"]]
        np.minimum(t2, 2.0 * t1, out=t2)  # T2 <= 2*T1
        out.flags.writeable = False  # before taking views: views inherit the flag
        fields = {key: out[sl] for key, sl in self._slices.items()}
        # Valid by construction (exp > 0, expit in [0, 1), T2 clipped): skip re-validation,
        # which would cost several times the step itself.
        return Calibration._trusted(**fields, version=new_version(self._snapshot_version))
