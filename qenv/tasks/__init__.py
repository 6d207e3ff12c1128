"""Quantum tasks of the QPU-allocation world (DESIGN.md §4): circuits, OpenQASM, workloads.

* :mod:`qenv.tasks.circuits` — the :class:`Circuit` (bound, measured, content-keyed) and
  the generated families: QAOA MaxCut and TSP, VQE hardware-efficient ansatz (H2, LiH),
  GHZ, QFT.
* :mod:`qenv.tasks.qasm` — OpenQASM 2/3 programs (files or strings) as circuits.
* :mod:`qenv.tasks.workload` — the circuit library, task batches, Poisson and bursty
  (MMPP-2) arrivals per gateway, and YAML workload files (``configs/workloads/``).

Pure numpy/networkx/qiskit: nothing here imports gymnasium, pettingzoo or ray.
"""

from __future__ import annotations

from qenv.tasks.circuits import (
    FAMILIES,
    Circuit,
    Ising,
    Qubo,
    circuit_from_family,
    circuit_key,
    ghz,
    qaoa_maxcut,
    qaoa_tsp,
    qft,
    random_tsp_distances,
    tsp_decode,
    tsp_qubo,
    vqe_h2,
    vqe_hea,
    vqe_lih,
)
from qenv.tasks.qasm import QasmError, load_qasm, qasm_version
from qenv.tasks.workload import (
    TASK_COLUMNS,
    ArrivalProcess,
    BurstyArrivals,
    Categorical,
    CircuitLibrary,
    FamilySpec,
    PoissonArrivals,
    TaskBatch,
    Workload,
    WorkloadError,
    load_workload,
    workload_names,
)

__all__ = [
    "FAMILIES",
    "TASK_COLUMNS",
    "ArrivalProcess",
    "BurstyArrivals",
    "Categorical",
    "Circuit",
    "CircuitLibrary",
    "FamilySpec",
    "Ising",
    "PoissonArrivals",
    "QasmError",
    "Qubo",
    "TaskBatch",
    "Workload",
    "WorkloadError",
    "circuit_from_family",
    "circuit_key",
    "ghz",
    "load_qasm",
    "load_workload",
    "qaoa_maxcut",
    "qaoa_tsp",
    "qasm_version",
    "qft",
    "random_tsp_distances",
    "tsp_decode",
    "tsp_qubo",
    "vqe_h2",
    "vqe_hea",
    "vqe_lih",
    "workload_names",
]
