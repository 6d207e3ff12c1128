"""Layout of a gateway's observation vector in QPUAllocation-v0: named fields and scales."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qenv.envs.qpu.dynamics import (
    SCORE_FIELDS,
    AHMOScorer,
    DispatchCore,
    QPUScorer,
    fidelity_score,
)
from qenv.envs.qpu.kernels import fill_observation

QUBITS_SCALE = 64.0
GATES_SCALE = 1000.0
SHOTS_SCALE = 10_000.0
TIME_SCALE_S = 60.0
QUEUE_SCALE = 10.0

_HEAD = (
    ("has_task", "1 if the gateway has a waiting task"),
    ("head_qubits", f"qubits of the head task's circuit / {QUBITS_SCALE:g}"),
    ("head_depth", f"depth of the circuit / {GATES_SCALE:g}"),
    ("head_two_qubit", f"two-qubit gates of the circuit / {GATES_SCALE:g}"),
    ("head_shots", f"shots / {SHOTS_SCALE:g}"),
    ("head_priority", "priority / 3"),
    ("head_age", f"seconds since the task arrived / {TIME_SCALE_S:g}"),
    ("head_slack", f"seconds left before its deadline / {TIME_SCALE_S:g}"),
    ("queue_length", f"waiting tasks at the gateway / {QUEUE_SCALE:g}"),
)
_QPU = (
    ("executable", "1 if the head task can run on the QPU (fits, gates translate)"),
    ("wait", f"seconds until the QPU's queue is empty / {TIME_SCALE_S:g}"),
    ("runtime", f"runtime of the head task on the QPU, s / {TIME_SCALE_S:g}"),
    ("esp", "estimated success probability of the head task (published calibration)"),
    ("error_2q", "median two-qubit gate error × 10 (published calibration)"),
    ("readout", "median readout error × 10"),
    ("t2", "log10(median T2 / 1 µs) / 7"),
    ("calibration_age", "time since the published calibration / recalibration period"),
)
_SCORE_DOC = {
    "logic": "AHMO LogicScore: 1 if every hard constraint holds (bound, fits, gates translate, no use after measurement, routable), else 0",
    "sandbox": "AHMO execution-sandbox score of the head circuit (statevector run in a child process; 0 on error or timeout)",
    "novelty": "AHMO Novelty: 1 − max cosine similarity of the circuit's embedding to the library's other circuits",
    "impact": "AHMO ImpactFore: ln(1 + priority·qubits) / ln(1 + 3·64)",
    "repro": "AHMO ΔRepro: 1 − TVD of the output distributions of qiskit (logical circuit) and qutip (compiled circuit)",
    "qnc": "AHMO QNC: the ESP of the head task under the published calibration",
    "hyperscore": "AHMO HyperScore, normalised: (HyperScore − 100)/(HyperScore(V=1) − 100) = (σ(β ln V + γ)/σ(γ))^κ; 0 where LogicScore·Sandbox = 0",
}


@dataclass(frozen=True)
class QPUObservationLayout:
    """Field slices of a gateway's observation for M QPUs and F task families.

    Order: head-task fields, a one-hot of the head task's family, one block per QPU
    (state, then the 7 AHMO score slots), and the episode time.
    """

    n_qpus: int
    families: tuple[str, ...]
    fields: dict[str, slice] = field(init=False)

    def __post_init__(self) -> None:
        fields: dict[str, slice] = {}
        start = 0
        for name, _ in _HEAD:
            fields[name] = slice(start, start + 1)
            start += 1
        fields["family"] = slice(start, start + len(self.families))
        start += len(self.families)
        fields["qpus"] = slice(start, start + self.n_qpus * self.block)
        start += self.n_qpus * self.block
        fields["time"] = slice(start, start + 1)
        object.__setattr__(self, "fields", fields)

    @property
    def block(self) -> int:
        """Width of one QPU's block."""
        return len(_QPU) + len(SCORE_FIELDS)

    @property
    def block_fields(self) -> tuple[str, ...]:
        return tuple(name for name, _ in _QPU) + SCORE_FIELDS

    @property
    def size(self) -> int:
        return int(self.fields["time"].stop)

    def qpu_field(self, j: int, name: str) -> int:
        """Index of field ``name`` of QPU ``j``'s block."""
        start = int(self.fields["qpus"].start)
        return start + j * self.block + self.block_fields.index(name)

    def high(self) -> np.ndarray:
        return np.ones(self.size, dtype=np.float32)

    def describe(self) -> str:
        """A Markdown table of the fields."""
        rows = ["| field | index | meaning |", "| --- | --- | --- |"]
        f = self.fields
        for name, doc in _HEAD:
            rows.append(f"| `{name}` | {f[name].start} | {doc} |")
        fam = f["family"]
        rows.append(
            f"| `family` | {fam.start}–{fam.stop - 1} | one-hot of the head task's family "
            f"({', '.join(self.families)}) |"
        )
        q0 = f["qpus"].start
        for i, (name, doc) in enumerate(_QPU):
            rows.append(f"| `qpu[j].{name}` | {q0} + {self.block}·j + {i} | {doc} |")
        for i, name in enumerate(SCORE_FIELDS, start=len(_QPU)):
            rows.append(f"| `qpu[j].{name}` | {q0} + {self.block}·j + {i} | {_SCORE_DOC[name]} |")
        rows.append(f"| `time` | {f['time'].start} | slot / horizon |")
        return "\n".join(rows)


def observe(
    core: DispatchCore, layout: QPUObservationLayout, scorer: QPUScorer
) -> tuple[np.ndarray, np.ndarray]:
    """Observation rows (G, size) float32 and action masks (G, 1 + M) int8."""
    g, m = core.n_gateways, core.n_qpus
    obs = np.empty((g, layout.size), dtype=np.float32)
    mask = np.empty((g, 1 + m), dtype=np.int8)
    use_scores = scorer is not fidelity_score
    if isinstance(scorer, AHMOScorer) and scorer.table is not None:
        scores = scorer.block(core)[0]  # compiled; already in [0, 1]
    elif use_scores:
        scores = np.asarray(scorer(core.head_view()), dtype=np.float64)
        if scores.shape != (g, m, len(SCORE_FIELDS)):
            raise ValueError(
                f"qpu_scorer returned shape {scores.shape}, expected {(g, m, len(SCORE_FIELDS))}"
            )
        scores = np.where(np.isfinite(scores), np.clip(scores, 0.0, 1.0), 0.0)
    else:
        scores = _NO_SCORES
    now = core.now
    f = layout.fields
    fill_observation(
        obs,
        mask,
        core.head,
        core.n_tasks,
        core.task_circuit,
        core.task_shots,
        core.task_priority,
        core.task_arrival,
        core.task_deadline,
        core.circuit_features,
        core.family_index,
        core.exec_ok,
        core.duration_s,
        core.shot_overhead_s,
        core.esp_observed,
        core.cal_summary,
        core.last_recalibration_s,
        core.drift_config.recalibration_period_s,
        core.free_at,
        now,
        core.waiting,
        min(core.t / core.horizon, 1.0),
        scores,
        use_scores,
        f["family"].start,
        f["qpus"].start,
        layout.block,
        len(_QPU),
        QUBITS_SCALE,
        GATES_SCALE,
        SHOTS_SCALE,
        TIME_SCALE_S,
        QUEUE_SCALE,
    )
    return obs, mask


_NO_SCORES = np.zeros((1, 1, 1))
