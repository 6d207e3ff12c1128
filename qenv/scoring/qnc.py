"""③-6 QNC: predicted success probability of a circuit on a QPU from its noise model.

QNC(circuit, QPU, calibration) = the estimated success probability (ESP) of the circuit
routed on the QPU (:class:`qenv.execution.Router`) under the calibration
(:func:`qenv.execution.esp`: Nishio et al. 2020 with MQT Predictor's idle decoherence):
gate and readout errors of the routed circuit, and e^{−t_idle/min(T1, T2)} per qubit from
its as-soon-as-possible schedule. It is in [0, 1] by construction.

Validation: ``bench/esp_validation.py`` compares the ESP with a qutip density-matrix
simulation (:mod:`qenv.execution.density`) of 8 circuits on 4 devices; the Spearman rank
correlation is 0.987 over 32 points (``bench/esp_validation.json``), and
:func:`qnc_validation` reads that file. In the environment the QNC of the head task is
the ESP under the *published* calibration, recomputed only when a QPU publishes a new one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qenv.execution import Router, esp
from qenv.hardware import Calibration, QPUSpec
from qenv.scoring.logic import ROUTER
from qenv.tasks import Circuit

__all__ = ["qnc_score", "qnc_validation"]

_VALIDATION = Path(__file__).resolve().parents[2] / "bench" / "esp_validation.json"


def qnc_score(
    circuit: Circuit,
    spec: QPUSpec,
    calibration: Calibration | None = None,
    *,
    router: Router | None = None,
) -> float:
    """ESP of ``circuit`` routed on ``spec`` under ``calibration`` (default: the snapshot).

    Raises ``ValueError`` if the circuit cannot run on the device (LogicScore 0).
    """
    routed = (router or ROUTER).route(circuit.key, circuit.qc, spec)
    return esp(routed, spec.calibration if calibration is None else calibration)


def qnc_validation(path: str | Path | None = None) -> dict[str, Any]:
    """The ESP-versus-qutip agreement recorded by ``bench/esp_validation.py``."""
    file = Path(path) if path is not None else _VALIDATION
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{file}: cannot read the ESP validation: {exc}") from exc
    agreement: dict[str, Any] = data["agreement"]
    return agreement
