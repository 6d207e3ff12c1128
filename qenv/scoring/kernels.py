"""Compiled per-step kernel of the AHMO block of ``QPUAllocation-v0`` (numba, cached on disk).

:func:`qpu_block` gathers the precomputed (circuit, QPU) sub-scores of every gateway's
head task, adds the task-level and dispatch-context terms (ImpactFore from its priority,
Meta from the QPU's queue and the task's deadline, QNC from the published-calibration ESP
table) and fuses them into V and the normalised HyperScore, in one pass over the
(gateways × QPUs) pairs, so the scorer costs a few microseconds per step.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

F = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

#: Columns of the static table: LogicScore, Sandbox, Novelty, ΔRepro.
STATIC_LOGIC, STATIC_SANDBOX, STATIC_NOVELTY, STATIC_REPRO = 0, 1, 2, 3


#: Layout of the ``fparams`` vector of :func:`qpu_block`: w1…w6, then these.
F_BETA, F_GAMMA, F_KAPPA, F_TAU, F_IMPACT_SCALE, F_DT = 6, 7, 8, 9, 10, 11


@njit(cache=True, nogil=True)
def qpu_block(
    out: F,
    head: Ints,
    n_tasks: int,
    task_circuit: Ints,
    task_priority: F,
    task_deadline: F,
    task_shots: Ints,
    static: F,
    size: F,
    per_shot_s: F,
    free_at: F,
    esp_observed: F,
    now: float,
    fparams: F,
) -> None:
    """Fill ``out`` (G, M, 9): logic, sandbox, novelty, impact, repro, qnc, normalised
    HyperScore, then Meta and V. Rows without a head task are 0.

    ``per_shot_s`` (C, M): scheduled circuit duration + per-shot overhead; ``fparams``:
    w1…w6, β, γ, κ, τ_default, ln(1 + priority_max·size_max), dt. Meta = exp(−(wait +
    runtime)/τ), τ = max(deadline − now, dt) (τ_default without a deadline); V = 0 where
    LogicScore·Sandbox = 0; slot = (σ(β ln V + γ)/σ(γ))^κ. Few arguments on purpose:
    numba's dispatch cost grows with them, and this runs every step.
    """
    g_count, m_count, width = out.shape
    beta, gamma, kappa = fparams[F_BETA], fparams[F_GAMMA], fparams[F_KAPPA]
    sig_gamma = 1.0 / (1.0 + math.exp(-gamma))
    for g in range(g_count):
        task = head[g]
        if task >= n_tasks:
            for j in range(m_count):
                for s in range(width):
                    out[g, j, s] = 0.0
            continue
        c = task_circuit[task]
        imp = math.log1p(task_priority[task] * size[c]) / fparams[F_IMPACT_SCALE]
        imp = min(max(imp, 0.0), 1.0)
        slack = task_deadline[task] - now
        tau = fparams[F_TAU] if not math.isfinite(slack) else max(slack, fparams[F_DT])
        shots = task_shots[task]
        for j in range(m_count):
            logic = static[c, j, STATIC_LOGIC]
            sandbox = static[c, j, STATIC_SANDBOX]
            novelty = static[c, j, STATIC_NOVELTY]
            repro = static[c, j, STATIC_REPRO]
            qnc = esp_observed[c, j]
            out[g, j, 0] = logic
            out[g, j, 1] = sandbox
            out[g, j, 2] = novelty
            out[g, j, 3] = imp
            out[g, j, 4] = repro
            out[g, j, 5] = qnc
            proven = logic * sandbox
            hs = 0.0
            meta = 0.0
            v = 0.0
            if proven > 0.0:
                wait = max(free_at[j] - now, 0.0)
                meta = math.exp(-(wait + shots * per_shot_s[c, j]) / tau)
                v = (
                    fparams[0] * proven
                    + fparams[1] * novelty
                    + fparams[2] * math.log1p(imp)
                    + fparams[3] * repro
                    + fparams[4] * meta
                    + fparams[5] * qnc
                )
                if v > 0.0:
                    sig = 1.0 / (1.0 + math.exp(-(beta * math.log(v) + gamma)))
                    hs = min((sig / sig_gamma) ** kappa, 1.0)
            out[g, j, 6] = hs
            out[g, j, 7] = meta
            out[g, j, 8] = v
