"""Exact mean waiting times of homogeneous repeater chains, for checking the simulator.

Two independent computations, neither of which shares code with the batched
engine in :mod:`qenv.network.chains`:

* :func:`exact_chain_delivery_time` builds the Markov chain of a small chain
  (spans and their ages) under the conventions of DESIGN.md §1 and solves
  (I − Q)·x = 1 for the expected number of slots to absorption. This is the
  model of Iñesta, Vardoyan, Scavuzzo & Wehner (npj QI 2023) for swap-asap
  with cutoffs, except that the memories under a swapped span stay reserved
  until the span is consumed or lost (the engine's convention); the two agree
  for up to three segments.
* :func:`nested_delivery_pmf` is the recursion of Brand, Coopmans & Elkouss
  (IEEE JSAC 2020) for nested (doubling) swapping without cutoff: a level is the
  maximum of two independent copies of the level below, repeated a geometric
  number of times until its swap succeeds.

Both are meant for small chains; the state space of the first grows quickly with
``n_segments`` and ``cutoff``.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from qenv.checks import FloatArray, check_positive_int, check_range

Span = tuple[int, int, int]  # (first node, last node, age in slots)
State = tuple[Span, ...]


def _runs(spans: list[Span]) -> list[list[Span]]:
    """Maximal runs of spans that touch end to start (sorted input)."""
    runs: list[list[Span]] = []
    for s in spans:
        if runs and runs[-1][-1][1] == s[0]:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def _swap_asap(spans: list[Span], a: float) -> list[tuple[float, list[Span]]]:
    outcomes: list[tuple[float, list[Span]]] = [(1.0, [])]
    for run in _runs(spans):
        if len(run) == 1:
            outcomes = [(p, out + run) for p, out in outcomes]
            continue
        merged = (run[0][0], run[-1][1], max(s[2] for s in run))
        ok = a ** (len(run) - 1)
        nxt = [(p * ok, [*out, merged]) for p, out in outcomes]
        if ok < 1.0:
            nxt += [(p * (1.0 - ok), out) for p, out in outcomes]
        outcomes = nxt
    return outcomes


def _swap_nested(spans: list[Span], a: float, n: int) -> list[tuple[float, list[Span]]]:
    outcomes: list[tuple[float, list[Span]]] = [(1.0, sorted(spans))]
    size = 1
    while size < n:
        nxt: list[tuple[float, list[Span]]] = []
        for p, cur in outcomes:
            by_start = {s[0]: s for s in cur}
            pairs = []
            for start in range(0, n, 2 * size):
                left, right = by_start.get(start), by_start.get(start + size)
                if (
                    left is not None
                    and right is not None
                    and left[1] == start + size
                    and right[1] == start + 2 * size
                ):
                    pairs.append((left, right))
            if not pairs:
                nxt.append((p, cur))
                continue
            for oks in product((True, False), repeat=len(pairs)):
                prob = p
                keep = [s for s in cur if all(s is not x and s is not y for x, y in pairs)]
                for ok, (x, y) in zip(oks, pairs, strict=True):
                    prob *= a if ok else 1.0 - a
                    if ok:
                        keep.append((x[0], y[1], max(x[2], y[2])))
                if prob > 0.0:
                    nxt.append((prob, sorted(keep)))
        outcomes = nxt
        size *= 2
    return outcomes


def _slot(
    state: State, n: int, p: float, a: float, cutoff: int | None, nested: bool
) -> dict[State | None, float]:
    """Distribution of the state after one slot; ``None`` is delivery."""
    aged = [(s, e, age + 1) for s, e, age in state if cutoff is None or age + 1 <= cutoff]
    covered = {k for s, e, _ in aged for k in range(s, e)}
    free = [k for k in range(n) if k not in covered]
    result: dict[State | None, float] = {}
    for gen in product((True, False), repeat=len(free)):
        pg = 1.0
        spans = list(aged)
        for k, g in zip(free, gen, strict=True):
            pg *= p if g else 1.0 - p
            if g:
                spans.append((k, k + 1, 0))
        if pg == 0.0:
            continue
        spans.sort()
        swapped = _swap_nested(spans, a, n) if nested else _swap_asap(spans, a)
        for ps, out in swapped:
            done = any(s == 0 and e == n for s, e, _ in out)
            key: State | None = None if done else tuple(sorted(out))
            if cutoff is None and key is not None:
                key = tuple((s, e, 0) for s, e, _ in key)  # ages matter only with a cutoff
            result[key] = result.get(key, 0.0) + pg * ps
    return result


def exact_chain_delivery_time(
    n_segments: int,
    p: float,
    swap_prob: float = 1.0,
    cutoff: int | None = None,
    scheme: str = "swap_asap",
) -> float:
    """Expected slots until the first end-to-end pair, from the chain's Markov chain."""
    n = check_positive_int("n_segments", n_segments)
    check_range("p", p, 0.0, 1.0, low_open=True)
    check_range("swap_prob", swap_prob, 0.0, 1.0, low_open=True)
    if cutoff is not None:
        check_positive_int("cutoff", cutoff, minimum=0)
    if scheme not in ("swap_asap", "nested"):
        raise ValueError(f"scheme must be 'swap_asap' or 'nested', got {scheme!r}")
    if scheme == "nested" and n & (n - 1):
        raise ValueError(f"scheme 'nested' needs n_segments a power of two, got {n}")
    start: State = ()
    index: dict[State, int] = {start: 0}
    rows: list[dict[State | None, float]] = []
    frontier = [start]
    while frontier:
        nxt = []
        for st in frontier:
            trans = _slot(st, n, p, swap_prob, cutoff, scheme == "nested")
            rows.append(trans)
            for s2 in trans:
                if s2 is not None and s2 not in index:
                    index[s2] = len(index)
                    nxt.append(s2)
        frontier = nxt
    m = len(index)
    q = np.zeros((m, m))
    order = list(index)
    for i, st in enumerate(order):
        for s2, prob in rows[index[st]].items():
            if s2 is not None:
                q[i, index[s2]] += prob
    x = np.linalg.solve(np.eye(m) - q, np.ones(m))
    return float(x[0])


def nested_delivery_pmf(levels: int, p: float, swap_prob: float, t_max: int) -> FloatArray:
    """P(T = t) for t = 0..t_max of nested swapping on 2^levels segments (no cutoff).

    T_0 ~ Geometric(p) on {1, 2, ...}; M_k = max(T_k, T_k') has CDF F_k²; and
    T_{k+1} = M¹ + … + M^K with K ~ Geometric(swap_prob): in generating functions
    T_{k+1}(z) = a·M(z) / (1 − (1 − a)·M(z)). Computed by power series; mass beyond
    ``t_max`` is dropped (choose t_max so that it is negligible).
    """
    check_positive_int("levels", levels, minimum=0)
    check_range("p", p, 0.0, 1.0, low_open=True)
    a = float(check_range("swap_prob", swap_prob, 0.0, 1.0, low_open=True))
    t = np.arange(t_max + 1)
    pmf = np.where(t >= 1, p * (1.0 - p) ** np.maximum(t - 1, 0), 0.0)
    for _ in range(levels):
        cdf = np.cumsum(pmf)
        m = np.diff(cdf**2, prepend=0.0)
        # T = a·M + (1 − a)·(M * T): solve the convolution recursively (M(0) = 0).
        out = np.zeros_like(m)
        for k in range(1, t_max + 1):
            out[k] = a * m[k] + (1.0 - a) * np.dot(m[1:k], out[k - 1 : 0 : -1])
        pmf = out
    return pmf
