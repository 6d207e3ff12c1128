"""Rendering of QPUAllocation-v0: a text summary and a bar-chart picture of the queues."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from qenv.envs.qpu.env import QPUAllocationEnv


def _queues(env: QPUAllocationEnv) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Waiting tasks per gateway and backlog (s) per QPU."""
    core = env.core
    waiting = core.waiting.copy()
    backlog = np.maximum(core.free_at - core.now, 0.0)
    return waiting, backlog


def render_ansi(env: QPUAllocationEnv) -> str:
    core = env.core
    waiting, backlog = _queues(env)
    m = core.metrics()
    lines = [
        f"QPUAllocation-v0 [{env.scenario_name}] slot {core.t}/{core.horizon} "
        f"(t = {core.now:.1f} s)",
        "gateways: " + "  ".join(f"g{g}:{w}" for g, w in enumerate(waiting)),
        "QPU                   qubits  backlog(s)  in queue  2q error  readout",
    ]
    in_queue = np.bincount(core.qpu[core.in_flight], minlength=core.n_qpus)
    for j, spec in enumerate(core.fleet):
        s = core.observed[j].summary()
        lines.append(
            f"{spec.name:<22}{spec.num_qubits:>6}  {backlog[j]:>10.2f}  {in_queue[j]:>8}  "
            f"{s['gate_error_2q']:>8.4f}  {s['readout_error']:>7.4f}"
        )
    lines.append(
        f"completed {int(m['completed_tasks'])}, dropped {int(m['dropped_tasks'])}, "
        f"throughput {m['throughput']:.2f}/s, error rate {m['error_rate']:.3f}, "
        f"deadline misses {m['deadline_miss_rate']:.3f}"
    )
    return "\n".join(lines)


def render_rgb(env: QPUAllocationEnv) -> npt.NDArray[np.uint8]:
    # Agg canvas directly, no pyplot: no global figure state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    core = env.core
    waiting, backlog = _queues(env)
    fig: Any = Figure(figsize=(8, 4), dpi=80)
    canvas: Any = FigureCanvasAgg(fig)
    ax_q, ax_g = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    colours = {"superconducting": "tab:blue", "trapped_ion": "tab:orange", "photonic": "tab:green"}
    names = [q.name for q in core.fleet]
    ax_q.barh(names, backlog, color=[colours[q.technology] for q in core.fleet])
    ax_q.set_xlabel("backlog (s)")
    ax_q.set_title(f"QPUs, t = {core.now:.1f} s")
    ax_q.invert_yaxis()
    ax_g.bar([f"g{g}" for g in range(core.n_gateways)], waiting, color="tab:gray")
    ax_g.set_title("waiting tasks")
    fig.tight_layout()
    canvas.draw()
    buf = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(buf[:, :, :3])


def close(env: QPUAllocationEnv) -> None:
    """Nothing is held between frames."""
