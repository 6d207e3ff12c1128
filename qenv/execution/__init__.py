"""Execution of circuits on QPUs: routing, ASAP schedule, estimated success probability.

* :mod:`qenv.execution.routing`: the qiskit ``Target`` of a :class:`qenv.hardware.QPUSpec`,
  routing with qiskit's preset pass manager, the ASAP schedule and its summary
  (:class:`RoutedCircuit`), a routing cache (:class:`Router`) and a cheap
  :func:`executable` check;
* :mod:`qenv.execution.esp`: the estimated success probability (Nishio et al. 2020, with
  MQT Predictor's idle decoherence) as a few dot products, and its cache;
* :mod:`qenv.execution.density`: the qutip density-matrix simulation that validates it
  (imported on demand: ``from qenv.execution.density import simulate_noisy``).

Units: seconds and probabilities. Imports no gymnasium, pettingzoo or ray.
"""

from __future__ import annotations

from qenv.execution.esp import EspCache, esp, log_esp, log_esp_many
from qenv.execution.routing import (
    RoutedCircuit,
    Router,
    Schedule,
    ScheduledOp,
    asap_schedule,
    executable,
    route,
    summarize,
    target_for,
)

__all__ = [
    "EspCache",
    "RoutedCircuit",
    "Router",
    "Schedule",
    "ScheduledOp",
    "asap_schedule",
    "esp",
    "executable",
    "log_esp",
    "log_esp_many",
    "route",
    "summarize",
    "target_for",
]
