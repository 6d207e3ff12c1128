"""Parameters of the AHMO scoring pipeline and their YAML files (``configs/scoring/``).

A :class:`ScoringParams` holds what the fusion of the sub-scores needs (DESIGN.md §5):
the weights w1…w6 of V, the HyperScore shape (β, γ, κ), the time budget of the Meta term,
the normalisation of ImpactFore, and the limits of the execution sandbox and of the
ΔRepro simulation. ``configs/scoring/default.yaml`` is the default; ``qenv meta-opt``
writes files of the same schema, which the environments load with ``scoring=PATH``::

    weights:            # w1…w6 of V, >= 0, normalised to sum 1 when loaded
      logic: 0.15       # w1 · LogicScore^π
      novelty: 0.05     # w2 · Novelty
      impact: 0.10      # w3 · ln(ImpactFore + 1)
      repro: 0.10       # w4 · ΔRepro
      meta: 0.30        # w5 · Meta
      qnc: 0.30         # w6 · QNC
    hyperscore: {beta: 5.0, gamma: -0.6931471805599453, kappa: 2.0}
    meta: {tau_s: 60.0}                     # time budget of a task without a deadline, s
    impact: {size_max: 64, priority_max: 3}
    sandbox: {time_limit_s: 10.0, memory_limit_mb: 2048, max_qubits: 24}
    repro: {max_qubits: 16}

Every key is optional (missing ones keep the defaults of :class:`ScoringParams`); an
unknown key or a bad value is a ``ValueError`` naming the file and the key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import yaml

__all__ = [
    "WEIGHT_NAMES",
    "ScoringParams",
    "default_params_path",
    "load_params",
    "params_to_mapping",
    "save_params",
]

#: Terms of V in DESIGN.md §5's order: w1 LogicScore^π, w2 Novelty, w3 ln(ImpactFore + 1),
#: w4 ΔRepro, w5 Meta, w6 QNC.
WEIGHT_NAMES: Final = ("logic", "novelty", "impact", "repro", "meta", "qnc")

_DEFAULT_WEIGHTS: Final = {
    "logic": 0.15,
    "novelty": 0.05,
    "impact": 0.10,
    "repro": 0.10,
    "meta": 0.30,
    "qnc": 0.30,
}

_SECTIONS: Final = {
    "weights": WEIGHT_NAMES,
    "hyperscore": ("beta", "gamma", "kappa"),
    "meta": ("tau_s",),
    "impact": ("size_max", "priority_max"),
    "sandbox": ("time_limit_s", "memory_limit_mb", "max_qubits"),
    "repro": ("max_qubits",),
}


def _finite(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: must be a number, got {value!r}")
    f = float(value)
    if not math.isfinite(f):
        raise ValueError(f"{where}: must be finite, got {value!r}")
    return f


@dataclass(frozen=True)
class ScoringParams:
    """Weights and shape of the AHMO fusion, and the limits of the expensive sub-scores.

    ``weights`` are normalised to sum 1 on construction (each >= 0, sum > 0), so V lies in
    [0, 1]: every term is in [0, 1] except ln(ImpactFore + 1) in [0, ln 2].
    ``beta`` and ``kappa`` must be > 0 (the HyperScore then increases with V).
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(_DEFAULT_WEIGHTS))
    beta: float = 5.0
    gamma: float = -math.log(2.0)
    kappa: float = 2.0
    meta_tau_s: float = 60.0
    impact_size_max: float = 64.0
    impact_priority_max: float = 3.0
    sandbox_time_limit_s: float = 10.0
    sandbox_memory_limit_mb: int = 2048
    sandbox_max_qubits: int = 24
    repro_max_qubits: int = 16

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping):
            raise ValueError(f"weights must be a mapping of {WEIGHT_NAMES}, got {self.weights!r}")
        unknown = sorted(set(self.weights) - set(WEIGHT_NAMES))
        if unknown:
            raise ValueError(f"weights: unknown term(s) {unknown}; terms: {list(WEIGHT_NAMES)}")
        raw = {k: _finite(f"weights.{k}", self.weights.get(k, 0.0)) for k in WEIGHT_NAMES}
        bad = [k for k, v in raw.items() if v < 0]
        if bad:
            raise ValueError(f"weights.{bad[0]}: must be >= 0, got {raw[bad[0]]}")
        total = sum(raw.values())
        if total <= 0:
            raise ValueError("weights: at least one weight must be > 0")
        object.__setattr__(self, "weights", {k: v / total for k, v in raw.items()})
        for name in ("beta", "kappa", "meta_tau_s", "impact_size_max", "impact_priority_max"):
            value = _finite(name, getattr(self, name))
            if value <= 0:
                raise ValueError(f"{name}: must be > 0, got {value}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "gamma", _finite("gamma", self.gamma))
        limit = _finite("sandbox_time_limit_s", self.sandbox_time_limit_s)
        if limit <= 0:
            raise ValueError(f"sandbox_time_limit_s: must be > 0, got {limit}")
        object.__setattr__(self, "sandbox_time_limit_s", limit)
        for name, low in (
            ("sandbox_memory_limit_mb", 64),
            ("sandbox_max_qubits", 1),
            ("repro_max_qubits", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: must be an integer >= {low}, got {value!r}")

    @property
    def weight_vector(self) -> tuple[float, ...]:
        """(w1, …, w6) in :data:`WEIGHT_NAMES` order."""
        return tuple(float(self.weights[k]) for k in WEIGHT_NAMES)

    def with_updates(self, **changes: Any) -> ScoringParams:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)


def default_params_path() -> Path:
    """``<config dir>/scoring/default.yaml`` (``$QENV_CONFIG_DIR`` or the repository's)."""
    from qenv.config import config_dir

    return config_dir() / "scoring" / "default.yaml"


def _from_mapping(data: Mapping[str, Any], where: str) -> ScoringParams:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping of {sorted(_SECTIONS)}, got {data!r}")
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(_SECTIONS)}")
    kwargs: dict[str, Any] = {}
    for section, keys in _SECTIONS.items():
        block = data.get(section)
        if block is None:
            continue
        if not isinstance(block, Mapping):
            raise ValueError(f"{where}: {section}: expected a mapping, got {block!r}")
        bad = sorted(set(block) - set(keys))
        if bad:
            raise ValueError(f"{where}: {section}: unknown key(s) {bad}; known: {list(keys)}")
        if section == "weights":
            kwargs["weights"] = {
                k: _finite(f"{where}: weights.{k}", block.get(k, 0.0)) for k in WEIGHT_NAMES
            }
            continue
        for key, value in block.items():
            name = key if section == "hyperscore" else f"{section}_{key}"
            if (section == "sandbox" and key != "time_limit_s") or section == "repro":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{where}: {section}.{key}: must be an integer, got {value!r}")
                kwargs[name] = value
            else:
                kwargs[name] = _finite(f"{where}: {section}.{key}", value)
    try:
        return ScoringParams(**kwargs)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def load_params(
    source: ScoringParams | Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> ScoringParams:
    """Scoring parameters from a YAML file, a mapping of the same schema, or defaults.

    ``None`` reads ``configs/scoring/default.yaml`` (:func:`default_params_path`); a
    :class:`ScoringParams` is returned as is.
    """
    if isinstance(source, ScoringParams):
        return source
    if isinstance(source, Mapping):
        return _from_mapping(source, "scoring")
    path = default_params_path() if source is None else Path(os.fspath(source))
    if not isinstance(path, Path):  # pragma: no cover - os.fspath returned bytes
        raise ValueError(f"scoring: expected a path, a mapping or ScoringParams, got {source!r}")
    from qenv.config import read_yaml

    if not path.is_file():
        raise ValueError(f"scoring: no such file {str(path)!r}")
    data = read_yaml(path, "scoring file", lambda m: ValueError(f"{path}: {m}"))
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of {sorted(_SECTIONS)}, got {data!r}")
    return _from_mapping(data, str(path))


def params_to_mapping(params: ScoringParams) -> dict[str, Any]:
    """The YAML schema of :func:`load_params` for ``params``."""
    return {
        "weights": {k: float(params.weights[k]) for k in WEIGHT_NAMES},
        "hyperscore": {"beta": params.beta, "gamma": params.gamma, "kappa": params.kappa},
        "meta": {"tau_s": params.meta_tau_s},
        "impact": {"size_max": params.impact_size_max, "priority_max": params.impact_priority_max},
        "sandbox": {
            "time_limit_s": params.sandbox_time_limit_s,
            "memory_limit_mb": params.sandbox_memory_limit_mb,
            "max_qubits": params.sandbox_max_qubits,
        },
        "repro": {"max_qubits": params.repro_max_qubits},
    }


def save_params(
    params: ScoringParams, path: str | os.PathLike[str], header: str | None = None
) -> Path:
    """Write ``params`` as YAML (loadable by :func:`load_params`); ``header``: a comment."""
    out = Path(os.fspath(path))
    text = yaml.safe_dump(params_to_mapping(params), sort_keys=False)
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    out.write_text(text, encoding="utf-8")
    return out
