"""Compiled kernels of the network engine's per-slot hot path (numba, cached on disk)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit


@njit(cache=True, nogil=True)
def herald(
    draws: npt.NDArray[np.float64],
    p_gen: npt.NDArray[np.float64],
    count: npt.NDArray[np.int64],
    capacity: npt.NDArray[np.int64],
    node_used: npt.NDArray[np.int64],
    node_memory: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    birth: npt.NDArray[np.int64],
    fresh: npt.NDArray[np.int64],
    t: int,
    heralded: npt.NDArray[np.bool_],
    idx: npt.NDArray[np.int64],
    seen: npt.NDArray[np.int64],
) -> tuple[int, bool]:
    """Links that herald this slot (draw < p_gen, a free slot on the link, free memory at
    both ends) into ``heralded`` (L,) and ``idx``; returns (how many, shared).

    If no two heralding links share a node, their pairs are stored here (each in the
    link's first empty slot, as ``birth.argmin``) and ``shared`` is False; otherwise
    nothing is stored and the caller serves the heralds in a random order within free
    memory. ``seen`` is an (N,) scratch array of −1s, left as it was found.
    """
    n = 0
    for link in range(draws.size):
        u, v = ends[link, 0], ends[link, 1]
        h = (
            draws[link] < p_gen[link]
            and count[link] < capacity[link]
            and node_used[u] < node_memory[u]
            and node_used[v] < node_memory[v]
        )
        heralded[link] = h
        if h:
            idx[n] = link
            n += 1
    shared = False
    for i in range(n):
        for node in (ends[idx[i], 0], ends[idx[i], 1]):
            if seen[node] >= 0:
                shared = True
            seen[node] = i
    for i in range(n):
        seen[ends[idx[i], 0]] = -1
        seen[ends[idx[i], 1]] = -1
    if shared or n == 0:
        return n, shared
    for i in range(n):
        link = idx[i]
        row = birth[link]
        slot = 0
        for s in range(1, row.size):
            if row[s] < row[slot]:
                slot = s
        row[slot] = t
        count[link] += 1
        fresh[link] = t
        node_used[ends[link, 0]] += 1
        node_used[ends[link, 1]] += 1
    return n, False
