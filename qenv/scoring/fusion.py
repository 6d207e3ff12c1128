"""⑤ Fusion: V, the HyperScore, AHP weights, Shapley attribution and a Bayesian calibration.

V and the HyperScore (DESIGN.md §5)::

    V = w1·LogicScore^π + w2·Novelty + w3·ln(ImpactFore + 1) + w4·ΔRepro + w5·Meta + w6·QNC
    HyperScore = 100·[1 + σ(β·ln V + γ)^κ]          (β = 5, γ = −ln 2, κ = 2 by default)

How the two symbols of the formula are read here:

* **LogicScore^π** is the LogicScore *proven by execution*: LogicScore × Sandbox, the hard
  constraints (:mod:`qenv.scoring.logic`) times the execution-sandbox score
  (:mod:`qenv.scoring.sandbox`). A pair with LogicScore^π = 0 (a constraint fails, or the
  circuit does not run) is infeasible and gets V = 0, whatever the other terms: the hard
  constraints gate V rather than add to it.
* **Meta** is the dispatch-context (meta-level) term: how well the QPU can serve the task
  *now*, Meta = exp(−(wait + runtime)/τ), with wait the time until the QPU's queue is
  empty, runtime the task's runtime there and τ the task's time budget (seconds left
  before its deadline, at least one slot; ``meta.tau_s`` when it has none). It is the only
  term that depends on the state of the queues; the others are properties of the
  (circuit, QPU, calibration) triple.

With the weights normalised to sum 1, V ∈ [0, 1] and the HyperScore ∈ [100, 100 + 100·σ(γ)^κ]
(111.1 by default); ln V → −∞ as V → 0, so V ≤ 0 gives exactly 100. The observation slot
of the HyperScore is its normalised excess, (HyperScore − 100)/(HyperScore(V=1) − 100) =
(σ(β ln V + γ)/σ(γ))^κ ∈ [0, 1] (:func:`hyperscore_unit`). Both are increasing in V for
β, κ > 0, so an argmax over QPUs depends on V alone.

AHP (Saaty 1980, *The Analytic Hierarchy Process*; Saaty 1987, Math. Modelling 9, 161):
the weights are the principal right eigenvector of a positive reciprocal pairwise
comparison matrix A (a_ij = how much more important criterion i is than j, a_ji = 1/a_ij),
normalised to sum 1; λ_max its eigenvalue; consistency index CI = (λ_max − n)/(n − 1);
consistency ratio CR = CI / RI(n) with Saaty's random index RI (:data:`RANDOM_INDEX`).
CR > 0.1 means the judgments are too inconsistent to trust: a ``UserWarning`` says so.

Shapley attribution (Lindeman, Merenda & Gold 1980; Grömping 2007, Am. Stat. 61, 139):
the value of a coalition S of sub-scores is the R² of an ordinary least-squares fit (with
intercept) of the realised outcome of logged dispatches on the sub-scores in S, v(∅) = 0;
the Shapley value φ_i = Σ_{S ∌ i} |S|!(n − |S| − 1)!/n!·[v(S ∪ {i}) − v(S)], exact over
all 2^6 coalitions, sums to v(all). Shapley weights are max(φ, 0) normalised; the fused
weights blend them with the AHP weights, w = (1 − λ)·w_AHP + λ·w_Shapley.

Bayesian calibration of V: P(success | V) = σ(a + b·V) with a Gaussian prior
N(0, s²·I) on (a, b), fitted by a Laplace approximation (Newton's method to the posterior
mode, covariance the inverse Hessian there; MacKay 1992, Neural Comput. 4, 720); the
predictive probability uses the probit approximation σ(μ/√(1 + π·s_f²/8)) of the
logistic-Gaussian integral, with μ and s_f² the mean and variance of a + b·V.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from qenv.scoring.params import WEIGHT_NAMES, ScoringParams

__all__ = [
    "RANDOM_INDEX",
    "AHPResult",
    "BayesCalibration",
    "ahp_weights",
    "blend_weights",
    "hyperscore",
    "hyperscore_unit",
    "parse_judgment",
    "r2_value",
    "shapley_values",
    "shapley_weights",
    "v_score",
]

FloatArray = npt.NDArray[np.float64]

#: Saaty's random consistency index RI(n) for n = 1…10 (Saaty 1980, Table 1.7).
RANDOM_INDEX: Final = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
}

_DEFAULT_GAMMA: Final = -math.log(2.0)


# --------------------------------------------------------------------------- HyperScore
def _hyper_checks(beta: float, kappa: float) -> None:
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    if not (math.isfinite(kappa) and kappa > 0):
        raise ValueError(f"kappa must be a finite number > 0, got {kappa!r}")


def _sigma_of_v(v: FloatArray, beta: float, gamma: float) -> FloatArray:
    """σ(β·ln V + γ), with ln V = −∞ (σ = 0) for V <= 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_v = np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), -np.inf)
    out: FloatArray = expit(beta * log_v + gamma)
    return out


def _as_v(v: Any) -> FloatArray:
    try:
        arr = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"v must be numeric, got {v!r}") from exc
    if np.isnan(arr).any():
        raise ValueError("v must not be NaN (an undefined V has no HyperScore)")
    return arr


@overload
def hyperscore(v: float, beta: float = ..., gamma: float = ..., kappa: float = ...) -> float: ...
@overload
def hyperscore(
    v: npt.ArrayLike, beta: float = ..., gamma: float = ..., kappa: float = ...
) -> float | FloatArray: ...
def hyperscore(
    v: npt.ArrayLike,
    beta: float = 5.0,
    gamma: float = _DEFAULT_GAMMA,
    kappa: float = 2.0,
) -> float | FloatArray:
    """HyperScore = 100·[1 + σ(β·ln V + γ)^κ], elementwise (a float for a scalar V).

    V <= 0 (and −∞) gives ln V = −∞, σ = 0, HyperScore = 100; V = +∞ gives 200.

    Raises:
        ValueError: V is NaN or not numeric; β or κ not finite and > 0.
    """
    _hyper_checks(beta, kappa)
    arr = _as_v(v)
    out = 100.0 * (1.0 + _sigma_of_v(arr, beta, float(gamma)) ** kappa)
    return float(out) if out.ndim == 0 else out


def hyperscore_unit(
    v: npt.ArrayLike,
    beta: float = 5.0,
    gamma: float = _DEFAULT_GAMMA,
    kappa: float = 2.0,
) -> float | FloatArray:
    """(HyperScore(V) − 100)/(HyperScore(1) − 100) = (σ(β ln V + γ)/σ(γ))^κ, clipped to
    [0, 1]: the observation slot of the HyperScore (0 for V <= 0, 1 for V >= 1)."""
    _hyper_checks(beta, kappa)
    arr = np.minimum(_as_v(v), 1.0)
    out = np.clip((_sigma_of_v(arr, beta, float(gamma)) / expit(gamma)) ** kappa, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def v_score(
    logic: npt.ArrayLike,
    sandbox: npt.ArrayLike,
    novelty: npt.ArrayLike,
    impact: npt.ArrayLike,
    repro: npt.ArrayLike,
    meta: npt.ArrayLike,
    qnc: npt.ArrayLike,
    params: ScoringParams | Mapping[str, float] | None = None,
) -> float | FloatArray:
    """V of the module docstring, elementwise; 0 where LogicScore^π = LogicScore·Sandbox is 0.

    ``params``: a :class:`ScoringParams` or a mapping of the six weights (normalised here).
    NaN sub-scores count as 0 (a sub-score that could not be computed adds nothing).
    """
    if params is None:
        params = ScoringParams()
    elif not isinstance(params, ScoringParams):
        params = ScoringParams(weights=params)
    w = params.weight_vector
    terms = [
        np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0)
        for x in (logic, sandbox, novelty, impact, repro, meta, qnc)
    ]
    lo, sb, nov, imp, rep, met, q = (np.clip(t, 0.0, 1.0) for t in terms)
    proven = lo * sb
    v = w[0] * proven + w[1] * nov + w[2] * np.log1p(imp) + w[3] * rep + w[4] * met + w[5] * q
    out = np.where(proven > 0, v, 0.0)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- AHP
def parse_judgment(value: object, where: str = "judgment") -> float:
    """A pairwise judgment: a positive number or a fraction string such as ``"1/3"``."""
    if isinstance(value, str):
        text = value.strip()
        num, sep, den = text.partition("/")
        try:
            out = float(num) / float(den) if sep else float(text)
        except (ValueError, ZeroDivisionError) as exc:
            raise ValueError(f"{where}: not a number or fraction: {value!r}") from exc
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out = float(value)
    else:
        raise ValueError(f"{where}: expected a number or a fraction string, got {value!r}")
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{where}: must be a finite number > 0, got {value!r}")
    return out


@dataclass(frozen=True)
class AHPResult:
    """Principal-eigenvector weights of a pairwise matrix and its consistency."""

    weights: FloatArray  # (n,), sum 1
    lambda_max: float
    ci: float  # (λ_max − n)/(n − 1)
    cr: float  # CI / RI(n); 0 for n <= 2

    @property
    def consistent(self) -> bool:
        """Saaty's rule: CR <= 0.1."""
        return self.cr <= 0.1


def check_pairwise(matrix: npt.ArrayLike, *, rtol: float = 1e-6) -> FloatArray:
    """``matrix`` as a positive reciprocal (n, n) array; ``ValueError`` naming the entry."""
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise ValueError(f"matrix must be square (n, n) with n >= 1, got shape {a.shape}")
    if not np.isfinite(a).all() or (a <= 0).any():
        i, j = np.argwhere(~np.isfinite(a) | (a <= 0))[0]
        raise ValueError(f"matrix[{i}][{j}] must be a finite number > 0, got {a[i, j]}")
    if not np.allclose(np.diag(a), 1.0, rtol=rtol):
        i = int(np.argmax(np.abs(np.diag(a) - 1.0)))
        raise ValueError(f"matrix[{i}][{i}] must be 1, got {a[i, i]}")
    bad = ~np.isclose(a * a.T, 1.0, rtol=rtol)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"matrix must be reciprocal: matrix[{i}][{j}] = {a[i, j]:g} but "
            f"matrix[{j}][{i}] = {a[j, i]:g} (expected {1 / a[i, j]:g})"
        )
    return a


def ahp_weights(matrix: npt.ArrayLike, *, warn: bool = True) -> AHPResult:
    """AHP weights (principal eigenvector), λ_max, CI and CR of a pairwise matrix.

    Warns (``UserWarning``) when CR > 0.1 and ``warn`` is set.
    """
    a = check_pairwise(matrix)
    n = a.shape[0]
    values, vectors = np.linalg.eig(a)
    k = int(np.argmax(values.real))
    vec = np.abs(vectors[:, k].real)  # Perron vector: one sign, positive entries
    weights = vec / vec.sum()
    lam = float(values[k].real)
    ci = (lam - n) / (n - 1) if n > 1 else 0.0
    ri = RANDOM_INDEX.get(n, 1.49)
    cr = ci / ri if ri > 0 else 0.0
    cr = max(cr, 0.0)
    if warn and cr > 0.1:
        warnings.warn(
            f"AHP consistency ratio CR = {cr:.3f} > 0.1: the pairwise judgments are "
            "inconsistent; revise them",
            UserWarning,
            stacklevel=2,
        )
    return AHPResult(weights=weights, lambda_max=lam, ci=max(ci, 0.0), cr=cr)


# --------------------------------------------------------------------------- Shapley
def r2_value(x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
    """Value function of coalitions: S (a tuple of column indices) -> R² of the OLS fit
    (with intercept) of ``y`` on the columns S of ``x``; R²(∅) = 0. Cached per S."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.ndim != 2 or ys.shape != (xs.shape[0],):
        raise ValueError(f"x must be (n, p) and y (n,), got {xs.shape} and {ys.shape}")
    if xs.shape[0] < 2:
        raise ValueError(f"need at least 2 logged outcomes, got {xs.shape[0]}")
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ValueError("x and y must be finite (NaN or inf in the logged outcomes)")
    centred = ys - ys.mean()
    total = float(centred @ centred)
    cache: dict[tuple[int, ...], float] = {(): 0.0}

    def value(subset: tuple[int, ...]) -> float:
        key = tuple(sorted(subset))
        if key not in cache:
            if total == 0.0:
                cache[key] = 0.0
            else:
                design = np.column_stack([np.ones(xs.shape[0]), xs[:, list(key)]])
                coef, *_ = np.linalg.lstsq(design, ys, rcond=None)
                resid = ys - design @ coef
                cache[key] = max(0.0, 1.0 - float(resid @ resid) / total)
        return cache[key]

    return value


def shapley_values(value: Any, n: int) -> FloatArray:
    """Exact Shapley values of the n players of a coalition value function (2^n coalitions).

    ``value`` maps a sorted tuple of player indices to a number; ``value(())`` is the
    empty coalition's value (subtracted, so it need not be 0).
    """
    if n < 1 or n > 16:
        raise ValueError(f"n must be in 1..16 for exact Shapley values, got {n}")
    phi = np.zeros(n)
    fact = [math.factorial(k) for k in range(n + 1)]
    for i in range(n):
        others = [p for p in range(n) if p != i]
        for size in range(n):
            coef = fact[size] * fact[n - size - 1] / fact[n]
            for subset in itertools.combinations(others, size):
                with_i = tuple(sorted((*subset, i)))
                phi[i] += coef * (float(value(with_i)) - float(value(subset)))
    return phi


def shapley_weights(phi: npt.ArrayLike) -> FloatArray:
    """max(φ, 0) normalised to sum 1 (uniform when no φ is positive)."""
    p = np.maximum(np.asarray(phi, dtype=np.float64), 0.0)
    total = p.sum()
    if not np.isfinite(total) or total <= 0:
        return np.full(p.size, 1.0 / p.size)
    out: FloatArray = p / total
    return out


def blend_weights(
    ahp: npt.ArrayLike, shapley: npt.ArrayLike, blend: float = 0.5
) -> dict[str, float]:
    """(1 − blend)·ahp + blend·shapley, as a mapping over :data:`WEIGHT_NAMES`."""
    if not (isinstance(blend, int | float) and 0.0 <= blend <= 1.0):
        raise ValueError(f"blend must be in [0, 1], got {blend!r}")
    a = np.asarray(ahp, dtype=np.float64)
    s = np.asarray(shapley, dtype=np.float64)
    if a.shape != (len(WEIGHT_NAMES),) or s.shape != a.shape:
        raise ValueError(
            f"ahp and shapley must have {len(WEIGHT_NAMES)} entries, got {a.shape}, {s.shape}"
        )
    w = (1.0 - blend) * a / a.sum() + blend * s / s.sum()
    return {k: float(x) for k, x in zip(WEIGHT_NAMES, w, strict=True)}


# --------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class BayesCalibration:
    """Posterior (Laplace approximation) of P(success | V) = σ(a + b·V)."""

    mean: FloatArray  # (2,) posterior mode (a, b)
    cov: FloatArray  # (2, 2) inverse Hessian of the negative log posterior at the mode
    prior_sd: float
    n: int

    @classmethod
    def fit(
        cls,
        v: npt.ArrayLike,
        success: npt.ArrayLike,
        *,
        prior_sd: float = 10.0,
        max_iter: int = 100,
    ) -> BayesCalibration:
        """Fit from V values and outcomes (0/1, or probabilities as fractional outcomes)."""
        x = np.asarray(v, dtype=np.float64).ravel()
        y = np.asarray(success, dtype=np.float64).ravel()
        if x.size != y.size or x.size == 0:
            raise ValueError(
                f"v and success must be non-empty and equal in size, got {x.size} and {y.size}"
            )
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("v and success must be finite")
        if ((y < 0) | (y > 1)).any():
            raise ValueError("success must lie in [0, 1]")
        if not (math.isfinite(prior_sd) and prior_sd > 0):
            raise ValueError(f"prior_sd must be > 0, got {prior_sd!r}")
        design = np.column_stack([np.ones_like(x), x])
        precision = np.eye(2) / prior_sd**2
        theta = np.zeros(2)
        for _ in range(max_iter):
            p = expit(design @ theta)
            grad = design.T @ (p - y) + precision @ theta
            hess = (design * (p * (1 - p))[:, None]).T @ design + precision
            step = np.linalg.solve(hess, grad)
            theta = theta - step
            if float(np.abs(step).max()) < 1e-10:
                break
        p = expit(design @ theta)
        hess = (design * (p * (1 - p))[:, None]).T @ design + precision
        return cls(mean=theta, cov=np.linalg.inv(hess), prior_sd=float(prior_sd), n=int(x.size))

    def _moments(self, v: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        x = np.asarray(v, dtype=np.float64)
        mu = self.mean[0] + self.mean[1] * x
        var = self.cov[0, 0] + 2 * self.cov[0, 1] * x + self.cov[1, 1] * x**2
        return mu, np.maximum(var, 0.0)

    def predict(self, v: npt.ArrayLike) -> FloatArray:
        """Posterior predictive P(success | V) (probit approximation)."""
        mu, var = self._moments(v)
        out: FloatArray = expit(mu / np.sqrt(1.0 + math.pi * var / 8.0))
        return out

    def interval(self, v: npt.ArrayLike, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
        """Credible interval of σ(a + b·V) at ``level`` (Gaussian on a + b·V)."""
        from scipy.stats import norm

        mu, var = self._moments(v)
        z = float(norm.ppf(0.5 + level / 2))
        sd = np.sqrt(var)
        return expit(mu - z * sd), expit(mu + z * sd)

    def as_dict(self) -> dict[str, float]:
        return {
            "a": float(self.mean[0]),
            "b": float(self.mean[1]),
            "sd_a": float(math.sqrt(self.cov[0, 0])),
            "sd_b": float(math.sqrt(self.cov[1, 1])),
            "n": float(self.n),
        }


def calibration_table(
    v: Sequence[float], success: Sequence[float], bins: int = 5
) -> list[dict[str, float]]:
    """Observed success rate per V quantile bin (for printing beside the fit)."""
    x = np.asarray(v, dtype=np.float64)
    y = np.asarray(success, dtype=np.float64)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    out = []
    for lo, hi in itertools.pairwise(edges):
        sel = (x >= lo) & ((x <= hi) if hi == edges[-1] else (x < hi))
        if sel.any():
            out.append(
                {
                    "v_low": float(lo),
                    "v_high": float(hi),
                    "n": float(sel.sum()),
                    "observed": float(y[sel].mean()),
                }
            )
    return out
