"""Compiled observation kernel of QPUAllocation-v0 (numba; cached on disk after first use).

With 4 gateways and 6 QPUs every array is tiny, so numpy's per-call overhead, not
arithmetic, would set the step rate: one pass here writes every field of the
observation (in :class:`~qenv.envs.qpu.observation.QPUObservationLayout`'s order), one
checks and dispatches the actions, one advances the queues.
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
    last_recalibration_s: F,
    recalibration_period_s: float,
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
            age = (now - last_recalibration_s[j]) / recalibration_period_s
            row[b + 7] = min(max(age, 0.0), 1.0)
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


# Indices of DispatchCore.tally.
COMPLETED, DROPPED_N, LATE, P_SUM, COMPLETION_SUM, WAIT_SUM, DISPATCHED_N, INVALID = range(8)
_WAITING, _DISPATCHED, _STARTED, _DONE, _DROPPED = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True)
def dispatch(
    actions: Ints,
    mask: npt.NDArray[np.int8],
    order: Ints,
    head: Ints,
    task_circuit: Ints,
    task_shots: Ints,
    task_arrival: F,
    duration_s: F,
    shot_overhead_s: F,
    now: float,
    free_at: F,
    start: F,
    end: F,
    qpu: Ints,
    state: npt.NDArray[np.int8],
    waiting: Ints,
    inflight: Ints,
    n_inflight: int,
    reward: F,
    invalid: npt.NDArray[np.bool_],
    sent_task: Ints,
    sent_qpu: Ints,
    invalid_penalty: float,
    tally: F,
) -> tuple[int, int]:
    """Check actions against the masks and append each dispatched head task to its QPU's
    queue, gateways taken in ``order`` (a random permutation: who reaches a shared QPU
    first). Returns (tasks dispatched, tasks in flight)."""
    g_count = actions.size
    width = mask.shape[1]
    for g in range(g_count):
        a = actions[g]
        bad = a < 0 or a >= width or mask[g, a] != 1
        invalid[g] = bad
        reward[g] = -invalid_penalty if bad else 0.0
        if bad:
            tally[INVALID] += 1
    n_sent = 0
    for i in range(g_count):
        g = order[i]
        a = actions[g]
        if invalid[g] or a == 0:
            continue
        task = head[g]
        j = a - 1
        c = task_circuit[task]
        begin = max(now, free_at[j])
        finish = begin + task_shots[task] * (duration_s[c, j] + shot_overhead_s[j])
        start[task] = begin
        end[task] = finish
        free_at[j] = finish
        qpu[task] = j
        state[task] = _DISPATCHED
        waiting[g] -= 1
        inflight[n_inflight] = task
        n_inflight += 1
        sent_task[n_sent] = task
        sent_qpu[n_sent] = j
        n_sent += 1
        tally[DISPATCHED_N] += 1
        tally[WAIT_SUM] += begin - task_arrival[task]
    return n_sent, n_inflight


@njit(cache=True, nogil=True)
def advance(
    now: float,
    inflight: Ints,
    n_inflight: int,
    state: npt.NDArray[np.int8],
    start: F,
    end: F,
    qpu: Ints,
    p_success: F,
    esp_true: F,
    task_circuit: Ints,
    task_priority: F,
    task_deadline: F,
    task_gateway: Ints,
    task_arrival: F,
    busy_s: F,
    reward: F,
    late_penalty: float,
    drop_penalty: float,
    admitted: int,
    arrival_sorted: F,
    arrival_gateway: Ints,
    waiting: Ints,
    deadline_ptr: int,
    by_deadline: Ints,
    deadline_sorted: F,
    ptr: Ints,
    gw_start: Ints,
    gw_tasks: Ints,
    head: Ints,
    done_out: Ints,
    dropped_out: Ints,
    tally: F,
) -> tuple[int, int, int, int, int]:
    """Advance to time ``now``: starts (success probability from the true noise),
    completions (rewarded), arrivals, drops of waiting tasks past their deadline, and
    each gateway's head task. Returns (in flight, completed, dropped, admitted,
    deadline pointer)."""
    n_done = 0
    keep = 0
    for i in range(n_inflight):
        task = inflight[i]
        if state[task] == _DISPATCHED and start[task] < now:
            p_success[task] = esp_true[task_circuit[task], qpu[task]]
            state[task] = _STARTED
        if end[task] <= now:
            state[task] = _DONE
            late = end[task] > task_deadline[task]
            w = task_priority[task]
            reward[task_gateway[task]] += w * (p_success[task] - (late_penalty if late else 0.0))
            busy_s[qpu[task]] += end[task] - start[task]
            tally[COMPLETED] += 1
            tally[LATE] += 1 if late else 0
            tally[P_SUM] += p_success[task]
            tally[COMPLETION_SUM] += end[task] - task_arrival[task]
            done_out[n_done] = task
            n_done += 1
        else:
            inflight[keep] = task
            keep += 1
    n = arrival_sorted.size
    while admitted < n and arrival_sorted[admitted] < now:
        waiting[arrival_gateway[admitted]] += 1
        admitted += 1
    n_dropped = 0
    while deadline_ptr < n and deadline_sorted[deadline_ptr] < now:
        task = by_deadline[deadline_ptr]
        deadline_ptr += 1
        if state[task] == _WAITING:
            state[task] = _DROPPED
            g = task_gateway[task]
            waiting[g] -= 1
            reward[g] -= drop_penalty * task_priority[task]
            tally[DROPPED_N] += 1
            dropped_out[n_dropped] = task
            n_dropped += 1
    none = state.size - 1
    for g in range(ptr.size):
        p = ptr[g]
        stop = gw_start[g + 1]
        while p < stop and state[gw_tasks[p]] != _WAITING:
            p += 1
        ptr[g] = p
        task = gw_tasks[p]
        head[g] = task if p < stop and task < admitted else none
    return keep, n_done, n_dropped, admitted, deadline_ptr
