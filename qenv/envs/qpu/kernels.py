"""Compiled observation kernel of QPUAllocation-v0 (numba; cached on disk after first use).

With 4 gateways and 6 QPUs every array is tiny, so numpy's per-call overhead, not
arithmetic, would set the step rate; one pass here writes every field. The field order
is :class:`~qenv.envs.qpu.observation.QPUObservationLayout`'s, and
``tests/test_env_qpu_observation.py`` checks each field against its definition.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

F = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@njit(cache=True, nogil=True)
def fill_observation(
    obs: npt.NDArray[np.float32],
    mask: npt.NDArray[np.int8],
    head: Ints,
    n_tasks: int,
    task_circuit: Ints,
    task_shots: Ints,
    task_priority: F,
    task_arrival: F,
    task_deadline: F,
    circuit_features: F,
    family_index: Ints,
    exec_ok: npt.NDArray[np.bool_],
    duration_s: F,
    shot_overhead_s: F,
    esp_observed: F,
    cal_summary: F,
    cal_age: F,
    free_at: F,
    now: float,
    waiting: Ints,
    time_fraction: float,
    scores: F,
    use_scores: bool,
    family_start: int,
    qpus_start: int,
    block: int,
    n_state: int,
    qubits_scale: float,
    gates_scale: float,
    shots_scale: float,
    time_scale: float,
    queue_scale: float,
) -> None:
    """Write the observation rows ``obs`` (G, D) and masks ``mask`` (G, 1 + M).

    Without ``use_scores`` the AHMO slots hold the defaults of ``fidelity_score``
    (logic = executable, QNC = ESP); with it they hold ``scores`` (G, M, 7), already
    cleaned to [0, 1].
    """
    g_count, m_count = mask.shape[0], mask.shape[1] - 1
    for g in range(g_count):
        row = obs[g]
        row[:] = 0.0
        task = head[g]
        has = task < n_tasks
        c = task_circuit[task] if has else 0
        if has:
            row[0] = 1.0
            row[1] = min(circuit_features[c, 0] / qubits_scale, 1.0)
            row[2] = min(circuit_features[c, 1] / gates_scale, 1.0)
            row[3] = min(circuit_features[c, 2] / gates_scale, 1.0)
            row[4] = min(task_shots[task] / shots_scale, 1.0)
            row[5] = min(task_priority[task] / 3.0, 1.0)
            row[6] = min((now - task_arrival[task]) / time_scale, 1.0)
            row[7] = min(max(task_deadline[task] - now, 0.0) / time_scale, 1.0)
            row[family_start + family_index[c]] = 1.0
        row[8] = min(waiting[g] / queue_scale, 1.0)
        mask[g, 0] = 1
        for j in range(m_count):
            b = qpus_start + j * block
            ok = has and exec_ok[c, j]
            mask[g, 1 + j] = 1 if ok else 0
            wait = max(free_at[j] - now, 0.0)
            row[b + 1] = min(wait / time_scale, 1.0)
            row[b + 4] = cal_summary[j, 0]
            row[b + 5] = cal_summary[j, 1]
            row[b + 6] = cal_summary[j, 2]
            row[b + 7] = cal_age[j]
            if ok:
                row[b] = 1.0
                run = task_shots[task] * (duration_s[c, j] + shot_overhead_s[j])
                row[b + 2] = min(run / time_scale, 1.0)
                row[b + 3] = esp_observed[c, j]
            if has:
                if use_scores:
                    for s in range(scores.shape[2]):
                        row[b + n_state + s] = scores[g, j, s]
                elif ok:
                    row[b + n_state] = 1.0  # logic
                    row[b + n_state + 5] = esp_observed[c, j]  # qnc
        row[row.size - 1] = time_fraction
