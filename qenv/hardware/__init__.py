"""QPU hardware: specifications, calibration snapshots and calibration drift (DESIGN.md §4).

* :mod:`qenv.hardware.spec`: :class:`QPUSpec` and :class:`Calibration` (frozen, read-only
  arrays, validated), YAML loading (``configs/qpus/``) and the default fleet;
* :mod:`qenv.hardware.ibm`: IBM snapshots read from the fake backends that
  qiskit-ibm-runtime ships (without importing it);
* :mod:`qenv.hardware.drift`: the true noise as a mean-reverting random walk around the
  snapshot, and the last recalibration that agents see.

Units: seconds and probabilities throughout. This package imports neither gymnasium,
PettingZoo, Ray nor qiskit-ibm-runtime.
"""

from __future__ import annotations

from qenv.hardware.drift import CalibrationDrift
from qenv.hardware.ibm import available_fake_backends, from_fake_backend, from_properties
from qenv.hardware.spec import (
    DEFAULT_FLEET,
    TECHNOLOGIES,
    Calibration,
    FloatArray,
    IntArray,
    QPUSpec,
    QPUSpecError,
    Technology,
    config_dir,
    default_fleet,
    load_qpu,
    qpu_names,
)

__all__ = [
    "DEFAULT_FLEET",
    "TECHNOLOGIES",
    "Calibration",
    "CalibrationDrift",
    "FloatArray",
    "IntArray",
    "QPUSpec",
    "QPUSpecError",
    "Technology",
    "available_fake_backends",
    "config_dir",
    "default_fleet",
    "from_fake_backend",
    "from_properties",
    "load_qpu",
    "qpu_names",
]
