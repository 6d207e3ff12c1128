"""Estimated success probability (ESP) of a routed circuit under a calibration.

Model (Nishio, Pan, Satoh, Amano & Van Meter, "Extracting success from IBM's 20-qubit
machines using error-aware compilation", ACM JETC 16(3), 2020, arXiv:1903.10963), with the
idle-decoherence factor of MQT Predictor's ``estimated_success_probability`` (Quetschlich,
Burgholzer & Wille, ACM TQC 2025, arXiv:2310.06889; used with idle times by Hopf,
Quetschlich, Schulz & Wille 2025, as cited in DESIGN.md §4; source
``src/mqt/predictor/reward.py``, see :mod:`qenv.execution.routing` for the commit and the
idle-time definition)::

    log ESP = Σ_q n_1q[q]·log(1 − ε1[q]) + Σ_e n_2q[e]·log(1 − ε2[e])
            + Σ_{q measured} log(1 − ε_ro[q]) − Σ_{q active} idle_s[q] / min(T1[q], T2[q])

ε1, ε2 and ε_ro are the calibration's 1q gate, 2q gate and readout errors (probabilities),
idle_s the idle time of each qubit in the ASAP schedule (seconds), T1/T2 in seconds; an
infinite min(T1, T2) (photonic qubits) adds no idle term. Each term is one dot product over
the device's qubits or couplings, so a drifted calibration is re-scored in microseconds;
the logs of a calibration are computed once and kept while the calibration object lives
(:class:`qenv.hardware.Calibration` guarantees errors in [0, 1), so every log is finite).

ESP is a relative score between devices, not a measured fidelity: it multiplies
independent error probabilities and ignores crosstalk, coherent (unitary) errors, error
cancellation and leakage. :mod:`qenv.execution.density` checks how well it ranks circuits
and devices against a density-matrix simulation.

Imports no gymnasium, pettingzoo or ray.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qenv.checks import FloatArray, check_positive_int
from qenv.execution.routing import LRUCache, RoutedCircuit

if TYPE_CHECKING:
    from qenv.hardware import Calibration


@dataclass(frozen=True, eq=False)
class _Weights:
    """ESP weights of one calibration, in the order of ``RoutedCircuit.esp_row``."""

    vector: FloatArray  # [log(1 − ε1), log(1 − ε2), log(1 − ε_ro), 1/min(T1, T2)]
    shape: tuple[int, int]  # (num_qubits, num_edges)


_WEIGHTS: weakref.WeakKeyDictionary[Calibration, _Weights] = weakref.WeakKeyDictionary()


def _make_weights(calibration: Calibration) -> _Weights:
    tau = np.minimum(calibration.t1_s, calibration.t2_s)  # > 0, checked by Calibration
    vector = np.concatenate(
        [
            np.log1p(-calibration.gate_error_1q),
            np.log1p(-calibration.gate_error_2q),
            np.log1p(-calibration.readout_error),
            1.0 / tau,  # 1/inf = 0: no idle decay
        ]
    )
    vector.flags.writeable = False
    return _Weights(vector, (calibration.t1_s.size, calibration.gate_error_2q.size))


def _weights(calibration: Calibration) -> _Weights:
    weights = _WEIGHTS.get(calibration)
    if weights is None:
        weights = _make_weights(calibration)
        _WEIGHTS[calibration] = weights
    return weights


def _check_shape(routed: RoutedCircuit, weights: _Weights) -> None:
    if (routed.n_1q.size, routed.n_2q.size) != weights.shape:
        nq, ne = weights.shape
        raise ValueError(
            f"calibration has {nq} qubits and {ne} edges, the circuit routed on "
            f"{routed.device} has {routed.n_1q.size} and {routed.n_2q.size}"
        )


def log_esp(routed: RoutedCircuit, calibration: Calibration) -> float:
    """Natural log of the ESP of ``routed`` under ``calibration`` (see the module docstring).

    One dot product of ``routed.esp_row`` with the calibration's weights, which are
    computed once per calibration object.
    """
    w = _weights(calibration)
    _check_shape(routed, w)
    return float(routed.esp_row.dot(w.vector))  # ndarray.dot: ~3x cheaper than @ here


def esp(routed: RoutedCircuit, calibration: Calibration) -> float:
    """ESP of ``routed`` under ``calibration``, in [0, 1]."""
    return float(np.exp(log_esp(routed, calibration)))


def log_esp_many(routed: Sequence[RoutedCircuit], calibration: Calibration) -> FloatArray:
    """``log_esp`` of several circuits routed on one device: one matrix-vector product."""
    w = _weights(calibration)
    for r in routed:
        _check_shape(r, w)
    if not routed:
        return np.zeros(0, dtype=np.float64)
    out: FloatArray = np.stack([r.esp_row for r in routed]) @ w.vector
    return out


def log_esp_matrix(rows: FloatArray, calibration: Calibration) -> FloatArray:
    """``log_esp`` of circuits given by their stacked ``esp_row`` (K, 3·qubits + edges)
    on one device: one matrix-vector product, for callers that stack the rows once and
    re-score them under every new calibration."""
    w = _weights(calibration)
    nq, ne = w.shape
    if rows.ndim != 2 or rows.shape[1] != w.vector.size:
        raise ValueError(
            f"rows must have shape (K, {w.vector.size}) for a calibration with {nq} qubits "
            f"and {ne} edges, got {rows.shape}"
        )
    out: FloatArray = rows @ w.vector
    return out


class EspCache:
    """ESP values keyed by ``(circuit_key, device, calibration.version)`` (LRU).

    The environment asks for the ESP of the same task on the same device many times
    between calibrations; a new calibration version misses and is computed once.
    """

    def __init__(self, max_size: int = 65536) -> None:
        self._cache = LRUCache(check_positive_int("max_size", max_size))

    def get(self, circuit_key: str, routed: RoutedCircuit, calibration: Calibration) -> float:
        """ESP of ``routed`` under ``calibration``, computed at most once per key."""
        value: float = self._cache.get_or_make(
            (circuit_key, routed.device, calibration.version),
            lambda: esp(routed, calibration),
        )
        return value

    @property
    def hits(self) -> int:
        return self._cache.hits

    @property
    def misses(self) -> int:
        return self._cache.misses

    def __len__(self) -> int:
        return len(self._cache)

    def clear(self) -> None:
        self._cache.clear()
