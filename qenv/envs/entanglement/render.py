"""Rendering of EntanglementAllocation-v0: a text summary (``"ansi"``) and a frame (``"rgb_array"``).

Both modes read only ``env.core`` (an :class:`~qenv.envs.entanglement.dynamics.AllocationCore`)
plus ``env.scenario_name``, so they serve per-node and edge-cloud agents alike, and work
before the first step (and before :meth:`reset`, showing an empty network).

The frame is drawn with matplotlib's Agg canvas directly (no pyplot: no global figure
registry, no display). The figure, its axes and every artist are built on the first call
and kept in ``env._render_cache``; later frames only update colours and data and redraw
the changing artists over a saved background (blitting); text, slow to rasterise, is
drawn once and its pixels reused (node ids, title values seen before). A frame of the
100-node DPEM network costs ~10–20 ms of CPU. :func:`close` drops the figure.

Frame contents: links as segments coloured by stored pairs / capacity (viridis), nodes
coloured by memory occupancy (Blues), an orange ring around nodes with a queued request,
the paths whose claims were accepted in the last slot in red on top, and a title line
with the slot, delivered pairs, delivery rate and contention rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Frame size in inches and dots per inch: 640 × 480 pixels.
FIG_SIZE = (6.4, 4.8)
DPI = 100
#: Most accepted paths listed by the text summary.
MAX_LISTED_CLAIMS = 10
#: Largest network for which the text summary prints one row per node.
MAX_NODE_ROWS = 20
#: Largest network whose frame labels the nodes with their ids.
MAX_LABELLED_NODES = 30

#: Title line: font size (pt), baseline (pixels from the top), rows it may cover (above
#: the network axes, which start 48 px from the top).
TITLE_PT = 9
TITLE_BASELINE_PX = 20
TITLE_ROWS = 40
#: Cached pixel boxes per title value (the slot value changes every frame).
MAX_CACHED_VALUES = 4096

LINK_CMAP = "viridis"
NODE_CMAP = "Blues"
CLAIM_COLOUR = "#e41a1c"
QUEUE_COLOUR = "#ff7f00"

_CACHE_ATTR = "_render_cache"
_COUNT_METRICS = frozenset(
    {
        "invalid_actions",
        "pairs_delivered",
        "pairs_requested",
        "requests",
        "completed_requests",
        "expired_requests",
        "claims",
    }
)
#: Metric rows of the text summary.
_SUMMARY_ROWS = (
    ("delivery_rate", "contention_rate", "mean_latency", "mean_fidelity", "utilisation"),
    (
        "pairs_delivered",
        "pairs_requested",
        "completed_requests",
        "expired_requests",
        "claims",
        "invalid_actions",
    ),
)


# ---------------------------------------------------------------------- state access
def _cache(env: Any) -> dict[str, Any]:
    cache = getattr(env, _CACHE_ATTR, None)
    if not isinstance(cache, dict):
        cache = {}
        setattr(env, _CACHE_ATTR, cache)
    return cache


def _started(core: Any) -> bool:
    """True once the core was reset (before that it has no requests or counters)."""
    return hasattr(core, "batch") and hasattr(core, "counters")


def _metrics(core: Any) -> dict[str, float]:
    return dict(core.metrics()) if _started(core) else {}


def _queued(core: Any) -> npt.NDArray[np.bool_]:
    """(N,) nodes with a head request."""
    if not _started(core):
        return np.zeros(core.n_nodes, dtype=bool)
    return np.asarray(core.head < len(core.batch), dtype=bool)


def _queue_length(core: Any) -> IntArray:
    """(N,) requests that arrived at each node and are not yet finished (at the front)."""
    if not _started(core):
        return np.zeros(core.n_nodes, dtype=np.int64)
    q = core.arrived - (core.ptr - core.node_start[:-1])
    return np.maximum(np.asarray(q, dtype=np.int64), 0)


def _claimed_paths(core: Any) -> list[IntArray]:
    """Link ids of the paths accepted in the last slot (padding −1 removed)."""
    out = getattr(core, "last_outcome", None)
    if out is None:
        return []
    paths = []
    for ids in out.claimed_links:
        arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        arr = arr[arr >= 0]
        if arr.size:
            paths.append(arr)
    return paths


def path_nodes(ends: IntArray, links: IntArray) -> list[int]:
    """Node sequence of a path given as consecutive link ids (ends: (L, 2)).

    A one-link path is returned in the order of its ends (the claiming end is not
    recorded); longer paths start at the end of the first link not shared with the second.
    """
    if links.size == 0:
        return []
    u, v = (int(x) for x in ends[links[0]])
    if links.size == 1:
        return [u, v]
    nxt = {int(x) for x in ends[links[1]]}
    nodes = [v, u] if u in nxt and v not in nxt else [u, v]
    for link in links[1:].tolist():
        a, b = (int(x) for x in ends[link])
        nodes.append(b if a == nodes[-1] else a)
    return nodes


def _slot(core: Any) -> str:
    """``slot t/horizon``; after the last slot (t = horizon + 1): ``slot horizon/horizon (ended)``."""
    t, horizon = int(core.t), int(core.horizon)
    return f"slot {horizon}/{horizon} (ended)" if t > horizon else f"slot {t}/{horizon}"


def _fmt(name: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if name in _COUNT_METRICS:
        return f"{value:.0f}"
    if name == "mean_latency":
        return f"{value:.1f}"
    return f"{value:.3f}"


# ---------------------------------------------------------------------- ansi
def render_ansi(env: Any) -> str:
    """A compact multi-line text summary of the current slot."""
    core = env.core
    n = int(core.n_nodes)
    m = _metrics(core)
    name = getattr(env, "metadata", {}).get("name", "EntanglementAllocation-v0")
    lines = [f"{name} | scenario {getattr(env, 'scenario_name', '?')} | {_slot(core)}"]
    lines.extend("  ".join(f"{k} {_fmt(k, m.get(k))}" for k in row) for row in _SUMMARY_ROWS)
    links = core.engine.links
    stored, cap = int(links.count.sum()), int(links.capacity.sum())
    queued = _queued(core)
    qlen = _queue_length(core)
    share = f" ({100.0 * stored / cap:.1f}%)" if cap else ""
    lines.append(
        f"queued: {int(queued.sum())}/{n} nodes, {int(qlen.sum())} requests  |  "
        f"stored pairs: {stored}/{cap}{share}"
    )
    out = getattr(core, "last_outcome", None)
    if out is None:
        lines.append("last slot: -")
    else:
        paths = _claimed_paths(core)
        listed = ", ".join(
            "-".join(map(str, path_nodes(core.ends, p))) for p in paths[:MAX_LISTED_CLAIMS]
        )
        more = len(paths) - MAX_LISTED_CLAIMS
        if more > 0:
            listed += f" … and {more} more"
        lines.append(
            f"last slot: {len(paths)} claims accepted"
            + (f": {listed}" if paths else "")
            + f" | delivered {int(np.sum(out.delivered))}, contention {int(np.sum(out.contention))}, "
            f"infeasible {int(np.sum(out.infeasible))}, invalid {int(np.sum(out.invalid))}"
        )
    if n <= MAX_NODE_ROWS:
        used = np.asarray(links.node_used)
        mem = np.asarray(core.memory)
        lines.append(f"{'node':>4}  {'memory':>7}  {'queue':>5}  last")
        for i in range(n):
            lines.append(
                f"{i:>4}  {f'{int(used[i])}/{int(mem[i])}':>7}  {int(qlen[i]):>5}  "
                f"{_node_outcome(out, i)}"
            )
    return "\n".join(lines)


def _node_outcome(out: Any, i: int) -> str:
    if out is None:
        return "-"
    if bool(out.invalid[i]):
        return "invalid"
    if int(out.delivered[i]) > 0:
        return "delivered"
    if int(out.contention[i]) > 0:
        return "contention"
    if int(out.infeasible[i]) > 0:
        return "infeasible"
    return "-"


# ---------------------------------------------------------------------- rgb
def node_positions(env: Any) -> FloatArray:
    """(N, 2) drawing positions: node attribute ``pos`` if every node has one, else a
    spring layout (seed 0); computed once and cached on the env."""
    cache = _cache(env)
    pos = cache.get("pos")
    if isinstance(pos, np.ndarray):
        return pos
    graph = env.core.graph
    n = int(env.core.n_nodes)
    given = [graph.nodes[i].get("pos") if i in graph else None for i in range(n)]
    if all(p is not None for p in given):
        pos = np.asarray(given, dtype=np.float64).reshape(n, 2)
    else:
        layout = nx.spring_layout(graph, seed=0)
        pos = np.asarray([layout[i] for i in range(n)], dtype=np.float64).reshape(n, 2)
    cache["pos"] = pos
    return pos


@dataclass
class TitleField:
    """A changing value of the title line: a Text artist in a fixed box of pixel columns.

    Text is slow to rasterise (~0.15 ms a glyph), so the pixels of each value are cached
    and pasted when the value comes back; only new values are drawn.
    """

    text: Any  # Text artist
    x0: int
    x1: int
    pixels: dict[str, npt.NDArray[np.uint8]] = field(default_factory=dict)


@dataclass
class RgbState:
    """The cached figure of :func:`render_rgb` and what the last frame drew."""

    figure: Any
    canvas: Any
    background: Any
    links: Any  # LineCollection, one segment per link
    claims: Any  # LineCollection, segments of the accepted paths
    nodes: Any  # PathCollection, node markers
    rings: Any  # PathCollection, rings around nodes with a queued request
    title: list[TitleField]  # the changing values of the title line
    labels: list[Any]  # node id annotations (small networks only)
    label_idx: IntArray  # flat pixel indices covered by the node ids
    label_rgb: npt.NDArray[np.uint8]  # (P, 3) their colours, pasted over every frame
    segments: FloatArray  # (L, 2, 2)
    claimed_paths: int = 0
    claimed_segments: int = 0
    queued_nodes: int = 0


def _build(env: Any) -> RgbState:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    core = env.core
    pos = node_positions(env)
    n = pos.shape[0]
    segments = pos[np.asarray(core.ends, dtype=np.int64)]  # (L, 2, 2)

    fig = Figure(figsize=FIG_SIZE, dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.76, 0.89))
    ax.set_axis_off()
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    pad = 0.06 * max(float((hi - lo).max()), 1e-9)
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal", adjustable="box")

    norm = Normalize(0.0, 1.0)
    link_w = 2.2 if n <= 30 else 1.3
    lc = LineCollection(
        list(segments), cmap=LINK_CMAP, norm=norm, linewidths=link_w, zorder=1, animated=True
    )
    lc.set_array(np.zeros(len(segments)))
    ax.add_collection(lc)
    claims = LineCollection(
        [],
        colors=CLAIM_COLOUR,
        linewidths=3 * link_w,
        alpha=0.9,
        capstyle="round",
        zorder=2,
        animated=True,
    )
    ax.add_collection(claims)
    size = float(np.clip(3000.0 / n, 18.0, 160.0))
    nodes = ax.scatter(
        pos[:, 0],
        pos[:, 1],
        s=size,
        c=np.zeros(n),
        cmap=NODE_CMAP,
        vmin=0.0,
        vmax=1.0,
        edgecolors="#333333",
        linewidths=0.6,
        zorder=3,
        animated=True,
    )
    rings = ax.scatter(
        pos[:, 0],
        pos[:, 1],
        s=2.6 * size,
        facecolors="none",
        edgecolors=QUEUE_COLOUR,
        linewidths=1.6,
        zorder=4,
        animated=True,
    )
    labels: list[Any] = []
    if n <= MAX_LABELLED_NODES:  # node ids, drawn last so that paths do not hide them
        off = 0.75 * math.sqrt(2.6 * size) / 2 + 1.0  # just outside the queue ring, points
        for i, (x, y) in enumerate(pos.tolist()):
            ann = ax.annotate(
                str(i),
                (x, y),
                xytext=(off, off),
                textcoords="offset points",
                ha="left",
                va="bottom",
                fontsize=7,
                color="#333333",
                animated=True,
            )
            labels.append(ann)

    for x, label, cmap in (
        (0.80, "link pairs / capacity", LINK_CMAP),
        (0.905, "node memory used", NODE_CMAP),
    ):
        cax = fig.add_axes((x, 0.36, 0.022, 0.52))
        cbar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
        cbar.set_label(label, fontsize=7)
        cbar.ax.tick_params(labelsize=6)
    handles = [
        Line2D([], [], color=CLAIM_COLOUR, lw=3, label="claimed path (last slot)"),
        Line2D(
            [],
            [],
            marker="o",
            ls="none",
            mfc="none",
            mec=QUEUE_COLOUR,
            mew=1.6,
            ms=8,
            label="queued request",
        ),
    ]
    fig.legend(
        handles=handles, loc="lower right", bbox_to_anchor=(0.995, 0.02), fontsize=7, frameon=False
    )
    title = _title_line(env, fig, canvas)
    canvas.draw()  # type: ignore[no-untyped-call]  # static parts only: skips animated artists
    background = canvas.copy_from_bbox(fig.bbox)  # type: ignore[no-untyped-call]
    # Node ids go on top of everything. Text is slow to rasterise (~1 ms a label), so they
    # are drawn once over the background and the pixels they change pasted on each frame.
    base = _rgb(canvas)
    for ann in labels:
        fig.draw_artist(ann)
    flat = _rgb(canvas).reshape(-1, 3)
    label_idx = np.flatnonzero((flat != base.reshape(-1, 3)).any(axis=1)).astype(np.int64)
    canvas.restore_region(background)  # type: ignore[no-untyped-call]
    return RgbState(
        fig,
        canvas,
        background,
        lc,
        claims,
        nodes,
        rings,
        title,
        labels,
        label_idx,
        flat[label_idx].copy(),
        segments,
    )


def _rgb(canvas: Any) -> npt.NDArray[np.uint8]:
    """A copy of the canvas pixels without alpha, (H, W, 3)."""
    rgba = np.asarray(canvas.buffer_rgba())
    return np.array(rgba[:, :, :3], dtype=np.uint8, copy=True)


def _title_line(env: Any, fig: Any, canvas: Any) -> list[TitleField]:
    """Static words of the title line (drawn into the background) and its value fields.

    ``<scenario>  slot <t/horizon>  delivery rate <r>  contention rate <r>  delivered <n>``
    """
    renderer = canvas.get_renderer()
    width, height = int(FIG_SIZE[0] * DPI), int(FIG_SIZE[1] * DPI)
    y = 1.0 - TITLE_BASELINE_PX / height
    horizon = int(env.core.horizon)
    x = 6.0
    fields: list[TitleField] = []
    words = (
        f"{getattr(env, 'scenario_name', '?')}     slot",
        "delivery rate",
        "contention rate",
        "delivered",
    )
    reserve = (f"{horizon}/{horizon}", "0.000", "0.000", None)
    for word, widest in zip(words, reserve, strict=True):
        label = fig.text(x / width, y, word, fontsize=TITLE_PT, va="baseline")
        x += label.get_window_extent(renderer).width + 4.0
        value = fig.text(x / width, y, widest or "", fontsize=TITLE_PT, va="baseline")
        value.set_animated(True)
        x1 = width if widest is None else int(x + value.get_window_extent(renderer).width) + 3
        fields.append(TitleField(value, max(int(x) - 2, 0), min(x1, width)))
        x = x1 + 12.0
    return fields


def _title_values(env: Any) -> tuple[str, ...]:
    core = env.core
    m = _metrics(core)
    t, horizon = int(core.t), int(core.horizon)
    ended = t > horizon
    return (
        f"{min(t, horizon)}/{horizon}",
        _fmt("delivery_rate", m.get("delivery_rate")),
        _fmt("contention_rate", m.get("contention_rate")),
        _fmt("pairs_delivered", m.get("pairs_delivered")) + (" (ended)" if ended else ""),
    )


def render_rgb(env: Any) -> npt.NDArray[np.uint8]:
    """The network at the current slot as a fresh (480, 640, 3) uint8 frame."""
    cache = _cache(env)
    st = cache.get("rgb")
    if not isinstance(st, RgbState):
        st = _build(env)
        cache["rgb"] = st
    core = env.core
    links = core.engine.links
    cap = np.asarray(links.capacity, dtype=np.float64)
    frac = np.where(cap > 0, np.asarray(links.count) / np.maximum(cap, 1.0), 0.0)
    st.links.set_array(frac)
    paths = _claimed_paths(core)
    if paths:
        ids = np.concatenate(paths)
        st.claims.set_segments(list(st.segments[ids]))
    else:
        ids = np.zeros(0, dtype=np.int64)
        st.claims.set_segments([])
    st.claimed_paths, st.claimed_segments = len(paths), int(ids.size)
    mem = np.asarray(core.memory, dtype=np.float64)
    st.nodes.set_array(np.asarray(links.node_used) / np.maximum(mem, 1.0))
    queued = _queued(core)
    st.queued_nodes = int(queued.sum())
    pos = node_positions(env)
    st.rings.set_offsets(pos[queued] if st.queued_nodes else np.zeros((0, 2)))

    canvas, fig = st.canvas, st.figure
    canvas.restore_region(st.background)
    for artist in (st.links, st.claims, st.nodes, st.rings):
        fig.draw_artist(artist)
    values = _title_values(env)
    for f, v in zip(st.title, values, strict=True):
        if v not in f.pixels:
            f.text.set_text(v)
            fig.draw_artist(f.text)
    frame = _rgb(canvas)
    for f, v in zip(st.title, values, strict=True):
        box = frame[:TITLE_ROWS, f.x0 : f.x1]
        cached = f.pixels.get(v)
        if cached is None:
            if len(f.pixels) >= MAX_CACHED_VALUES:
                f.pixels.clear()
            f.pixels[v] = box.copy()
        else:
            box[...] = cached
    if st.label_idx.size:
        frame.reshape(-1, 3)[st.label_idx] = st.label_rgb
    return frame


def close(env: Any) -> None:
    """Release the cached figure (idempotent; positions stay cached)."""
    cache = getattr(env, _CACHE_ATTR, None)
    if isinstance(cache, dict):
        st = cache.pop("rgb", None)
        if isinstance(st, RgbState):
            st.figure.clear()
