"""AHMO scoring (DESIGN.md §5): six sub-scores of a (task, QPU) pair, V and the HyperScore.

Pipeline, one module per stage:

* ① :mod:`~qenv.scoring.ingest` — OpenQASM 2/3 files or strings and qiskit circuits into
  one IR (:class:`qenv.tasks.Circuit`);
* ② :mod:`~qenv.scoring.decompose` — instruction DAG and qubit-interaction graph
  (networkx), structural features and the circuit embedding;
* ③ the sub-scores, each in [0, 1]: :mod:`~qenv.scoring.logic` (LogicScore, hard
  constraints), :mod:`~qenv.scoring.sandbox` (statevector run in a child process with time
  and memory limits), :mod:`~qenv.scoring.novelty` (1 − max cosine similarity to a vector
  store), :mod:`~qenv.scoring.impact` (ImpactFore), :mod:`~qenv.scoring.repro` (ΔRepro,
  qiskit against qutip), :mod:`~qenv.scoring.qnc` (QNC, the ESP);
* ⑤ :mod:`~qenv.scoring.fusion` — V, the HyperScore, AHP weights, Shapley attribution
  and the Bayesian calibration of V; ④ :mod:`~qenv.scoring.meta` — the Optuna meta-loop
  (``qenv meta-opt``); ⑥ :mod:`~qenv.scoring.feedback` — expert preferences into the AHP
  matrix (``qenv feedback``).

:func:`score` scores one pair; :class:`QPUScoreTable` precomputes a workload for
``QPUAllocation-v0``. Imports no gymnasium, pettingzoo or ray (the meta-loop imports the
environment only when it runs).
"""

from __future__ import annotations

from qenv.scoring.decompose import CircuitGraph, decompose
from qenv.scoring.fusion import (
    AHPResult,
    BayesCalibration,
    ahp_weights,
    blend_weights,
    hyperscore,
    hyperscore_unit,
    shapley_values,
    v_score,
)
from qenv.scoring.impact import impact_fore
from qenv.scoring.ingest import ingest
from qenv.scoring.logic import logic_score
from qenv.scoring.novelty import VectorStore
from qenv.scoring.params import WEIGHT_NAMES, ScoringParams, load_params, save_params
from qenv.scoring.pipeline import SUB_SCORES, QPUScoreTable, Score, Task, score
from qenv.scoring.qnc import qnc_score
from qenv.scoring.repro import repro_score
from qenv.scoring.sandbox import run_sandbox

__all__ = [
    "SUB_SCORES",
    "WEIGHT_NAMES",
    "AHPResult",
    "BayesCalibration",
    "CircuitGraph",
    "QPUScoreTable",
    "Score",
    "ScoringParams",
    "Task",
    "VectorStore",
    "ahp_weights",
    "blend_weights",
    "decompose",
    "hyperscore",
    "hyperscore_unit",
    "impact_fore",
    "ingest",
    "load_params",
    "logic_score",
    "qnc_score",
    "repro_score",
    "run_sandbox",
    "save_params",
    "score",
    "shapley_values",
    "v_score",
]
