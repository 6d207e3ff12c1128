"""The classical control plane: how stale is the information a controller acts on.

A message between nodes travels the fastest route through the fiber graph:
length/(2·10^5 km/s) of propagation plus ``processing_delay_s`` per hop. Delays
are rounded up to whole slots: a message sent in slot t is usable from slot
t + d. A centralized controller at node c therefore sees node n's state
``delay[n, c]`` slots late and its decisions reach node m ``delay[c, m]`` slots
later; an edge agent sees its own node with no delay.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array
from scipy.sparse.csgraph import shortest_path

from qenv.checks import check_positive_int, check_range

#: Speed of light in fiber, km/s.
FIBER_SPEED_KM_S = 2.0e5


def classical_delay_s(graph: nx.Graph, processing_delay_s: float = 1e-4) -> npt.NDArray[np.float64]:
    """(N, N) one-way classical message delay in seconds along the fastest route."""
    check_range("processing_delay_s", processing_delay_s, 0.0)
    n = graph.number_of_nodes()
    rows, cols, w = [], [], []
    for u, v, length in graph.edges(data="length"):
        d = float(length) / FIBER_SPEED_KM_S + processing_delay_s
        rows += [u, v]
        cols += [v, u]
        w += [d, d]
    matrix = csr_array((w, (rows, cols)), shape=(n, n))
    delay: npt.NDArray[np.float64] = shortest_path(matrix, method="D", directed=False)
    return delay


def classical_delay_slots(
    graph: nx.Graph, dt: float, processing_delay_s: float = 1e-4
) -> npt.NDArray[np.int64]:
    """(N, N) classical delay in whole slots (ceil); unreachable pairs get a huge value."""
    check_range("dt", dt, 0.0, low_open=True)
    seconds = classical_delay_s(graph, processing_delay_s)
    finite = np.isfinite(seconds)
    slots = np.full(seconds.shape, np.iinfo(np.int64).max // 4, dtype=np.int64)
    slots[finite] = np.ceil(seconds[finite] / dt - 1e-9).astype(np.int64)
    return slots


def central_node(graph: nx.Graph, processing_delay_s: float = 1e-4) -> int:
    """Node minimising the worst-case delay to every other node: where a controller sits."""
    delay = classical_delay_s(graph, processing_delay_s)
    return int(np.argmin(delay.max(axis=1)))


class DelayLine:
    """The last ``max_delay + 1`` snapshots of an array, to read the state of ``d`` slots ago.

    Row ``d`` of the buffer is the snapshot of ``d`` slots ago: a push shifts the rows by
    one (a memmove of a few rows, cheaper at these depths than ring-buffer indexing) so
    :meth:`recent` needs no copy.
    """

    def __init__(self, initial: npt.NDArray[np.generic], max_delay: int) -> None:
        self.max_delay = check_positive_int("max_delay", max_delay, minimum=0)
        self._buf = np.repeat(np.asarray(initial)[None], max_delay + 1, axis=0)

    def push(self, snapshot: npt.NDArray[np.generic]) -> None:
        """Record the state of the current slot."""
        buf = self._buf
        if buf.shape[0] > 1:
            buf[1:] = buf[:-1]
        buf[0] = snapshot

    def get(self, delay: int) -> npt.NDArray[np.generic]:
        """The snapshot pushed ``delay`` slots ago (0 = the latest), clamped to the oldest kept."""
        d = min(max(int(delay), 0), self.max_delay)
        out: npt.NDArray[np.generic] = self._buf[d]
        return out

    def recent(self) -> npt.NDArray[np.generic]:
        """All kept snapshots, newest first (a read-only view: row ``d`` = ``d`` slots ago)."""
        out: npt.NDArray[np.generic] = self._buf.view()
        out.flags.writeable = False
        return out


def max_delay_slots(delays: npt.NDArray[np.int64]) -> int:
    """Largest finite entry of a delay matrix (the depth a DelayLine needs)."""
    finite = delays[delays < np.iinfo(np.int64).max // 4]
    return int(finite.max()) if finite.size else 0


__all__ = [
    "FIBER_SPEED_KM_S",
    "DelayLine",
    "central_node",
    "classical_delay_s",
    "classical_delay_slots",
    "max_delay_slots",
]
