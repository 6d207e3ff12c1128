"""Layout of an edge node's observation vector: named fields, their slices and bounds.

One row of float32 per node; an agent's ``"observation"`` is its node's row (or the
rows of its edge cloud's nodes, concatenated). Every field lies in [0, 1] except the
predicted demand (expected requests per slot, >= 0). The table is generated from
:meth:`ObservationLayout.describe` and copied into the environment's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Scales used to bring counts into [0, 1] (values above are clipped).
HOPS_SCALE = 10.0
QUEUE_SCALE = 10.0
PAIRS_LEFT_SCALE = 10.0

#: Per candidate path, in this order.
PATH_FIELDS: tuple[tuple[str, str], ...] = (
    ("valid", "1 if candidate path i exists for the head request"),
    ("hops", f"hops of path i / {HOPS_SCALE:g}"),
    ("bottleneck_pairs", "fewest pairs on a link of path i / largest link capacity"),
    (
        "fidelity",
        "predicted end-to-end fidelity with the freshest pairs and perfect swaps (0 if a link is empty)",
    ),
    ("swap_credit", "least swap credit among path i's inner nodes / swap_burst (1 if none)"),
    (
        "score",
        "path quality score in [0, 1] (default: swap_prob^(hops-1) if the path looks feasible for F_min, else 0; path_scorer='hyperscore': the AHMO HyperScore of the path, 0 where infeasible)",
    ),
)


@dataclass(frozen=True)
class ObservationLayout:
    """Field offsets of one node's observation row.

    Args:
        max_degree: incident links per node, padded (D).
        k: candidate paths per request.
        demand_horizon: predicted-demand slots (H).
    """

    max_degree: int
    k: int
    demand_horizon: int
    fields: dict[str, slice] = field(init=False)
    help: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        d, k, h = self.max_degree, self.k, self.demand_horizon
        spec: list[tuple[str, int, str]] = [
            ("free_memory", 1, "free qubits / memory size"),
            ("swap_credit", 1, "remaining repeater (swap) credit / swap_burst"),
            (
                "link_pairs",
                d,
                "pairs stored on each incident link / link capacity (padded to max degree)",
            ),
            ("link_fidelity", d, "fidelity of the freshest pair on each incident link (0 if none)"),
            ("queue_length", 1, f"arrived, unfinished requests at the node / {QUEUE_SCALE:g}"),
            ("has_request", 1, "1 if the node has a queued request (the head request)"),
            (
                "head_hops",
                1,
                f"hops of the head request's shortest candidate path / {HOPS_SCALE:g}",
            ),
            ("head_f_min", 1, "F_min of the head request"),
            ("head_age", 1, "slots since the head request arrived / deadline scale"),
            ("head_slack", 1, "slots left before the head request's deadline / deadline scale"),
            ("head_pairs_left", 1, f"pairs the head request still needs / {PAIRS_LEFT_SCALE:g}"),
        ]
        spec += [(f"path_{name}", k, f"per candidate path i: {text}") for name, text in PATH_FIELDS]
        spec += [
            ("neighbour_queues", 1, "fraction of neighbours with a queued request"),
            ("neighbour_memory", 1, "mean memory occupancy of the neighbours"),
            ("last_contention", 1, "1 if the node's claim in the previous slot lost a resource"),
            ("last_delivered", 1, "1 if the node's claim in the previous slot delivered a pair"),
            ("time", 1, "slot / horizon"),
            (
                "demand",
                h,
                "predicted requests per slot for the next H slots (0 until a forecaster is attached)",
            ),
        ]
        fields: dict[str, slice] = {}
        helps: dict[str, str] = {}
        start = 0
        for name, width, text in spec:
            fields[name] = slice(start, start + width)
            helps[name] = text
            start += width
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "help", helps)

    @property
    def size(self) -> int:
        """Length of one node's row."""
        stop: int = self.fields["demand"].stop
        return stop

    def high(self) -> np.ndarray:
        """Upper bounds of one row: 1 everywhere, +inf for the predicted demand."""
        high = np.ones(self.size, dtype=np.float32)
        high[self.fields["demand"]] = np.inf
        return high

    def describe(self) -> str:
        """A Markdown table of the fields (name, indices, meaning)."""
        rows = ["| field | indices | meaning |", "| --- | --- | --- |"]
        for name, sl in self.fields.items():
            idx = f"{sl.start}" if sl.stop - sl.start == 1 else f"{sl.start}–{sl.stop - 1}"
            rows.append(f"| `{name}` | {idx} | {self.help[name]} |")
        return "\n".join(rows)
