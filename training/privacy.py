"""Differential privacy for federated averaging: clipping, Gaussian noise, accounting.

DP model: per-agent (local) DP-FedAvg
-------------------------------------
Each agent ``i`` shares, once per federated round, its privatised update

    Δ̃_i = clip_C(θ_i − θ_g) + N(0, (σ·C)² I),   clip_C(v) = v · min(1, C / ‖v‖₂)

where ``θ_g`` is the last global model, ``θ_i`` the agent's module after its local
PPO iterations, and the L2 norm runs over all floating-point entries of the module
at once. The noise is added by the agent itself *before* anything leaves it, so no
trusted aggregator is needed: the aggregate ``θ_g + Σ_i w_i Δ̃_i`` and every later
model are post-processing of the shared Δ̃. This fits a decentralised network of
edge agents. (The alternative, McMahan et al. 2018, adds N(0, (σC)²) once to the
*sum* of clipped updates at a trusted aggregator: √n less noise on the average for
n agents, but the aggregator sees raw updates. Not implemented here.)

What ε means: agent-level (user-level) (ε, δ)-DP of everything agent ``i`` has
shared so far, against every other party (other agents, the aggregator, anyone who
sees the shared or global weights). Adjacent inputs are agent ``i``'s local
experience vs. none at all (its update replaced by zero, add/remove adjacency): the
released Δ̃_i moves by at most C, so each round is a Gaussian mechanism with noise
multiplier σ, every agent takes part in every round (sampling rate 1), and the
rounds compose adaptively. :class:`PrivacyAccountant` composes them with opacus's
RDP accountant (one step per round) and converts to (ε, δ). ε is the same for every
agent (all share σ, C and the number of rounds). Under replace-one adjacency
(agent ``i``'s data swapped for any other) the sensitivity is 2C, i.e. the
guarantee of noise multiplier σ/2. Caveats: ε covers the shared weights, not the
agent's actions in the environment (which other agents observe); and with
``weighting: samples`` the aggregation weights use each agent's sample count,
which is treated as public (in the qenv environments every agent acts every slot,
so counts are equal by construction); ``weighting: uniform`` removes that caveat.

Signal and noise: the noise vector has L2 norm ≈ σ·C·√d for a module of d
parameters, against at most C of signal, so the weighted mean of n agents' updates
has signal-to-noise ≈ √n / (σ√d). With a few thousand parameters and a handful of
agents, σ of order 1 drowns the update; the callback reports both norms per round.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from opacus.accountants import RDPAccountant

Array = npt.NDArray[Any]
StateDict = Mapping[str, Array]
"""One module's weights: parameter name -> array (what RLlib's ``get_weights`` returns)."""

_DP_KEYS = ("clip_norm", "noise_multiplier", "delta")

RDP_ORDERS: tuple[float, ...] = tuple(
    sorted(
        {1 + x / 1000 for x in range(1, 10)}
        | {1 + x / 100 for x in range(1, 10)}
        | set(RDPAccountant.DEFAULT_ALPHAS)
        | {80, 96, 128, 160, 192, 256, 384, 512, 768, 1024}
    )
)
"""RDP orders α searched for the best (ε, δ) conversion: opacus's defaults (1.1 … 63)
widened towards 1 (small σ or many rounds) and up to 1024 (large σ); with the
defaults alone the optimum sits on the grid's edge there and ε is looser."""


def _describe(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def _finite_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{where}: must be a number, got {_describe(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{where}: must be finite, got {number}")
    return number


def _check_dp(clip_norm: object, noise_multiplier: object, delta: object, where: str) -> None:
    """Raise ``ValueError`` naming ``where.<key>`` for the first bad DP setting."""
    if clip_norm is not None:
        clip = _finite_number(clip_norm, f"{where}.clip_norm")
        if clip <= 0:
            raise ValueError(f"{where}.clip_norm: must be > 0 (or null: no clipping), got {clip}")
    sigma = _finite_number(noise_multiplier, f"{where}.noise_multiplier")
    if sigma < 0:
        raise ValueError(f"{where}.noise_multiplier: must be >= 0, got {sigma}")
    if sigma > 0 and clip_norm is None:
        raise ValueError(
            f"{where}.noise_multiplier: noise needs a clipping bound (std = sigma * "
            f"clip_norm); set clip_norm or noise_multiplier: 0, got {sigma}"
        )
    eps_delta = _finite_number(delta, f"{where}.delta")
    if not 0.0 < eps_delta < 1.0:
        raise ValueError(f"{where}.delta: must lie in (0, 1), got {eps_delta}")


@dataclass(frozen=True)
class DPConfig:
    """Clipping bound C, noise multiplier σ (noise std σ·C) and the target δ.

    ``clip_norm=None`` turns clipping off; it is only allowed with σ = 0 (the noise
    std is defined relative to C). σ = 0 adds no noise: ε is then infinite.
    """

    clip_norm: float | None = 1.0  # C; None = no clipping
    noise_multiplier: float = 1.0  # sigma; noise std = sigma * C
    delta: float = 1e-5

    def __post_init__(self) -> None:
        _check_dp(self.clip_norm, self.noise_multiplier, self.delta, "DPConfig")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any], where: str = "federated.dp") -> DPConfig:
        """Build from a YAML mapping; missing keys take the defaults, unknown keys fail."""
        if not isinstance(m, Mapping):
            raise ValueError(f"{where}: must be a mapping, got {_describe(m)}")
        for key in m:
            if key not in _DP_KEYS:
                raise ValueError(
                    f"{where}.{key}: unknown key (expected one of {', '.join(_DP_KEYS)})"
                )
        clip_norm = m.get("clip_norm", cls.clip_norm)
        noise_multiplier = m.get("noise_multiplier", cls.noise_multiplier)
        delta = m.get("delta", cls.delta)
        _check_dp(clip_norm, noise_multiplier, delta, where)
        return cls(clip_norm=clip_norm, noise_multiplier=noise_multiplier, delta=delta)

    @property
    def noise_std(self) -> float:
        """Standard deviation σ·C of the Gaussian noise per coordinate (0 without noise)."""
        if self.noise_multiplier == 0 or self.clip_norm is None:
            return 0.0
        return float(self.noise_multiplier * self.clip_norm)


def _is_float(array: Array) -> bool:
    return bool(np.issubdtype(np.asarray(array).dtype, np.floating))


def l2_norm(update: StateDict) -> float:
    """L2 norm of all floating-point entries of ``update``, flattened into one vector."""
    total = 0.0
    for value in update.values():
        if _is_float(value):
            flat = np.asarray(value, dtype=np.float64).ravel()
            total += float(flat @ flat)
    return math.sqrt(total)


def clip_update(update: StateDict, clip_norm: float | None) -> tuple[dict[str, Array], float]:
    """Scale ``update`` to L2 norm at most ``clip_norm``; return it and its norm before.

    The whole module is one vector (per-module, not per-layer, clipping). Below the
    bound, or with ``clip_norm=None``, the arrays are returned unchanged (copied).
    Non-float entries pass through untouched.
    """
    norm = l2_norm(update)
    if clip_norm is not None and clip_norm <= 0:
        raise ValueError(f"clip_norm must be > 0 or None, got {clip_norm}")
    scale = 1.0 if clip_norm is None or norm <= clip_norm else clip_norm / norm
    clipped: dict[str, Array] = {}
    for key, value in update.items():
        arr = np.asarray(value)
        if scale != 1.0 and _is_float(arr):
            clipped[key] = (arr.astype(np.float64) * scale).astype(arr.dtype)
        else:
            clipped[key] = arr.copy()
    return clipped, norm


def add_gaussian_noise(
    update: StateDict, std: float, rng: np.random.Generator
) -> tuple[dict[str, Array], float]:
    """Add i.i.d. N(0, std²) to every float entry; return the result and the noise's L2 norm.

    Draws come from ``rng`` in the order of ``update``'s keys, so a seeded generator
    and a fixed key order reproduce the noise exactly.
    """
    if not math.isfinite(std) or std < 0:
        raise ValueError(f"std must be a finite number >= 0, got {std}")
    noised: dict[str, Array] = {}
    noise_sq = 0.0
    for key, value in update.items():
        arr = np.asarray(value)
        if std > 0 and _is_float(arr):
            noise = rng.normal(0.0, std, size=arr.shape)
            noise_sq += float(np.sum(noise * noise))
            noised[key] = (arr.astype(np.float64) + noise).astype(arr.dtype)
        else:
            noised[key] = arr.copy()
    return noised, math.sqrt(noise_sq)


def privatize_update(
    update: StateDict, dp: DPConfig, rng: np.random.Generator
) -> tuple[dict[str, Array], float, float]:
    """Clip to C, then add N(0, (σC)²): return (Δ̃, norm before clipping, noise norm)."""
    clipped, norm = clip_update(update, dp.clip_norm)
    noised, noise_norm = add_gaussian_noise(clipped, dp.noise_std, rng)
    return noised, norm, noise_norm


class PrivacyAccountant:
    """(ε, δ) of per-agent DP-FedAvg: opacus's RDP accountant, one step per round.

    Each round is a Gaussian mechanism with noise multiplier σ and sampling rate 1
    (every agent takes part); ε is opacus's conversion over :data:`RDP_ORDERS`. With
    σ = 0 nothing is private and ε is infinite.
    """

    def __init__(self, noise_multiplier: float, sample_rate: float = 1.0) -> None:
        sigma = _finite_number(noise_multiplier, "noise_multiplier")
        if sigma < 0:
            raise ValueError(f"noise_multiplier must be >= 0, got {sigma}")
        rate = _finite_number(sample_rate, "sample_rate")
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"sample_rate must lie in (0, 1], got {rate}")
        self.noise_multiplier = sigma
        self.sample_rate = rate
        self._rounds = 0
        self._rdp = RDPAccountant()

    @property
    def rounds(self) -> int:
        """Number of rounds accounted so far."""
        return self._rounds

    def step(self) -> None:
        """Account one federated round."""
        self._rounds += 1
        if self.noise_multiplier > 0:
            self._rdp.step(noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate)

    def epsilon(self, delta: float) -> float:
        """ε spent so far at ``delta`` (0 before the first round, inf without noise)."""
        delta = _finite_number(delta, "delta")
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must lie in (0, 1), got {delta}")
        if self._rounds == 0:
            return 0.0
        if self.noise_multiplier == 0:
            return math.inf
        return float(self._rdp.get_epsilon(delta=delta, alphas=list(RDP_ORDERS)))

    def state_dict(self) -> dict[str, Any]:
        """Plain, msgpack/JSON-friendly state: σ, the sampling rate, rounds, opacus history."""
        history = [[float(s), float(q), int(n)] for s, q, n in self._rdp.history]
        return {
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "rounds": self._rounds,
            "history": history,
            "mechanism": self._rdp.mechanism(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`; σ and the sampling rate must match this run's."""
        for key in ("noise_multiplier", "sample_rate", "rounds", "history"):
            if key not in state:
                raise ValueError(f"accountant state: missing key {key!r}")
        if float(state["noise_multiplier"]) != self.noise_multiplier:
            raise ValueError(
                "accountant state: noise_multiplier "
                f"{state['noise_multiplier']} differs from this run's {self.noise_multiplier}"
            )
        if float(state["sample_rate"]) != self.sample_rate:
            raise ValueError(
                f"accountant state: sample_rate {state['sample_rate']} differs from "
                f"this run's {self.sample_rate}"
            )
        history = [(float(s), float(q), int(n)) for s, q, n in state["history"]]
        self._rdp.load_state_dict({"history": history, "mechanism": self._rdp.mechanism()})
        self._rounds = int(state["rounds"])
