"""A clairvoyant upper bound on the delivery of ``EntanglementAllocation-v0`` (DESIGN.md §3).

How much could *any* allocation policy deliver in an episode? :func:`delivery_upper_bound`
answers with a linear program that knows the whole episode in advance (every request and
every heralding draw of every link) and relaxes some of the environment's rules, so no
policy, however informed, delivers more in expectation. It measures the allocation headroom of a
scenario: a policy can beat greedy by at most (bound − greedy).

**The set of requests.** The bound and :func:`due_delivery_rate` count the requests whose
deadline falls within the episode (deadline ≤ horizon): every policy ends each of them
(delivered or expired), so the set, unlike the one of the env's ``delivery_rate``, does not
depend on the policy. The env reports the same quantity as the metric
``due_delivery_rate``.

**Heralds.** Each slot the engine draws one uniform per link, and a link heralds if its
draw is below ``p_gen`` and it has memory free. The bound takes the *potential* heralds
of an episode, ``H[s, l] = u[s, l] < p_gen[l]``, logged while a reference policy plays it
(:func:`play_recorded`), and may store or drop each. On that run the bound holds exactly:
no policy facing those draws delivers more. Other policies on the same seed draw the
same uniforms only until the first slot in which two heralds compete for one node's
memory (the engine then draws their order from the same stream, and later draws shift);
but every policy's potential heralds have the same distribution (independent uniforms
each slot), so the mean of the bound over episodes bounds every policy's expected due
delivery rate.

**The program** (variables ≥ 0; slots s = 1..T):

* x[r, p, s]: pairs delivered to request r over candidate path p in slot s, for
  arrival_r ≤ s ≤ min(deadline_r, T) and paths whose fresh-pair fidelity reaches F_min_r;
* per link l: the heralds stored, acc[l, s] ≤ H[s, l], and the pairs held after the
  slot's claims, inv[l, s] = inv[l, s − 1] + acc[l, s] − Σ x over paths through l −
  drop[l, s]; when the heralds arrive, inv[l, s − 1] + acc[l, s] fits the link's capacity
  and, summed over a node's links, its memory; a pair lives at most ``cutoff`` slots
  (inv ≤ pairs stored in the last cutoff + 1 slots) and only such aged pairs are dropped
  (drops so far ≤ pairs stored up to slot s − cutoff − 1);
* per node n: credit c[n, s] = pre[n, s] − swaps at n in slot s, pre[n, s] ≤ c[n, s − 1] +
  swap_rate_n, pre ≤ swap_burst (the engine's refill);
* per request: Σ x ≤ n_pairs; per node and slot: at most one claim (Σ x of its requests ≤ 1);
* the queue rule (``fifo_order=True``): a node claims only for its oldest unfinished
  request, so r's claims in slot s need every earlier request q of its node with
  deadline_q ≥ s served in full before s (Σ_p x[r, p, s] ≤ served_q(< s) / n_q);
* maximise Σ x over the due requests.

Relaxed (each makes the bound larger, never smaller): a herald may be left unstored
(the engine stores every herald that finds memory free); every swap succeeds
(``swap_prob`` < 1 only loosens it); fidelity is that of fresh pairs (ageing ignored); x
may be fractional (``integral=True`` solves the integer program instead, tighter and
slower); information is complete and instant, the future included. Kept exactly:
arrivals, deadlines, queue order, heralding draws, memory, link capacity, cutoff,
swap-credit refill, one pair per claim and one claim per node and slot.

Solved with HiGHS (:func:`scipy.optimize.linprog` / :func:`scipy.optimize.milp`); a few
seconds per 1,000-slot episode of the 8-node ``mesh8``. The program grows with requests ×
paths × deadline window and with links × slots; :data:`MAX_CLAIM_VARIABLES` refuses the
largest. It has not been run on the 100-node ``dpem``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from qenv.physics.states import fidelity_from_werner

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Most claim variables (request × path × slot) the bound builds before refusing.
MAX_CLAIM_VARIABLES = 2_000_000


@dataclass(frozen=True)
class DeliveryBound:
    """Result of :func:`delivery_upper_bound` for one episode."""

    bound: float  # upper bound on the due delivery rate (pairs), NaN if nothing is due
    pairs: float  # the program's optimum: pairs delivered to due requests
    pairs_due: int  # pairs requested by the due requests
    requests_due: int
    integral: bool  # True: the integer program was solved to optimality
    status: str  # the solver's message

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _core(env: Any, need_episode: bool = True) -> Any:
    core = env if hasattr(env, "record_heralds") else getattr(env, "unwrapped", env)
    core = core if hasattr(core, "record_heralds") else getattr(core, "core", None)
    if core is None:
        raise ValueError("env: an EntanglementAllocation-v0 env (or its core) is needed")
    if need_episode and not hasattr(core, "batch"):
        raise ValueError("env: no episode yet; reset(seed=...) it first")
    return core


def due_requests(core: Any) -> BoolArray:
    """Requests whose deadline falls within the episode (every policy ends them)."""
    mask: BoolArray = np.asarray(core.batch.deadline <= core.horizon, dtype=bool)
    return mask


def due_delivery_rate(env: Any) -> float:
    """Pairs delivered to the due requests / pairs they requested, after an episode: the
    env's metric ``due_delivery_rate`` (at the end, over :func:`due_requests`)."""
    return float(_core(env).metrics()["due_delivery_rate"])


def recorded_heralds(env: Any) -> BoolArray:
    """(T + 1, L) potential heralds of the episode just played (row s: slot s; row 0
    unused). The env must have been reset with ``core.record_heralds = True`` (see
    :func:`play_recorded`)."""
    core = _core(env)
    log = core.engine.links.herald_log
    if log is None:
        raise ValueError(
            "env: no herald log; set env.unwrapped.core.record_heralds = True before reset"
        )
    out = np.zeros((core.horizon + 1, core.engine.ends.shape[0]), dtype=bool)
    rows = np.asarray(log[: core.horizon], dtype=bool)
    out[1 : 1 + rows.shape[0]] = rows
    return out


def play_recorded(env: Any, policy: Any, seed: int) -> BoolArray:
    """Play one episode of ``env`` with ``policy`` (the shared policy interface) from
    ``reset(seed=seed)``, logging the potential heralds; returns them
    (:func:`recorded_heralds`). The env is left at the episode's end."""
    from qenv.evaluate import _play  # the evaluator's episode loop

    core = _core(env, need_episode=False)
    core.record_heralds = True  # read by reset only
    try:
        _play(env, policy, seed, lambda n: None)
    finally:
        core.record_heralds = False
    return recorded_heralds(env)


def _claim_variables(core: Any, horizon: int) -> tuple[IntArray, IntArray, IntArray]:
    """(request, path, slot) of every claim variable."""
    b = core.batch
    n_req = len(b)
    links = core.req_links[:n_req]  # (R, k, H)
    hops = (links >= 0).sum(axis=2)
    w0 = core.engine.links.w0
    w = np.where(links >= 0, w0[np.maximum(links, 0)], 1.0).prod(axis=2)
    fresh_f = fidelity_from_werner(w)  # perfect swaps multiply w
    usable = (hops > 0) & (fresh_f >= b.f_min[:, None] - 1e-12)
    usable &= (b.arrival <= horizon)[:, None]
    req, path = np.nonzero(usable)
    lo = np.maximum(b.arrival[req], 1)
    hi = np.minimum(b.deadline[req], horizon)
    count = np.maximum(hi - lo + 1, 0)
    total = int(count.sum())
    if total > MAX_CLAIM_VARIABLES:
        raise ValueError(
            f"the bound would need {total:,} claim variables (> {MAX_CLAIM_VARIABLES:,}): "
            "use a smaller scenario, horizon or deadline"
        )
    start = np.cumsum(count) - count
    slot = np.repeat(lo, count) + (np.arange(total) - np.repeat(start, count))
    return np.repeat(req, count), np.repeat(path, count), slot.astype(np.int64)


@dataclass(frozen=True)
class _Fifo:
    """Sparse pieces of the queue-order constraints (see :func:`_fifo_structure`)."""

    n_vars: int  # SV variables
    sv_row: IntArray  # every SV variable (its own balance row)
    sv_prev_row: IntArray  # SV variables with a predecessor in their window ...
    sv_prev_col: IntArray  # ... and that predecessor
    sv_x_row: IntArray  # balance row of the SV variable each x of a blocking request feeds
    sv_x_col: IntArray  # that x
    n_rows: int  # queue-order rows
    row_x: IntArray
    col_x: IntArray
    row_sv: IntArray
    col_sv: IntArray
    coef_sv: FloatArray


def _fifo_structure(core: Any, req: IntArray, slot: IntArray, horizon: int) -> _Fifo | None:
    """Queue-order constraints: for requests q before r in a node's queue (arrival order, as
    :class:`~qenv.envs.entanglement.dynamics.AllocationCore` keeps it) whose deadline
    reaches r's arrival, r's claims in slot s <= deadline_q need q served before s."""
    b = core.batch
    starts = core.node_start
    order = core.node_req[:-1]
    pairs: list[tuple[int, int]] = []
    for n in range(core.n_nodes):
        seq = order[starts[n] : starts[n + 1]].tolist()
        for j, r in enumerate(seq):
            for q in seq[:j]:
                if b.deadline[q] >= b.arrival[r] and b.arrival[r] <= horizon:
                    pairs.append((q, r))
    if not pairs:
        return None
    blockers = sorted({q for q, _ in pairs})
    # SV[q, w] for w in q's window [arrival_q, min(deadline_q, T)].
    first: dict[int, int] = {}
    lo: dict[int, int] = {}
    sizes = []
    offset = 0
    for q in blockers:
        a, d = int(b.arrival[q]), int(min(b.deadline[q], horizon))
        n_w = max(d - a + 1, 0)
        first[q], lo[q] = offset, a
        sizes.append((offset, a, n_w))
        offset += n_w
    sv_row = np.arange(offset, dtype=np.int64)
    prev_rows = [np.arange(o + 1, o + n_w, dtype=np.int64) for o, _, n_w in sizes if n_w > 1]
    sv_prev_row = np.concatenate(prev_rows) if prev_rows else np.zeros(0, np.int64)
    sv_prev_col = sv_prev_row - 1
    by_req: dict[int, IntArray] = {}  # claim variables of a request (req is sorted)
    for r in set(blockers) | {r for _, r in pairs}:
        start, stop = np.searchsorted(req, [r, r + 1])
        by_req[r] = np.arange(start, stop, dtype=np.int64)
    xr, xc = [], []
    for q in blockers:
        cols = by_req[q]
        xr.append(first[q] + slot[cols] - lo[q])
        xc.append(cols)
    row_x, col_x, row_sv, col_sv, coef = [], [], [], [], []
    n_rows = 0
    for q, r in pairs:
        cols = by_req[r]
        s_r = slot[cols]
        keep = s_r <= b.deadline[q]
        cols, s_r = cols[keep], s_r[keep]
        if not cols.size:
            continue
        uniq, inverse = np.unique(s_r, return_inverse=True)  # one row per slot of r
        row_x.append(n_rows + inverse)
        col_x.append(cols)
        prior = uniq - 1
        has = prior >= lo[q]  # SV[q, s - 1] exists; else nothing served yet (0)
        row_sv.append(n_rows + np.flatnonzero(has))
        col_sv.append(first[q] + prior[has] - lo[q])
        coef.append(np.full(int(has.sum()), 1.0 / float(b.n_pairs[q])))
        n_rows += uniq.size

    def cat(parts: list[Any], dtype: Any = np.int64) -> Any:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return _Fifo(
        n_vars=offset,
        sv_row=sv_row,
        sv_prev_row=sv_prev_row,
        sv_prev_col=sv_prev_col,
        sv_x_row=cat(xr),
        sv_x_col=cat(xc),
        n_rows=n_rows,
        row_x=cat(row_x),
        col_x=cat(col_x),
        row_sv=cat(row_sv),
        col_sv=cat(col_sv),
        coef_sv=cat(coef, np.float64),
    )


def delivery_upper_bound(
    env: Any,
    heralds: BoolArray,
    *,
    fifo_order: bool = True,
    integral: bool = False,
    time_limit: float | None = None,
) -> DeliveryBound:
    """Clairvoyant upper bound on the due delivery rate of the env's current episode.

    Args:
        env: an ``EntanglementAllocation-v0`` env (or its ``core``) after
            ``reset(seed=...)``; only the episode's requests and physics are read.
        heralds: (T + 1, L) potential heralds of the episode (:func:`play_recorded`).
        fifo_order: keep the env's queue rule (a node claims only for its oldest
            unfinished request); False lets any queued request be claimed (looser).
        integral: solve the integer program (claims in whole pairs) instead of its LP
            relaxation: tighter, slower.
        time_limit: seconds for the integer program; if it stops early, the LP bound is
            returned (``integral=False``).

    Returns:
        A :class:`DeliveryBound`; ``bound`` ≥ the due delivery rate of any policy on the
        same requests and heralds (module docstring: what is relaxed).
    """
    core = _core(env)
    T = int(core.horizon)
    eng = core.engine
    n_links, n_nodes = eng.ends.shape[0], core.n_nodes
    H = np.asarray(heralds, dtype=bool)
    if H.shape != (T + 1, n_links):
        raise ValueError(f"heralds must have shape {(T + 1, n_links)}, got {H.shape}")
    b = core.batch
    due = due_requests(core)
    pairs_due = int(b.n_pairs[due].sum())
    requests_due = int(due.sum())
    req, path, slot = _claim_variables(core, T)
    nx_ = req.size
    # Variable blocks: x | inv | drop | acc (L, T each) | pre | credit (N, T each) |
    # cumulative acc | cumulative drop (L, T each).
    o_inv = nx_
    o_drop = o_inv + n_links * T
    o_acc = o_drop + n_links * T
    o_pre = o_acc + n_links * T
    o_cr = o_pre + n_nodes * T
    o_ca = o_cr + n_nodes * T
    o_cd = o_ca + n_links * T
    o_sv = o_cd + n_links * T
    fifo = _fifo_structure(core, req, slot, T) if fifo_order else None
    nv = o_sv + (0 if fifo is None else fifo.n_vars)

    def lt(offset: int, ids: IntArray, s: IntArray) -> IntArray:  # (entity, slot) -> column
        out: IntArray = offset + ids * T + (s - 1)
        return out

    eq_r: list[IntArray] = []
    eq_c: list[IntArray] = []
    eq_v: list[FloatArray] = []
    # Link balance, row l*T + s - 1: inv[s] - inv[s-1] - acc[s] + uses + drop = 0, where
    # acc[s] <= H[s] are the heralds stored (inv: pairs held after the slot's claims).
    ls = np.arange(n_links * T)
    l_id, s_id = ls // T, ls % T + 1
    later_l = s_id > 1
    eq_r += [ls, ls, ls, ls[later_l]]
    eq_c += [
        lt(o_inv, l_id, s_id),
        lt(o_drop, l_id, s_id),
        lt(o_acc, l_id, s_id),
        lt(o_inv, l_id, s_id)[later_l] - 1,
    ]
    eq_v += [np.ones(ls.size), np.ones(ls.size), -np.ones(ls.size), -np.ones(int(later_l.sum()))]
    hop_links = core.req_links[req, path]  # (X, Hmax)
    xi, hi = np.nonzero(hop_links >= 0)
    eq_r.append(hop_links[xi, hi] * T + slot[xi] - 1)
    eq_c.append(xi)
    eq_v.append(np.ones(xi.size))
    # Credit balance, row L*T + n*T + s - 1: credit - pre + swaps = 0.
    base = n_links * T
    ns = np.arange(n_nodes * T)
    n_id, s2 = ns // T, ns % T + 1
    eq_r += [base + ns, base + ns]
    eq_c += [lt(o_cr, n_id, s2), lt(o_pre, n_id, s2)]
    eq_v += [np.ones(ns.size), -np.ones(ns.size)]
    inner = core.req_inner[req, path]
    xj, hj = np.nonzero(inner >= 0)
    eq_r.append(base + inner[xj, hj] * T + slot[xj] - 1)
    eq_c.append(xj)
    eq_v.append(np.ones(xj.size))
    # Running totals, rows after the credits: CA[s] - CA[s-1] - acc[s] = 0, same for drop.
    for k, (o_sum, o_part) in enumerate(((o_ca, o_acc), (o_cd, o_drop))):
        rows_k = base + n_nodes * T + k * n_links * T + ls
        eq_r += [rows_k, rows_k, rows_k[later_l]]
        eq_c += [lt(o_sum, l_id, s_id), lt(o_part, l_id, s_id), lt(o_sum, l_id, s_id)[later_l] - 1]
        eq_v += [np.ones(ls.size), -np.ones(ls.size), -np.ones(int(later_l.sum()))]
    n_eq = base + n_nodes * T + 2 * n_links * T
    if fifo is not None:
        # Pairs served so far to each request that can block a later one of its node:
        # SV[q, w] - SV[q, w-1] - (x of q in slot w) = 0 over q's window.
        eq_r += [n_eq + fifo.sv_row, n_eq + fifo.sv_prev_row, n_eq + fifo.sv_x_row]
        eq_c += [o_sv + fifo.sv_row, o_sv + fifo.sv_prev_col, fifo.sv_x_col]
        eq_v += [
            np.ones(fifo.sv_row.size),
            -np.ones(fifo.sv_prev_row.size),
            -np.ones(fifo.sv_x_row.size),
        ]
        n_eq += fifo.n_vars
    a_eq = sp.csr_matrix(
        (np.concatenate(eq_v), (np.concatenate(eq_r), np.concatenate(eq_c))), shape=(n_eq, nv)
    )
    b_eq = np.zeros(n_eq)

    ub_r: list[IntArray] = []
    ub_c: list[IntArray] = []
    ub_v: list[FloatArray] = []
    ub_b: list[FloatArray] = []
    row = 0
    # Refill: pre[n, s] - credit[n, s-1] <= swap_rate_n (s >= 2); slot 1 is a variable bound.
    rate = np.asarray(eng.swap_rate, dtype=np.float64)
    later = s2 > 1
    m = int(later.sum())
    rows = np.arange(m)
    ub_r += [rows, rows]
    ub_c += [lt(o_pre, n_id[later], s2[later]), lt(o_cr, n_id[later], s2[later]) - 1]
    ub_v += [np.ones(m), -np.ones(m)]
    ub_b.append(rate[n_id[later]])
    row += m
    # Memory when the slot's heralds arrive (before its claims): pairs held from the last
    # slot plus those stored now, per node <= its memory and per link <= its capacity.
    ends = eng.ends
    prev = lt(o_inv, l_id, s_id)[later_l] - 1
    cap = np.asarray(eng.links.capacity, dtype=np.float64)
    for r0, owner in (
        (row, ends[:, 0]),
        (row + n_nodes * T, ends[:, 1]),
        (row + 2 * n_nodes * T, np.arange(n_links)),
    ):
        rows_here = r0 + owner[l_id] * T + s_id - 1
        ub_r += [rows_here, rows_here[later_l]]
        ub_c += [lt(o_acc, l_id, s_id), prev]
        ub_v += [np.ones(l_id.size), np.ones(prev.size)]
    ub_b += [
        np.repeat(core.memory.astype(np.float64), T),
        np.repeat(core.memory.astype(np.float64), T),
        np.repeat(cap, T),
    ]
    row += 2 * n_nodes * T + n_links * T
    # Per request: at most n_pairs pairs.
    ub_r.append(row + req)
    ub_c.append(np.arange(nx_))
    ub_v.append(np.ones(nx_))
    ub_b.append(b.n_pairs.astype(np.float64))
    row += len(b)
    # Per node and slot: at most one claim.
    ub_r.append(row + b.source[req] * T + slot - 1)
    ub_c.append(np.arange(nx_))
    ub_v.append(np.ones(nx_))
    ub_b.append(np.ones(n_nodes * T))
    row += n_nodes * T
    cutoff = eng.config.cutoff_slots
    if cutoff is not None:
        # Pairs live at most `cutoff` slots and only aged pairs are discarded (a policy
        # cannot discard): held <= stored in the last cutoff + 1 slots, and dropped so far
        # <= stored up to slot s - cutoff - 1.
        old = s_id - cutoff - 1
        has_old = old >= 1
        m = int(has_old.sum())
        rows = row + np.arange(m)
        ub_r += [rows, rows, rows]
        ub_c += [
            lt(o_inv, l_id[has_old], s_id[has_old]),
            lt(o_ca, l_id[has_old], s_id[has_old]),
            lt(o_ca, l_id[has_old], old[has_old]),
        ]
        ub_v += [np.ones(m), -np.ones(m), np.ones(m)]
        ub_b.append(np.zeros(m))
        row += m
        rows = row + np.arange(m)
        ub_r += [rows, rows]
        ub_c += [lt(o_cd, l_id[has_old], s_id[has_old]), lt(o_ca, l_id[has_old], old[has_old])]
        ub_v += [np.ones(m), -np.ones(m)]
        ub_b.append(np.zeros(m))
        row += m
    if fifo is not None:
        # A request is claimable only as its node's head: in slot s, no earlier request q
        # of the node may still be pending (deadline_q >= s and fewer than n_q pairs served
        # before s): sum_p x[r, p, s] - SV[q, s - 1] / n_q <= 0.
        ub_r += [row + fifo.row_x, row + fifo.row_sv]
        ub_c += [fifo.col_x, o_sv + fifo.col_sv]
        ub_v += [np.ones(fifo.row_x.size), -fifo.coef_sv]
        ub_b.append(np.zeros(fifo.n_rows))
        row += fifo.n_rows
    a_ub = sp.csr_matrix(
        (np.concatenate(ub_v), (np.concatenate(ub_r), np.concatenate(ub_c))), shape=(row, nv)
    )
    b_ub = np.concatenate(ub_b)

    lower = np.zeros(nv)
    upper = np.full(nv, np.inf)
    cum = np.vstack([np.zeros((1, n_links)), np.cumsum(H[1:], axis=0)])  # cum[s]: slots 1..s
    s_all = np.arange(1, T + 1)
    window = cum[1:] if cutoff is None else cum[1:] - cum[np.maximum(s_all - cutoff - 1, 0)]
    upper[o_inv:o_drop] = np.minimum(window, cap[None, :]).T.reshape(-1)
    upper[o_acc:o_pre] = H[1:].T.reshape(-1)
    if cutoff is not None:  # nothing is old enough to discard before slot cutoff + 2
        young = s_id <= cutoff + 1
        upper[lt(o_drop, l_id[young], s_id[young])] = 0.0
    burst = float(eng.config.swap_burst)
    upper[o_pre:o_cr] = burst
    # Credit before slot 1's refill: the engine starts at min(burst, swap_capacity).
    capacity = np.array([core.graph.nodes[i]["swap_capacity"] for i in range(n_nodes)])
    start = np.minimum(burst, capacity)
    first = lt(o_pre, np.arange(n_nodes), np.ones(n_nodes, dtype=np.int64))
    upper[first] = np.minimum(burst, start + rate)
    c = np.zeros(nv)
    c[:nx_] = -due[req].astype(np.float64)

    solved_integral = False
    status = ""
    value = None
    if integral and nx_:
        integrality = np.zeros(nv)
        integrality[:nx_] = 1
        opts = {} if time_limit is None else {"time_limit": float(time_limit)}
        res = milp(
            c,
            constraints=[LinearConstraint(a_ub, -np.inf, b_ub), LinearConstraint(a_eq, b_eq, b_eq)],
            bounds=Bounds(lower, upper),
            integrality=integrality,
            options=opts,
        )
        status = str(res.message)
        if res.status == 0:
            value, solved_integral = -float(res.fun), True
    if value is None:
        res = linprog(
            c,
            A_ub=a_ub,
            b_ub=b_ub,
            A_eq=a_eq,
            b_eq=b_eq,
            bounds=np.column_stack([lower, upper]),
            method="highs",
        )
        if res.status != 0:
            raise RuntimeError(f"the bound's linear program failed: {res.message}")
        value = -float(res.fun) if nx_ else 0.0
        status = str(res.message)
    return DeliveryBound(
        bound=value / pairs_due if pairs_due else float("nan"),
        pairs=value,
        pairs_due=pairs_due,
        requests_due=requests_due,
        integral=solved_integral,
        status=status,
    )


ENV_ID = "EntanglementAllocation-v0"


def bound_episodes(
    env_kwargs: dict[str, Any],
    episodes: int,
    seed: int,
    reference: str = "greedy",
    *,
    integral: bool = False,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """The bound on ``episodes`` seeded episodes (seed, seed + 1, …), each on the potential
    heralds the ``reference`` policy drew, with that policy's due delivery rate (paired).

    Returns ``{"env", "env_kwargs", "seed", "reference", "episodes": [{"seed", "bound",
    "reference", "pairs_due", "requests_due", "integral"}], "mean": {...}, "ci95": {...}}``.
    """
    from agents.policy import make_policy
    from qenv.envs import make
    from qenv.evaluate import json_safe, mean_ci95

    env = make(ENV_ID, **env_kwargs)
    policy = make_policy(reference, ENV_ID)
    rows: list[dict[str, Any]] = []
    try:
        for i in range(episodes):
            heralds = play_recorded(env, policy, seed + i)
            got = due_delivery_rate(env)
            result = delivery_upper_bound(env, heralds, integral=integral, time_limit=time_limit)
            rows.append(
                {
                    "seed": seed + i,
                    "bound": result.bound,
                    "reference": got,
                    "headroom": result.bound - got,
                    "pairs_due": result.pairs_due,
                    "requests_due": result.requests_due,
                    "integral": result.integral,
                }
            )
    finally:
        env.close()
    summary = {key: mean_ci95([r[key] for r in rows]) for key in ("bound", "reference", "headroom")}
    out: dict[str, Any] = json_safe(
        {
            "env": ENV_ID,
            "env_kwargs": env_kwargs,
            "seed": seed,
            "reference": reference,
            "episodes": rows,
            "mean": {k: v[0] for k, v in summary.items()},
            "ci95": {k: v[1] for k, v in summary.items()},
        }
    )
    return out


def add_bound_parser(subparsers: Any) -> Any:
    """Register ``qenv bound`` (``func=run_bound``)."""
    from qenv.evaluate import add_env_arg_options

    p = subparsers.add_parser(
        "bound",
        help="clairvoyant upper bound on the delivery rate of EntanglementAllocation-v0",
        description="For each seeded episode, the most pairs any allocation policy could "
        "deliver to the requests due within the episode (a linear program that knows every "
        "request and heralding draw in advance; agents/bound.py lists what it relaxes), next "
        "to the due delivery rate of a reference policy on the same draws. The gap bounds "
        "what any policy can gain over the reference.",
    )
    p.add_argument("--config", default=None, help="experiment YAML of qenv train: its env kwargs")
    add_env_arg_options(p)
    p.add_argument("--episodes", type=int, default=10, help="episodes (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    p.add_argument(
        "--reference", default="greedy", help="baseline whose draws and delivery are used"
    )
    p.add_argument("--integral", action="store_true", help="solve the integer program (tighter)")
    p.add_argument(
        "--time-limit", type=float, default=60.0, help="seconds per integer program (default 60)"
    )
    p.add_argument("--out", default=None, help="write the per-episode results as JSON here")
    p.set_defaults(func=run_bound)
    return p


def run_bound(args: Any) -> int:
    """Run ``qenv bound``: print the summary, write ``--out``."""
    import json

    from qenv.evaluate import env_kwargs_from_options

    if isinstance(args.episodes, bool) or args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    env_kwargs: dict[str, Any] = {}
    if args.config is not None:
        from training.config import load_experiment

        exp = load_experiment(args.config)
        if exp.env.id != ENV_ID:
            raise ValueError(f"--config {args.config}: env.id is {exp.env.id}, not {ENV_ID}")
        env_kwargs = exp.env.env_kwargs()
    env_kwargs.update(env_kwargs_from_options(args))
    from agents.policy import policy_names

    if args.reference not in policy_names(ENV_ID):
        raise ValueError(
            f"--reference: unknown policy {args.reference!r}; valid: "
            f"{', '.join(policy_names(ENV_ID))}"
        )
    result = bound_episodes(
        env_kwargs,
        args.episodes,
        args.seed,
        args.reference,
        integral=args.integral,
        time_limit=args.time_limit,
    )
    mean, ci = result["mean"], result["ci95"]

    def cell(key: str) -> str:
        value, half = mean[key], ci[key]
        if value is None:
            return "– (no request due within the horizon)"
        return f"{value:.4f}" + ("" if half is None else f" ± {half:.4f}")

    n = len(result["episodes"])
    print(f"due delivery rate, {n} episodes from seed {args.seed} (mean ± 95% CI):")
    print(f"  {args.reference:<12} {cell('reference')}")
    print(f"  {'bound':<12} {cell('bound')}")
    print(f"  headroom     {cell('headroom')}   (bound − {args.reference}, paired)")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


__all__ = [
    "ENV_ID",
    "MAX_CLAIM_VARIABLES",
    "DeliveryBound",
    "add_bound_parser",
    "bound_episodes",
    "delivery_upper_bound",
    "due_delivery_rate",
    "due_requests",
    "play_recorded",
    "recorded_heralds",
    "run_bound",
]
