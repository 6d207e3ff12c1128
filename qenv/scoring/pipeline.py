"""The AHMO pipeline end to end: :func:`score` for one (task, QPU) pair, and
:class:`QPUScoreTable`, every (circuit, QPU) pair of a workload precomputed for the
environment.

Order of the pipeline (DESIGN.md §5): ① :func:`~qenv.scoring.ingest.ingest` →
② :func:`~qenv.scoring.decompose.decompose` → ③ the six sub-scores (LogicScore, Sandbox,
Novelty, ImpactFore, ΔRepro, QNC) and the dispatch-context term Meta → ⑤ V and the
HyperScore (:mod:`qenv.scoring.fusion`). Bad input never raises inside the pipeline once
ingested: a sub-score that cannot be computed is 0 and its reason is kept in
``Score.reasons``; malformed OpenQASM raises :class:`~qenv.tasks.QasmError` at ① (line and
column), and a QuantumCircuit with free parameters a ``ValueError``.

Caching: the sandbox per circuit key; LogicScore's routing and ΔRepro per (circuit key,
device structure); QNC is one dot product per calibration. Novelty of :func:`score` is
against :data:`~qenv.scoring.novelty.DEFAULT_STORE` (what this process scored before).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from qenv.execution import RoutedCircuit, Router, esp
from qenv.hardware import Calibration, QPUSpec, load_qpu
from qenv.scoring.decompose import decompose
from qenv.scoring.fusion import hyperscore, hyperscore_unit, v_score
from qenv.scoring.impact import impact_fore
from qenv.scoring.ingest import CircuitLike, ingest
from qenv.scoring.kernels import qpu_block
from qenv.scoring.logic import ROUTER, logic_score
from qenv.scoring.novelty import DEFAULT_STORE, VectorStore
from qenv.scoring.params import ScoringParams, load_params
from qenv.scoring.repro import repro_score
from qenv.scoring.sandbox import run_sandbox
from qenv.tasks import Circuit

__all__ = ["SUB_SCORES", "QPUScoreTable", "Score", "Task", "meta_score", "score"]

FloatArray = npt.NDArray[np.float64]

#: The six sub-scores, in the order of the environment's AHMO slots.
SUB_SCORES = ("logic", "sandbox", "novelty", "impact", "repro", "qnc")


@dataclass(frozen=True)
class Task:
    """A quantum task to score: a circuit and what the dispatcher knows about it.

    ``slack_s``: seconds left before its deadline (inf: none); ``wait_s``: time until the
    QPU's queue is empty (0: an idle QPU). Both enter Meta only.
    """

    circuit: CircuitLike
    shots: int = 1000
    priority: float = 2.0
    slack_s: float = math.inf
    wait_s: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.shots, bool) or not isinstance(self.shots, int) or self.shots < 1:
            raise ValueError(f"shots must be an integer >= 1, got {self.shots!r}")
        for name in ("priority", "wait_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (isinstance(self.slack_s, int | float) and not math.isnan(self.slack_s)):
            raise ValueError(f"slack_s must be a number (inf: no deadline), got {self.slack_s!r}")


@dataclass(frozen=True)
class Score:
    """The AHMO scores of one (task, QPU) pair; every sub-score in [0, 1]."""

    logic: float
    sandbox: float
    novelty: float
    impact: float
    repro: float
    qnc: float
    meta: float
    v: float
    hyperscore: float
    circuit: str
    qpu: str
    reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def sub_scores(self) -> dict[str, float]:
        """The six sub-scores by name."""
        return {k: float(getattr(self, k)) for k in SUB_SCORES}

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.sub_scores,
            "meta": self.meta,
            "v": self.v,
            "hyperscore": self.hyperscore,
            "circuit": self.circuit,
            "qpu": self.qpu,
            "reasons": dict(self.reasons),
        }


def meta_score(wait_s: float, runtime_s: float, slack_s: float, tau_default_s: float) -> float:
    """Meta = exp(−(wait + runtime)/τ), τ = slack (inf: ``tau_default_s``), >= tiny."""
    tau = tau_default_s if not math.isfinite(slack_s) else max(slack_s, 1e-9)
    return float(math.exp(-(max(wait_s, 0.0) + max(runtime_s, 0.0)) / tau))


def score(
    task: Task | CircuitLike,
    qpu: QPUSpec | str,
    *,
    calibration: Calibration | None = None,
    params: ScoringParams | Mapping[str, Any] | str | None = None,
    store: VectorStore | None = None,
    router: Router | None = None,
) -> Score:
    """Every AHMO score of ``task`` on ``qpu`` (module docstring).

    Args:
        task: a :class:`Task`, or a circuit (Circuit, QuantumCircuit, OpenQASM text or
            file) scored as a 1000-shot, priority-2 task without a deadline.
        qpu: a :class:`~qenv.hardware.QPUSpec` or a QPU name/path for
            :func:`~qenv.hardware.load_qpu`.
        calibration: the calibration QNC uses (default: the QPU's snapshot).
        params: scoring parameters (:func:`~qenv.scoring.params.load_params`).
        store: Novelty's vector store (default: the process-wide one, updated).

    Raises:
        QasmError: malformed OpenQASM. ValueError: unbound parameters, bad arguments.
    """
    t = task if isinstance(task, Task) else Task(task)
    p = load_params(params)
    spec = qpu if isinstance(qpu, QPUSpec) else load_qpu(qpu)
    circuit = ingest(t.circuit)
    reasons: dict[str, str] = {}
    graph = decompose(circuit)
    logic = logic_score(circuit, spec, router=router or ROUTER)
    if logic.reason:
        reasons["logic"] = logic.reason
    box = run_sandbox(
        [circuit],
        time_limit_s=p.sandbox_time_limit_s,
        memory_limit_mb=p.sandbox_memory_limit_mb,
        max_qubits=p.sandbox_max_qubits,
    )[0]
    if box.status != "ok":
        reasons["sandbox"] = f"{box.status}: {box.error}"
    novelty = (store if store is not None else DEFAULT_STORE).observe(
        circuit.key, graph.embedding()
    )
    impact = impact_fore(
        t.priority,
        circuit.num_qubits,
        size_max=p.impact_size_max,
        priority_max=p.impact_priority_max,
    )
    routed: RoutedCircuit | None = logic.routed
    if routed is not None:
        rep = repro_score(circuit, spec, routed=routed, max_qubits=p.repro_max_qubits)
        repro = rep.score
        if rep.reason:
            reasons["repro"] = rep.reason
        qnc = esp(routed, spec.calibration if calibration is None else calibration)
        runtime = routed.runtime_s(t.shots, spec.shot_overhead_s)
        meta = meta_score(t.wait_s, runtime, t.slack_s, p.meta_tau_s)
    else:
        repro = qnc = meta = 0.0
        for k in ("repro", "qnc", "meta"):
            reasons[k] = "LogicScore is 0"
    sb = box.score
    v = float(v_score(logic.score, sb, novelty, impact, repro, meta, qnc, p))
    return Score(
        logic=float(logic.score),
        sandbox=float(sb),
        novelty=float(novelty),
        impact=float(impact),
        repro=float(repro),
        qnc=float(qnc),
        meta=float(meta),
        v=v,
        hyperscore=float(hyperscore(v, p.beta, p.gamma, p.kappa)),
        circuit=circuit.name,
        qpu=spec.name,
        reasons=reasons,
    )


class QPUScoreTable:
    """Sub-scores of every (circuit, QPU) pair of a workload library, for the environment.

    Static per (circuit, QPU), computed once at construction: LogicScore, Sandbox, Novelty
    (leave-one-out against the library's store) and ΔRepro, in ``static`` (C, M, 4). The
    rest is added per step by :meth:`fill` (the compiled :func:`qpu_block`): ImpactFore
    from the head task's priority, QNC read from the published-calibration ESP table the
    environment recomputes at each recalibration, Meta from the queues, then V and the
    normalised HyperScore.

    Args:
        circuits: the library (C circuits).
        fleet: the QPUs (M).
        routed: ``routed[c][j]``, the circuit routed on QPU j, or None where it cannot run.
        params: scoring parameters.
    """

    def __init__(
        self,
        circuits: Sequence[Circuit],
        fleet: Sequence[QPUSpec],
        routed: Sequence[Sequence[RoutedCircuit | None]],
        params: ScoringParams | Mapping[str, Any] | str | None = None,
    ) -> None:
        self.params = load_params(params)
        p = self.params
        c_count, m_count = len(circuits), len(fleet)
        if len(routed) != c_count or any(len(r) != m_count for r in routed):
            raise ValueError(f"routed must be ({c_count}, {m_count}) entries")
        self.reasons: dict[tuple[int, int, str], str] = {}
        static = np.zeros((c_count, m_count, 4))
        boxes = run_sandbox(
            list(circuits),
            time_limit_s=p.sandbox_time_limit_s,
            memory_limit_mb=p.sandbox_memory_limit_mb,
            max_qubits=p.sandbox_max_qubits,
        )
        store = VectorStore()
        embeddings = [decompose(c).embedding() for c in circuits]
        for circ, emb in zip(circuits, embeddings, strict=True):
            store.add(circ.key, emb)
        for i, circ in enumerate(circuits):
            static[i, :, 1] = boxes[i].score
            if boxes[i].status != "ok":
                self.reasons[i, -1, "sandbox"] = f"{boxes[i].status}: {boxes[i].error}"
            static[i, :, 2] = store.novelty(embeddings[i], circ.key)
            for j, spec in enumerate(fleet):
                r = routed[i][j]
                if r is None:
                    self.reasons[i, j, "logic"] = "cannot run on the QPU"
                    continue
                logic = logic_score(circ, spec, routed=r)
                static[i, j, 0] = logic.score
                if logic.reason:
                    self.reasons[i, j, "logic"] = logic.reason
                    continue
                rep = repro_score(circ, spec, routed=r, max_qubits=p.repro_max_qubits)
                static[i, j, 3] = rep.score
                if rep.reason:
                    self.reasons[i, j, "repro"] = rep.reason
        self.static = np.ascontiguousarray(np.nan_to_num(np.clip(static, 0.0, 1.0), nan=0.0))
        self.size = np.array([float(c.num_qubits) for c in circuits])
        self._set_fusion(p)
        self._out = np.zeros((0, m_count, 9))
        self._per_shot = np.zeros((0, 0))
        self._per_shot_key: tuple[int, int] | None = None

    def with_params(self, params: ScoringParams | Mapping[str, Any] | str | None) -> QPUScoreTable:
        """The same table under other fusion parameters (weights, β, γ, κ, Meta's τ,
        ImpactFore's scale): the static sub-scores are shared, nothing is recomputed.

        Raises ``ValueError`` if ``params`` changes the sandbox or ΔRepro limits (the
        static sub-scores depend on them: build a new table).
        """
        p = load_params(params)
        old = self.params
        limits = (
            "sandbox_time_limit_s",
            "sandbox_memory_limit_mb",
            "sandbox_max_qubits",
            "repro_max_qubits",
        )
        changed = [k for k in limits if getattr(p, k) != getattr(old, k)]
        if changed:
            raise ValueError(f"params: {changed} differ from the table's; build a new table")
        other = object.__new__(QPUScoreTable)
        other.__dict__.update(self.__dict__)
        other._set_fusion(p)
        other._out = np.zeros((0, self.static.shape[1], 9))
        return other

    def _set_fusion(self, p: ScoringParams) -> None:
        self.params = p
        self.weights = np.array(p.weight_vector, dtype=np.float64)
        self.impact_scale = math.log1p(p.impact_priority_max * p.impact_size_max)
        self.fparams = np.array(
            [*p.weight_vector, p.beta, p.gamma, p.kappa, p.meta_tau_s, self.impact_scale, 0.0]
        )

    def set_dt(self, dt: float) -> None:
        """The slot length (Meta's smallest time budget)."""
        self.fparams[-1] = float(dt)

    def per_shot(self, duration_s: FloatArray, shot_overhead_s: FloatArray) -> FloatArray:
        """(C, M) seconds per shot, duration + overhead (cached: both are fixed per env)."""
        key = (id(duration_s), id(shot_overhead_s))
        if self._per_shot_key != key:
            self._per_shot = np.ascontiguousarray(duration_s + shot_overhead_s[None, :])
            self._per_shot_key = key
        return self._per_shot

    def fill(
        self,
        head: npt.NDArray[np.int64],
        n_tasks: int,
        task_circuit: npt.NDArray[np.int64],
        task_priority: FloatArray,
        task_deadline: FloatArray,
        task_shots: npt.NDArray[np.int64],
        per_shot_s: FloatArray,
        free_at: FloatArray,
        esp_observed: FloatArray,
        now: float,
    ) -> FloatArray:
        """(G, M, 9) block of the head tasks: the seven AHMO slots, then Meta and V
        (a reused buffer; :func:`~qenv.scoring.kernels.qpu_block`)."""
        out = self._out
        if out.shape[0] != head.shape[0]:
            out = self._out = np.zeros((head.shape[0], self.static.shape[1], 9))
        qpu_block(
            out,
            head,
            n_tasks,
            task_circuit,
            task_priority,
            task_deadline,
            task_shots,
            self.static,
            self.size,
            per_shot_s,
            free_at,
            esp_observed,
            now,
            self.fparams,
        )
        return out

    def hyperscore_unit(self, v: npt.ArrayLike) -> float | FloatArray:
        """The normalised HyperScore of V under this table's parameters."""
        p = self.params
        return hyperscore_unit(v, p.beta, p.gamma, p.kappa)
