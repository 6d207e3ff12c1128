"""Dynamics of QPU dispatch: gateway queues, QPU queues, drifting noise, rewards, metrics.

Numpy and numba kernels (:mod:`qenv.envs.qpu.kernels`) on top of :mod:`qenv.hardware`,
:mod:`qenv.tasks` and :mod:`qenv.execution`;
no gymnasium or PettingZoo here (the environment class wires this to their API).

Time. Slot ``t`` ends at ``now = t·dt`` seconds. :meth:`DispatchCore.reset` draws the
episode's tasks and advances into slot 1. Each :meth:`DispatchCore.step` then

1. checks every gateway's action against the mask it was shown (an action outside it is
   *invalid*: counted, penalised, not executed);
2. sends each dispatched head task to the tail of its QPU's queue, in a random order
   among gateways that chose the same QPU in the same slot. A QPU runs its queue first
   in, first out, without preemption: a task starts at ``max(now, QPU free)`` and runs
   for ``shots × (scheduled circuit duration + per-shot overhead)``, its circuit routed
   on the device's coupling map once per (circuit, device) (:class:`qenv.execution.Router`);
3. advances time by ``dt``: tasks that have started get their success probability, the
   estimated success probability (ESP, :mod:`qenv.execution.esp`) of the routed circuit
   under the device's *true* noise at the start; tasks that have finished are completed
   and rewarded; the gateway queues admit the tasks that arrived; a waiting task whose
   deadline has passed is dropped;
4. moves the true noise of every QPU (every ``drift_interval_s``, a mean-reverting walk
   around its snapshot, :class:`qenv.hardware.CalibrationDrift`); agents see the last
   published calibration, not the true one.

Reward of a gateway in a slot (:class:`RewardConfig`)::

    Σ_completed  w·(p_success − late·[finished after its deadline])
    − drop·Σ_dropped w − invalid·(invalid actions)

with ``w`` the task's priority (1–3): high-priority tasks count more, a completed task
earns its success probability (expected successful tasks; throughput against error
rate), a late one loses ``late``, a dropped one ``drop``.

Randomness: ``reset(rng)`` spawns independent streams for the tasks, the drift of each
QPU and the dispatch order, so policies compared on one seed face the same tasks and the
same noise trajectories whatever they do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int, check_range
from qenv.envs.qpu.kernels import (
    COMPLETED,
    COMPLETION_SUM,
    DISPATCHED_N,
    DROPPED_N,
    INVALID,
    LATE,
    P_SUM,
    WAIT_SUM,
    advance,
    dispatch,
)
from qenv.execution import RoutedCircuit, Router, executable
from qenv.execution.esp import log_esp_matrix
from qenv.hardware import Calibration, CalibrationDrift, QPUSpec
from qenv.qpu_scenarios import DriftConfig
from qenv.tasks.workload import TaskBatch, Workload

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Process-wide routing cache: a (circuit, device) pair is routed once per process.
ROUTER = Router(cache_size=8192)

# Task states.
WAITING, DISPATCHED, STARTED, DONE, DROPPED = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class RewardConfig:
    """Per-gateway reward of one slot (module docstring); every weight >= 0."""

    late_penalty: float = 0.5
    drop_penalty: float = 1.0
    invalid_penalty: float = 1.0

    def __post_init__(self) -> None:
        for name in ("late_penalty", "drop_penalty", "invalid_penalty"):
            check_range(name, getattr(self, name), 0.0)


class StepOutcome(NamedTuple):
    """Per-gateway results of one slot (a NamedTuple: built every slot, cheaply)."""

    reward: FloatArray
    invalid: BoolArray
    dispatched: IntArray  # (A,) task ids dispatched this slot, in queue order
    dispatched_to: IntArray  # (A,) their QPUs
    completed: IntArray  # task ids that finished this slot
    dropped: IntArray  # task ids dropped this slot


@dataclass(frozen=True)
class HeadView:
    """What gateways see of their head task on every QPU: the input of a QPU scorer.

    (G, M) arrays for all G gateways; rows of gateways without a head task are zero.
    """

    has_task: BoolArray  # (G,)
    circuit: IntArray  # (G,) library index (0 where no task)
    executable: BoolArray  # (G, M) the circuit fits the QPU and its gates translate
    esp: FloatArray  # (G, M) ESP under the published calibration (0 if not executable)
    runtime_s: FloatArray  # (G, M) runtime of the head task on the QPU (0 if not executable)
    wait_s: FloatArray  # (M,) time until each QPU's queue is empty
    priority: FloatArray  # (G,) priority of the head task (0 where no task)
    slack_s: FloatArray  # (G,) seconds left before its deadline (inf: none; 0 where no task)


#: Fills the (G, M, 7) AHMO block: six sub-scores and the HyperScore (scaled to [0, 1]).
QPUScorer = Callable[[HeadView], FloatArray]

SCORE_FIELDS = ("logic", "sandbox", "novelty", "impact", "repro", "qnc", "hyperscore")


def fidelity_score(view: HeadView) -> FloatArray:
    """The AHMO block without the scoring pipeline: ``logic`` (1 if the task can run on the
    QPU) and ``qnc`` (the ESP under the published calibration); the other sub-scores and
    the HyperScore are 0. Pass ``qpu_scorer=fidelity_score`` (or ``scoring="fidelity"``)."""
    out = np.zeros((*view.esp.shape, len(SCORE_FIELDS)))
    out[..., 0] = view.executable
    out[..., 5] = view.esp
    return out


class AHMOScorer:
    """The AHMO scoring pipeline (:mod:`qenv.scoring`) as the QPU scorer (the default).

    :meth:`bind` precomputes a :class:`~qenv.scoring.QPUScoreTable` of every (circuit,
    QPU) pair of the core's library once (LogicScore, Sandbox, Novelty, ΔRepro); per step
    the head tasks' rows are gathered by circuit index and completed with ImpactFore
    (priority), QNC (the published-calibration ESP table, which the core recomputes only at
    a recalibration) and Meta (queues), then fused into V and the HyperScore slot,
    (HyperScore − 100)/(HyperScore(V = 1) − 100) ∈ [0, 1], in one compiled pass
    (:meth:`block`). Calling the scorer on a :class:`HeadView` computes the same block with
    numpy (the generic :data:`QPUScorer` interface; slower).
    """

    def __init__(self, params: Any = None) -> None:
        from qenv.scoring import load_params

        self.params = load_params(params)
        self.table: Any = None
        self._core: DispatchCore | None = None

    def bind(self, core: DispatchCore) -> AHMOScorer:
        """A scorer bound to ``core``, its (circuit, QPU) table computed."""
        from qenv.scoring import QPUScoreTable

        bound = AHMOScorer(self.params)
        bound.table = QPUScoreTable(
            list(core.workload.library), core.fleet, core.routed, self.params
        )
        bound.table.set_dt(core.dt)
        bound._core = core
        return bound

    def with_params(self, params: Any) -> AHMOScorer:
        """This (bound) scorer under other fusion parameters; the table's static
        sub-scores are shared (:meth:`qenv.scoring.QPUScoreTable.with_params`)."""
        other = AHMOScorer(params)
        if self.table is not None:
            other.table = self.table.with_params(other.params)
            if self._core is not None:
                other.table.set_dt(self._core.dt)
        other._core = self._core
        return other

    def block(self, core: DispatchCore) -> tuple[FloatArray, FloatArray]:
        """(G, M, 7) AHMO block and (G, M, 2) [Meta, V] of the head tasks (views of one
        reused buffer), compiled."""
        table = self.table
        if table is None:
            raise ValueError("AHMOScorer: bind(core) before scoring")
        out: FloatArray = table.fill(
            core.head,
            core.n_tasks,
            core.task_circuit,
            core.task_priority,
            core.task_deadline,
            core.task_shots,
            table.per_shot(core.duration_s, core.shot_overhead_s),
            core.free_at,
            core.esp_observed,
            core.t * core.dt,
        )
        return out[..., :7], out[..., 7:]

    def __call__(self, view: HeadView) -> FloatArray:
        if self.table is None:
            raise ValueError("AHMOScorer: bind(core) before scoring")
        from qenv.scoring import v_score

        p, tab = self.params, self.table
        static = tab.static[view.circuit]  # (G, M, 4)
        has = view.has_task[:, None, None]
        imp = np.clip(np.log1p(view.priority * tab.size[view.circuit]) / tab.impact_scale, 0.0, 1.0)
        tau = np.where(np.isfinite(view.slack_s), np.maximum(view.slack_s, self._dt), p.meta_tau_s)
        meta = np.exp(-(view.wait_s[None, :] + view.runtime_s) / tau[:, None])
        v = v_score(
            static[..., 0],
            static[..., 1],
            static[..., 2],
            imp[:, None],
            static[..., 3],
            meta,
            view.esp,
            p,
        )
        out = np.zeros((*view.esp.shape, len(SCORE_FIELDS)))
        out[..., 0], out[..., 1], out[..., 2] = static[..., 0], static[..., 1], static[..., 2]
        out[..., 3] = imp[:, None]
        out[..., 4] = static[..., 3]
        out[..., 5] = view.esp
        out[..., 6] = tab.hyperscore_unit(v)
        return np.where(has, out, 0.0)

    @property
    def _dt(self) -> float:
        return self._core.dt if self._core is not None else 1.0


def make_qpu_scorer(qpu_scorer: QPUScorer | None, scoring: Any, core: DispatchCore) -> QPUScorer:
    """The env's scorer: ``qpu_scorer`` if given (an :class:`AHMOScorer` gets bound),
    else the AHMO pipeline with ``scoring`` (a YAML path, a mapping or
    :class:`~qenv.scoring.ScoringParams`; None: ``configs/scoring/default.yaml``), or
    :func:`fidelity_score` for ``scoring="fidelity"``."""
    if qpu_scorer is not None:
        if scoring is not None:
            raise ValueError("give either qpu_scorer or scoring, not both")
        if isinstance(qpu_scorer, AHMOScorer):
            return qpu_scorer.bind(core)
        if not callable(qpu_scorer):
            raise ValueError(f"qpu_scorer must be callable, got {qpu_scorer!r}")
        return qpu_scorer
    if scoring == "fidelity":
        return fidelity_score
    return AHMOScorer(scoring).bind(core)


def _median(arr: FloatArray) -> float:
    """``np.median`` of a 1-d array (NaN if empty) by partition: several times faster
    for the few hundred entries of a calibration, and called at every recalibration."""
    n = arr.size
    if n == 0:
        return float("nan")
    half = n // 2
    if n % 2:
        return float(np.partition(arr, half)[half])
    part = np.partition(arr, (half - 1, half))
    return float(0.5 * (part[half - 1] + part[half]))


class DispatchCore:
    """State and rules of QPU dispatch for G gateways and M QPUs (module docstring)."""

    def __init__(
        self,
        fleet: Sequence[QPUSpec],
        workload: Workload,
        n_gateways: int,
        *,
        dt: float = 0.1,
        horizon: int = 1000,
        drift: DriftConfig | None = None,
        reward: RewardConfig | None = None,
    ) -> None:
        if not fleet:
            raise ValueError("fleet must hold at least one QPU")
        self.fleet = tuple(fleet)
        self.workload = workload
        self.n_gateways = check_positive_int("n_gateways", n_gateways)
        self.dt = float(check_range("dt", dt, 0.0, low_open=True))
        self.horizon = check_positive_int("horizon", horizon)
        self.drift_config = drift or DriftConfig()
        self.reward_config = reward or RewardConfig()
        lib = workload.library
        c, m = len(lib), len(self.fleet)
        self.n_qpus = m
        # Routing and everything static about (circuit, QPU): once, from the process cache.
        self.exec_ok = np.zeros((c, m), dtype=bool)
        self.reasons: dict[tuple[int, int], str] = {}
        self.routed: list[list[RoutedCircuit | None]] = [[None] * m for _ in range(c)]
        self.duration_s = np.zeros((c, m))
        for j, spec in enumerate(self.fleet):
            for i, circ in enumerate(lib):
                reason = executable(circ.qc, spec)
                if reason is not None:
                    self.reasons[i, j] = reason
                    continue
                routed = ROUTER.route(circ.key, circ.qc, spec)
                self.exec_ok[i, j] = True
                self.routed[i][j] = routed
                self.duration_s[i, j] = routed.duration_s
        if not self.exec_ok.any(axis=1).all():
            bad = [lib[int(i)].name for i in np.flatnonzero(~self.exec_ok.any(axis=1))]
            raise ValueError(f"circuits that no QPU of the fleet can run: {bad}")
        # ESP rows of the routed circuits stacked per QPU, re-scored at every drift step.
        self._esp_rows: list[tuple[IntArray, FloatArray]] = []
        for j in range(m):
            rows = np.flatnonzero(self.exec_ok[:, j])
            stacked = np.stack([self.routed[i][j].esp_row for i in rows])  # type: ignore[union-attr]
            self._esp_rows.append((rows, stacked))
        self.shot_overhead_s = np.array([q.shot_overhead_s for q in self.fleet])
        feats = [circ.features() for circ in lib]
        self.circuit_features = np.array(
            [[f["num_qubits"], f["depth"], f["count_2q"]] for f in feats], dtype=np.float64
        )
        self.family_index = np.asarray(lib.family_index, dtype=np.int64)
        self.families = tuple(lib.families)
        self.t = 0

    # ------------------------------------------------------------------ ESP tables
    def _esp_table(self, calibrations: Sequence[Calibration]) -> FloatArray:
        """(C, M) ESP of every circuit on every QPU under ``calibrations`` (0 where it
        cannot run)."""
        out = np.zeros(self.exec_ok.shape)
        for j, cal in enumerate(calibrations):
            rows, stacked = self._esp_rows[j]
            out[rows, j] = np.exp(log_esp_matrix(stacked, cal))
        return out

    def _refresh_true(self) -> None:
        self.esp_true = self._esp_table([d.true() for d in self.drifts])

    def _refresh_observed(self) -> None:
        self.observed = [d.observed() for d in self.drifts]
        self.observed_versions = [c.version for c in self.observed]
        self.last_recalibration_s = np.array([d.last_recalibration_s for d in self.drifts])
        self.esp_observed = self._esp_table(self.observed)
        # Calibration summary per QPU: median 2q error, readout error, T2 (log10 µs / 7),
        # each in [0, 1]; the medians of Calibration.summary, without its two unused ones.
        self.cal_summary = np.array(
            [
                [
                    min(_median(c.gate_error_2q) * 10.0, 1.0),
                    min(_median(c.readout_error) * 10.0, 1.0),
                    float(np.clip(np.log10(max(_median(c.t2_s), 1e-9) / 1e-6) / 7.0, 0.0, 1.0)),
                ]
                for c in self.observed
            ]
        )

    # ------------------------------------------------------------------ episode setup
    def reset(self, rng: np.random.Generator, batch: TaskBatch | None = None) -> None:
        """Start an episode: the episode's tasks, fresh QPUs and noise, slot 1."""
        task_rng, drift_rng, self.rng = rng.spawn(3)
        # Order in which the gateways' dispatches of each slot reach the QPU queues
        # (matters among gateways choosing the same QPU): one draw per episode.
        self._orders = np.argsort(self.rng.random((self.horizon + 2, self.n_gateways)), axis=1)
        self.drift_rngs = drift_rng.spawn(self.n_qpus)
        cfg = self.drift_config
        self.drifts = [
            CalibrationDrift(
                spec,
                sigma=cfg.sigma,
                reversion=cfg.reversion,
                recalibration_period_s=cfg.recalibration_period_s,
            )
            for spec in self.fleet
        ]
        self.batch = (
            batch
            if batch is not None
            else self.workload.generate(self.horizon * self.dt, self.n_gateways, task_rng)
        )
        b = self.batch
        n = len(b)
        if n and int(b.gateway.max()) >= self.n_gateways:
            raise ValueError(f"tasks name gateways beyond the {self.n_gateways} of the env")
        if n and int(b.circuit.max()) >= len(self.workload.library):
            raise ValueError("tasks name circuits beyond the workload's library")
        self.n_tasks = n
        self.state = np.full(n + 1, WAITING, dtype=np.int8)
        self.state[n] = DONE  # padding row
        self.qpu = np.full(n + 1, -1, dtype=np.int64)
        self.start = np.full(n + 1, np.nan)
        self.end = np.full(n + 1, np.nan)
        self.p_success = np.full(n + 1, np.nan)
        self.task_circuit = np.append(b.circuit, 0)
        self.task_shots = np.append(b.shots, 1)
        self.task_priority = np.append(b.priority, 0).astype(np.float64)
        self.task_arrival = np.append(b.arrival_s, 0.0)
        self.task_deadline = np.append(b.deadline_s, np.inf)
        self.task_gateway = np.append(b.gateway, 0)
        # Gateway queues: each gateway's tasks in arrival order (CSR) and a head pointer.
        order = np.lexsort((b.arrival_s, b.gateway))
        self.gw_tasks = np.append(order, n).astype(np.int64)
        self.gw_start = np.searchsorted(b.gateway[order], np.arange(self.n_gateways + 1))
        self.ptr = self.gw_start[:-1].copy()
        self.head = np.full(self.n_gateways, n, dtype=np.int64)
        self.admitted = 0  # tasks with arrival < now, in arrival order
        self.waiting = np.zeros(self.n_gateways, dtype=np.int64)  # admitted, still waiting
        self.waiting_deadline_ptr = 0
        self.by_deadline = np.argsort(b.deadline_s, kind="stable")
        self.deadline_sorted = np.asarray(b.deadline_s)[self.by_deadline]
        # Tasks dispatched or running, not done: the first n_inflight entries.
        self.inflight = np.zeros(n + 1, dtype=np.int64)
        self.n_inflight = 0
        self.free_at = np.zeros(self.n_qpus)
        self.busy_s = np.zeros(self.n_qpus)  # of completed tasks
        self.tally = np.zeros(8)  # running sums, indexed as in qenv.envs.qpu.kernels
        self.reward_sum = 0.0
        self._arrival_sorted = np.ascontiguousarray(b.arrival_s, dtype=np.float64)
        self._arrival_gateway = np.ascontiguousarray(b.gateway, dtype=np.int64)
        self._by_deadline = self.by_deadline.astype(np.int64)
        self._deadline_sorted = np.ascontiguousarray(self.deadline_sorted, dtype=np.float64)
        self._done_buf = np.zeros(n + 1, dtype=np.int64)
        self._dropped_buf = np.zeros(n + 1, dtype=np.int64)
        self._sent_task = np.zeros(self.n_gateways, dtype=np.int64)
        self._sent_qpu = np.zeros(self.n_gateways, dtype=np.int64)
        self._invalid = np.zeros(self.n_gateways, dtype=bool)
        self.t = 0
        self._next_drift = self.drift_config.interval_s
        self._refresh_true()
        self._refresh_observed()
        self.last_outcome: StepOutcome | None = None
        self._advance(np.zeros(self.n_gateways))

    @property
    def now(self) -> float:
        """End of the current slot, s."""
        return self.t * self.dt

    @property
    def done(self) -> bool:
        return self.t > self.horizon

    # ------------------------------------------------------------------ dynamics
    @property
    def in_flight(self) -> IntArray:
        """Tasks dispatched or running, not yet done (a copy)."""
        return self.inflight[: self.n_inflight].copy()

    def _advance(self, reward: FloatArray) -> tuple[IntArray, IntArray]:
        """Move into the next slot: starts, completions, arrivals, drops, drift."""
        self.t += 1
        now = self.now
        cfg = self.reward_config
        (
            self.n_inflight,
            n_done,
            n_dropped,
            self.admitted,
            self.waiting_deadline_ptr,
        ) = advance(
            now,
            self.inflight,
            self.n_inflight,
            self.state,
            self.start,
            self.end,
            self.qpu,
            self.p_success,
            self.esp_true,
            self.task_circuit,
            self.task_priority,
            self.task_deadline,
            self.task_gateway,
            self.task_arrival,
            self.busy_s,
            reward,
            cfg.late_penalty,
            cfg.drop_penalty,
            self.admitted,
            self._arrival_sorted,
            self._arrival_gateway,
            self.waiting,
            self.waiting_deadline_ptr,
            self._by_deadline,
            self._deadline_sorted,
            self.ptr,
            self.gw_start,
            self.gw_tasks,
            self.head,
            self._done_buf,
            self._dropped_buf,
            self.tally,
        )
        # Noise drift in fixed steps (independent of the actions: common random numbers).
        if now >= self._next_drift - 1e-12:
            span = self.drift_config.interval_s
            for d, r in zip(self.drifts, self.drift_rngs, strict=True):
                d.step(span, r)
            self._next_drift += span
            self._refresh_true()
            if [d.observed().version for d in self.drifts] != self.observed_versions:
                self._refresh_observed()
        return self._done_buf[:n_done].copy(), self._dropped_buf[:n_dropped].copy()

    def step(self, actions: IntArray, mask: npt.NDArray[np.int8]) -> StepOutcome:
        """One slot with gateway actions (G,) checked against ``mask`` (G, 1 + M)."""
        g, m = self.n_gateways, self.n_qpus
        if not (isinstance(actions, np.ndarray) and actions.dtype == np.int64):
            actions = np.ascontiguousarray(actions, dtype=np.int64)
        if not (isinstance(mask, np.ndarray) and mask.dtype == np.int8):
            mask = np.ascontiguousarray(mask, dtype=np.int8)
        if actions.shape != (g,) or mask.shape != (g, 1 + m):
            raise ValueError(
                f"actions must have shape ({g},) and mask ({g}, {1 + m}), "
                f"got {actions.shape} and {mask.shape}"
            )
        reward = np.zeros(g)
        t = self.t
        order = self._orders[t if t <= self.horizon else self.horizon + 1]
        n_sent, self.n_inflight = dispatch(
            actions,
            mask,
            order,
            self.head,
            self.task_circuit,
            self.task_shots,
            self.task_arrival,
            self.duration_s,
            self.shot_overhead_s,
            self.now,
            self.free_at,
            self.start,
            self.end,
            self.qpu,
            self.state,
            self.waiting,
            self.inflight,
            self.n_inflight,
            reward,
            self._invalid,
            self._sent_task,
            self._sent_qpu,
            self.reward_config.invalid_penalty,
            self.tally,
        )
        invalid = self._invalid.copy()
        dispatched = self._sent_task[:n_sent].copy()
        dispatched_to = self._sent_qpu[:n_sent].copy()
        completed, dropped = self._advance(reward)
        self.reward_sum += float(reward.sum())
        out = StepOutcome(reward, invalid, dispatched, dispatched_to, completed, dropped)
        self.last_outcome = out
        return out

    # ------------------------------------------------------------------ views
    def head_view(self) -> HeadView:
        """The head tasks of all gateways against every QPU (published calibration)."""
        has = self.head < self.n_tasks
        c = np.where(has, self.task_circuit[self.head], 0)
        ok = self.exec_ok[c] & has[:, None]
        runtime = self.task_shots[self.head][:, None] * (self.duration_s[c] + self.shot_overhead_s)
        return HeadView(
            has_task=has,
            circuit=c,
            executable=ok,
            esp=self.esp_observed[c] * ok,
            runtime_s=runtime * ok,
            wait_s=np.maximum(self.free_at - self.now, 0.0),
            priority=np.where(has, self.task_priority[self.head], 0.0),
            slack_s=np.where(has, self.task_deadline[self.head] - self.now, 0.0),
        )

    def metrics(self) -> dict[str, float]:
        """Episode metrics so far (DESIGN.md §4); NaN where undefined (nothing completed)."""
        c = self.tally
        elapsed = max(self.now, self.dt)
        done, dropped, late = int(c[COMPLETED]), int(c[DROPPED_N]), int(c[LATE])
        sent = int(c[DISPATCHED_N])
        nan = float("nan")
        # Busy time of running tasks up to now counts towards utilisation too.
        fl = self.in_flight
        running = fl[self.start[fl] < self.now]
        busy = float(self.busy_s.sum()) + float(
            (np.minimum(self.end[running], self.now) - self.start[running]).sum()
        )
        return {
            "throughput": done / elapsed,
            "error_rate": 1.0 - float(c[P_SUM]) / done if done else nan,
            "mean_completion_time": float(c[COMPLETION_SUM]) / done if done else nan,
            "utilisation": busy / (self.n_qpus * elapsed),
            "deadline_miss_rate": (late + dropped) / (done + dropped) if done + dropped else 0.0,
            "invalid_actions": float(c[INVALID]),
            "tasks": float(self.n_tasks),
            "completed_tasks": float(done),
            "dropped_tasks": float(dropped),
            "late_tasks": float(late),
            "dispatched_tasks": float(sent),
            "mean_wait": float(c[WAIT_SUM]) / sent if sent else nan,
            "episode_reward": self.reward_sum,
        }
