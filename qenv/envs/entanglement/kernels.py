"""Compiled kernels of the observation hot path (numba, no Python objects).

:func:`path_stats` computes, for every node's head request, what the node knows of each
candidate path: the product of the links' Werner parameters, the fewest pairs on a link
and the least swap credit of an inner node, each link and node read from the snapshot
of as many slots ago as its classical delay. In numpy this took ~25 array calls per slot
over (delay, link) tables of which a path touches a few entries; fused here it is one
pass over the (M, k, hops) entries actually used. ``tests/test_kernels.py`` checks it
against the numpy formulas it replaced.

Compiled on first use and cached on disk (``cache=True``), so only the first process
after an install pays the compile time (a few seconds).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

#: Pair count of a path without links (never the bottleneck).
UNBOUNDED = np.iinfo(np.int64).max


@njit(cache=True, nogil=True)
def path_stats(
    head: npt.NDArray[np.int64],
    link_code_t: npt.NDArray[np.int64],
    inner_code_t: npt.NDArray[np.int64],
    hops: npt.NDArray[np.int64],
    fresh: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64],
    credit: npt.NDArray[np.float64],
    t: int,
    cutoff: int,
    log_decay: npt.NDArray[np.float64],
    w0: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(fidelity, bottleneck, min_credit), each (M, k), of the head requests ``head`` (M,).

    ``fidelity`` is the predicted end-to-end fidelity (3w + 1)/4 of the product w of the
    links' Werner parameters, 0 if a link looks empty; ``bottleneck`` is the fewest pairs
    on a link (0 for a missing path).

    Args:
        link_code_t: (H, R + 1, k) ``delay·(L + 1) + link`` of each hop (padding link L).
        inner_code_t: (H', R + 1, k) ``delay·(N + 1) + node`` of each inner node (padding N).
        hops: (R + 1, k) links per path (0 for a missing path).
        fresh, count: (D, L) birth slot of the freshest pair and pairs stored, row d =
            d slots ago. credit: (D', N) swap credits, row d = d slots ago.
        cutoff: pairs older than this many slots are gone (negative: no cutoff).

    A link seen ``d > 0`` slots ago counts as empty if its freshest pair has aged past the
    cutoff since; Werner parameters are aged to slot ``t``: w0·exp(age·ln decay).
    """
    n_links = fresh.shape[1]
    n_nodes = credit.shape[1]
    m_count = head.size
    k = hops.shape[1]
    w = np.ones((m_count, k))
    bottleneck = np.full((m_count, k), UNBOUNDED, dtype=np.int64)
    min_credit = np.full((m_count, k), np.inf)
    for m in range(m_count):
        r = head[m]
        for j in range(k):
            n_hops = hops[r, j]
            wp = 1.0
            bp = UNBOUNDED
            for h in range(n_hops):
                d, link = divmod(link_code_t[h, r, j], n_links + 1)
                c = count[d, link]
                age = t - fresh[d, link]
                if c > 0 and (d == 0 or cutoff < 0 or age <= cutoff):
                    wp *= np.exp(age * log_decay[link]) * w0[link]
                    if c < bp:
                        bp = c
                else:
                    wp = 0.0
                    bp = 0
            if n_hops == 0:
                bp = 0
            w[m, j] = 0.75 * wp + 0.25 if bp > 0 else 0.0
            bottleneck[m, j] = bp
            mc = np.inf
            for h in range(n_hops - 1):
                d, node = divmod(inner_code_t[h, r, j], n_nodes + 1)
                if credit[d, node] < mc:
                    mc = credit[d, node]
            min_credit[m, j] = mc
    return w, bottleneck, min_credit


@njit(cache=True, nogil=True)
def fill_node_fields(
    obs: npt.NDArray[np.float32],
    starts: npt.NDArray[np.int64],
    node_used: npt.NDArray[np.int64],
    memory: npt.NDArray[np.float64],
    credit: npt.NDArray[np.float64],
    swap_burst: float,
    count: npt.NDArray[np.int64],
    fresh: npt.NDArray[np.int64],
    capacity: npt.NDArray[np.int64],
    w0: npt.NDArray[np.float64],
    log_decay: npt.NDArray[np.float64],
    t: int,
    incident: npt.NDArray[np.int64],
    neighbours: npt.NDArray[np.int64],
    has_request: npt.NDArray[np.bool_],
    queue: npt.NDArray[np.int64],
    queue_scale: float,
    last_contention: npt.NDArray[np.bool_],
    last_delivered: npt.NDArray[np.bool_],
    time_fraction: float,
    demand: npt.NDArray[np.float32],
) -> None:
    """Write every node-level field of the observation rows ``obs`` (N, size) and zero
    the head-request and path fields (filled by :func:`fill_request_rows`).

    ``starts`` holds the first column of: free_memory, swap_credit, link_pairs,
    link_fidelity, queue_length, has_request, path_score stop, neighbour_queues,
    last_contention, last_delivered, time, demand (the order of
    :class:`ObservationLayout`). ``incident`` and ``neighbours`` are (N, D), padded with −1.
    """
    n_nodes, max_degree = incident.shape
    horizon = demand.shape[1]
    for i in range(n_nodes):
        row = obs[i]
        occupancy = node_used[i] / memory[i]
        row[starts[0]] = 1.0 - occupancy
        row[starts[1]] = credit[i] / swap_burst
        for j in range(max_degree):
            link = incident[i, j]
            pairs = 0.0
            fidelity = 0.0
            if link >= 0 and count[link] > 0:
                pairs = count[link] / max(capacity[link], 1)
                w = w0[link] * np.exp((t - fresh[link]) * log_decay[link])
                fidelity = 0.75 * w + 0.25
            row[starts[2] + j] = pairs
            row[starts[3] + j] = fidelity
        row[starts[4]] = min(queue[i] / queue_scale, 1.0)
        for c in range(starts[5], starts[6]):
            row[c] = 0.0
        busy = 0.0
        load = 0.0
        degree = 0
        for j in range(max_degree):
            v = neighbours[i, j]
            if v >= 0:
                degree += 1
                busy += 1.0 if has_request[v] else 0.0
                load += node_used[v] / memory[v]
        degree = max(degree, 1)
        row[starts[7]] = busy / degree
        row[starts[7] + 1] = load / degree
        row[starts[8]] = 1.0 if last_contention[i] else 0.0
        row[starts[9]] = 1.0 if last_delivered[i] else 0.0
        row[starts[10]] = time_fraction
        for h in range(horizon):
            row[starts[11] + h] = demand[i, h]


@njit(cache=True, nogil=True)
def fill_request_rows(
    obs: npt.NDArray[np.float32],
    col0: int,
    nodes: npt.NDArray[np.int64],
    request: npt.NDArray[np.int64],
    valid: npt.NDArray[np.bool_],
    hops: npt.NDArray[np.int64],
    bottleneck: npt.NDArray[np.int64],
    fidelity: npt.NDArray[np.float64],
    min_credit: npt.NDArray[np.float64],
    score: npt.NDArray[np.float64],
    f_min: npt.NDArray[np.float64],
    arrival: npt.NDArray[np.int64],
    deadline: npt.NDArray[np.int64],
    remaining: npt.NDArray[np.int64],
    t: int,
    deadline_scale: float,
    hops_scale: float,
    pairs_scale: float,
    qmax: float,
    swap_burst: float,
) -> None:
    """Write the head-request and path fields (columns ``col0`` onwards of the rows
    ``obs`` (N, size)) of the nodes with a head request.

    Column order as in :class:`ObservationLayout`: has_request, head_hops, head_f_min,
    head_age, head_slack, head_pairs_left, then six path fields of k entries each
    (valid, hops, bottleneck pairs, fidelity, swap credit, score); every value is
    clipped to at most 1. A non-positive or NaN score counts as 0.
    """
    k = valid.shape[1]
    p0 = col0 + 6
    for i in range(nodes.size):
        row = obs[nodes[i]]
        r = request[i]
        row[col0] = 1.0
        row[col0 + 1] = min(hops[i, 0] / hops_scale, 1.0)
        row[col0 + 2] = min(f_min[i], 1.0)
        row[col0 + 3] = min((t - arrival[r]) / deadline_scale, 1.0)
        row[col0 + 4] = min((deadline[r] - t) / deadline_scale, 1.0)
        row[col0 + 5] = min(remaining[r] / pairs_scale, 1.0)
        for j in range(k):
            v = 1.0 if valid[i, j] else 0.0
            s = score[i, j]
            s = s * v if s > 0 else 0.0
            row[p0 + j] = v
            row[p0 + k + j] = min(hops[i, j] / hops_scale, 1.0)
            row[p0 + 2 * k + j] = min(bottleneck[i, j] / qmax, 1.0)
            row[p0 + 3 * k + j] = min(fidelity[i, j], 1.0)
            row[p0 + 4 * k + j] = min(min_credit[i, j] / swap_burst, 1.0) * v
            row[p0 + 5 * k + j] = min(s, 1.0)


@njit(cache=True, nogil=True)
def check_claims(
    actions: npt.NDArray[np.int64],
    mask: npt.NDArray[np.int8],
    head: npt.NDArray[np.int64],
    req_links: npt.NDArray[np.int64],
    req_inner: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64],
    credit: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(invalid, claim, infeasible) per node for this slot's node actions.

    An action is invalid if it is outside 0..k or its mask entry is 0. A valid action
    i >= 1 claims path i − 1 of the node's head request; the claim is infeasible if a
    link of the path stores no pair or an inner node has less than one swap credit now
    (the test :meth:`NetworkEngine.serve` makes first; it does not depend on the order
    in which claims are served).
    """
    n, width = mask.shape
    invalid = np.zeros(n, dtype=np.bool_)
    claim = np.zeros(n, dtype=np.bool_)
    infeasible = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        a = actions[i]
        if a < 0 or a >= width or mask[i, a] != 1:
            invalid[i] = True
            continue
        if a == 0:
            continue
        claim[i] = True
        r = head[i]
        p = a - 1
        for h in range(req_links.shape[2]):
            link = req_links[r, p, h]
            if link < 0:
                break
            if count[link] < 1:
                infeasible[i] = True
                break
        if not infeasible[i]:
            for h in range(req_inner.shape[2]):
                node = req_inner[r, p, h]
                if node < 0:
                    break
                if credit[node] < 1.0 - 1e-9:
                    infeasible[i] = True
                    break
    return invalid, claim, infeasible


@njit(cache=True, nogil=True)
def advance_heads(
    ptr: npt.NDArray[np.int64],
    node_start: npt.NDArray[np.int64],
    node_req: npt.NDArray[np.int64],
    finished: npt.NDArray[np.bool_],
    arrival: npt.NDArray[np.int64],
    t: int,
    head: npt.NDArray[np.int64],
) -> None:
    """Move each node's queue pointer ``ptr`` past finished requests and write its head
    request (the first unfinished one that has arrived by slot ``t``; ``R`` if none)
    into ``head``. Queues are the node's requests in arrival order (CSR ``node_start``)."""
    none = finished.size - 1
    for i in range(ptr.size):
        p = ptr[i]
        end = node_start[i + 1]
        while p < end and finished[node_req[p]]:
            p += 1
        ptr[i] = p
        r = node_req[p]
        head[i] = r if p < end and arrival[r] <= t else none


@njit(cache=True, nogil=True)
def feasibility(
    valid: npt.NDArray[np.bool_],
    hops: npt.NDArray[np.int64],
    bottleneck: npt.NDArray[np.int64],
    fidelity: npt.NDArray[np.float64],
    min_credit: npt.NDArray[np.float64],
    f_min: npt.NDArray[np.float64],
    swap_prob: float,
) -> npt.NDArray[np.float64]:
    """:func:`~qenv.envs.entanglement.dynamics.feasibility_score` in one pass."""
    m_count, k = valid.shape
    out = np.zeros((m_count, k))
    for m in range(m_count):
        for j in range(k):
            if (
                valid[m, j]
                and bottleneck[m, j] >= 1
                and min_credit[m, j] >= 1.0
                and fidelity[m, j] >= f_min[m]
            ):
                out[m, j] = swap_prob ** max(hops[m, j] - 1, 0)
    return out


@njit(cache=True, nogil=True)
def path_hyperscore(
    valid: npt.NDArray[np.bool_],
    hops: npt.NDArray[np.int64],
    bottleneck: npt.NDArray[np.int64],
    fidelity: npt.NDArray[np.float64],
    min_credit: npt.NDArray[np.float64],
    f_min: npt.NDArray[np.float64],
    swap_prob: float,
    weights: npt.NDArray[np.float64],
    beta: float,
    gamma: float,
    kappa: float,
) -> npt.NDArray[np.float64]:
    """:class:`~qenv.envs.entanglement.dynamics.PathHyperScorer` in one pass: the
    feasibility kernel gives LogicScore^π (> 0) and QNC (its value, swap_prob^(hops − 1));
    ``weights`` = (logic, repro, meta, qnc), normalised by the caller."""
    base = feasibility(valid, hops, bottleneck, fidelity, min_credit, f_min, swap_prob)
    m_count, k = valid.shape
    out = np.zeros((m_count, k))
    sig_gamma = 1.0 / (1.0 + np.exp(-gamma))
    for m in range(m_count):
        slack = 1.0 - f_min[m]
        for j in range(k):
            q = base[m, j]
            if q <= 0.0:
                continue
            margin = (fidelity[m, j] - f_min[m]) / slack if slack > 0.0 else 1.0
            margin = min(max(margin, 0.0), 1.0)
            b = float(bottleneck[m, j])
            abundance = b / (1.0 + b)
            v = weights[0] + weights[1] * margin + weights[2] * abundance + weights[3] * q
            sig = 1.0 / (1.0 + np.exp(-(beta * np.log(v) + gamma)))
            out[m, j] = min((sig / sig_gamma) ** kappa, 1.0)
    return out
