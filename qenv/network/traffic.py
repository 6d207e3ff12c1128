"""Request traffic: temporal arrival processes, spatial destination models, traces.

A request asks for ``n_pairs`` end-to-end entangled pairs of fidelity at least
``f_min`` between two edge nodes. Time is divided into slots of ``dt`` seconds
(default 0.01 s); slot numbers start at 1 and rates are in requests/s.

Traffic = temporal process x spatial model:

* a :class:`TemporalProcess` gives the arrival intensity ``rates[t, s]`` (requests/s)
  of every source node ``s`` in every slot ``t``; counts are drawn as
  ``Poisson(rate * dt)`` for the whole ``(n_slots, n_nodes)`` grid at once;
* a :class:`SpatialModel` gives a per-source load weight (mean 1) and the destination
  distribution ``P(d | s)`` (zero diagonal: never ``s == d``).

Processes compose multiplicatively: ``Diurnal(2.0, 0.5) * Bursty(1.0, 10.0, 0.01, 0.1)``
is a :class:`Modulated` process whose mean rate is set by the left operand and whose
right operands only contribute their shape (their rates divided by their mean rate).

Request histories are recorded as a :class:`Trace` (timestamp s, source, destination,
fidelity) that can be written to / read from CSV and replayed with :class:`TraceReplay`.
Every random function takes an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import csv
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int

__all__ = [
    "DEFAULT_DT",
    "F_MAX",
    "F_MIN",
    "TRACE_COLUMNS",
    "Bursty",
    "Diurnal",
    "Gravity",
    "Modulated",
    "Poisson",
    "RequestBatch",
    "RequestGenerator",
    "RequestHistory",
    "SpatialModel",
    "TemporalProcess",
    "Trace",
    "TraceReplay",
    "TrafficModel",
    "Uniform",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
PathLike = str | os.PathLike[str]

DEFAULT_DT = 0.01
"""Default slot length (s)."""
F_MIN = 0.25
"""Lowest meaningful fidelity (a maximally mixed two-qubit state)."""
F_MAX = 1.0
TRACE_COLUMNS = ("timestamp", "source", "destination", "fidelity")
"""CSV header of a trace, in order."""

# Timestamps within this fraction of a slot below a slot boundary are put in the later slot,
# so that e.g. 0.03 s with dt = 0.01 s lands in slot 4 despite 0.03 / 0.01 < 3 in floating point.
_SLOT_EPS = 1e-9


# --------------------------------------------------------------------------- validation


def _check_positive(name: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return float(value)


def _check_nonneg(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return float(value)


def _check_unit(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


_check_int = check_positive_int  # one integer check for the whole package


def _float_range(name: str, value: float | tuple[float, float]) -> tuple[float, float]:
    """A fidelity or a (low, high) fidelity range inside [F_MIN, F_MAX]."""
    try:
        low, high = (value, value) if isinstance(value, int | float) else value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a float or a (low, high) pair, got {value!r}") from None
    if not (F_MIN <= low <= high <= F_MAX):
        raise ValueError(
            f"{name} must be a float or (low, high) with {F_MIN} <= low <= high <= {F_MAX}, "
            f"got {value!r}"
        )
    return float(low), float(high)


def _int_range(name: str, value: int | tuple[int, int], low: int) -> tuple[int, int]:
    """An integer or an inclusive (lo, hi) integer range with ``low <= lo <= hi``."""
    try:
        lo, hi = (value, value) if isinstance(value, int | np.integer) else value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a (lo, hi) pair, got {value!r}") from None
    lo = _check_int(f"{name} (low end)", lo, low)
    hi = _check_int(f"{name} (high end)", hi, low)
    if hi < lo:
        raise ValueError(f"{name} must have low <= high, got {value!r}")
    return lo, hi


def _draw_int(bounds: tuple[int, int], size: int, rng: np.random.Generator) -> IntArray:
    lo, hi = bounds
    if lo == hi:
        return np.full(size, lo, dtype=np.int64)
    return rng.integers(lo, hi, size=size, endpoint=True, dtype=np.int64)


def _draw_float(bounds: tuple[float, float], size: int, rng: np.random.Generator) -> FloatArray:
    lo, hi = bounds
    if lo == hi:
        return np.full(size, lo, dtype=np.float64)
    return rng.uniform(lo, hi, size=size)


def _frozen_int(values: npt.ArrayLike, name: str) -> IntArray:
    arr = np.array(values, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def _frozen_float(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.array(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


# --------------------------------------------------------------------------- traces


@dataclass(frozen=True, eq=False)
class Trace:
    """Request log as a struct of arrays, rows in non-decreasing timestamp order.

    ``timestamp`` (s, >= 0), ``source`` and ``destination`` (node ids >= 0, different) and
    ``fidelity`` (requested minimum fidelity in [0.25, 1]). The constructor sorts the rows
    by timestamp with a stable sort (ties keep their input order); arrays are read-only.
    """

    timestamp: FloatArray
    source: IntArray
    destination: IntArray
    fidelity: FloatArray

    def __post_init__(self) -> None:
        ts = _frozen_float(self.timestamp, "timestamp")
        src = _frozen_int(self.source, "source")
        dst = _frozen_int(self.destination, "destination")
        fid = _frozen_float(self.fidelity, "fidelity")
        for name, col in (("source", src), ("destination", dst), ("fidelity", fid)):
            if col.shape != ts.shape:
                raise ValueError(f"{name} has length {col.size}, timestamp has {ts.size}")
        if not np.all(np.isfinite(ts)) or np.any(ts < 0):
            raise ValueError("timestamp must be finite and >= 0 (s)")
        if np.any(src < 0) or np.any(dst < 0):
            raise ValueError("source and destination node ids must be >= 0")
        if np.any(src == dst):
            raise ValueError("source and destination must differ")
        if np.any(~((fid >= F_MIN) & (fid <= F_MAX))):
            raise ValueError(f"fidelity must be in [{F_MIN}, {F_MAX}]")
        if np.any(ts[1:] < ts[:-1]):
            order = np.argsort(ts, kind="stable")
            ts = _frozen_float(ts[order], "timestamp")
            src = _frozen_int(src[order], "source")
            dst = _frozen_int(dst[order], "destination")
            fid = _frozen_float(fid[order], "fidelity")
        object.__setattr__(self, "timestamp", ts)
        object.__setattr__(self, "source", src)
        object.__setattr__(self, "destination", dst)
        object.__setattr__(self, "fidelity", fid)

    def __len__(self) -> int:
        return int(self.timestamp.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return all(np.array_equal(getattr(self, c), getattr(other, c)) for c in TRACE_COLUMNS)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def empty(cls) -> Trace:
        """A trace with no rows."""
        return cls(np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))

    def concat(self, *others: Trace) -> Trace:
        """Merge traces; the result is re-sorted by timestamp (stable, ``self`` first)."""
        parts = (self, *others)
        return Trace(*(np.concatenate([getattr(p, c) for p in parts]) for c in TRACE_COLUMNS))

    def to_csv(self, path: PathLike) -> None:
        """Write ``timestamp,source,destination,fidelity`` CSV; floats round-trip exactly."""
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(TRACE_COLUMNS)
            writer.writerows(
                zip(
                    map(repr, self.timestamp.tolist()),
                    self.source.tolist(),
                    self.destination.tolist(),
                    map(repr, self.fidelity.tolist()),
                    strict=True,
                )
            )

    @classmethod
    def from_csv(cls, path: PathLike, n_nodes: int | None = None) -> Trace:
        """Read a CSV trace with header ``timestamp,source,destination,fidelity``.

        Extra columns are ignored and blank lines skipped. Rows need not be in time
        order: they are sorted by timestamp (stable). Raises ``ValueError`` naming the
        file and the 1-based line (header = line 1) for a missing column, an unparseable
        row, a negative or non-finite timestamp, ``source == destination``, a fidelity
        outside [0.25, 1], a negative node id, or (when ``n_nodes`` is given) a node id
        outside ``[0, n_nodes)``.
        """
        if n_nodes is not None:
            n_nodes = _check_int("n_nodes", n_nodes, 2)
        name = os.fspath(path)
        ts_col: list[float] = []
        fid_col: list[float] = []
        src_col: list[int] = []
        dst_col: list[int] = []
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{name}:1: empty file, expected header {','.join(TRACE_COLUMNS)}")
            header = [h.strip() for h in header]
            for col in TRACE_COLUMNS:
                if col not in header:
                    raise ValueError(f"{name}:1: missing column {col!r} (header {header})")
            index = [header.index(c) for c in TRACE_COLUMNS]
            width = max(index) + 1
            for row in reader:
                line = reader.line_num
                if not any(field.strip() for field in row):
                    continue
                if len(row) < width:
                    raise ValueError(
                        f"{name}:{line}: expected at least {width} fields, got {len(row)}"
                    )
                raw = [row[i].strip() for i in index]
                try:
                    ts, fid = float(raw[0]), float(raw[3])
                    src, dst = int(raw[1]), int(raw[2])
                except ValueError:
                    raise ValueError(f"{name}:{line}: cannot parse row {row!r}") from None
                if not math.isfinite(ts) or ts < 0:
                    raise ValueError(
                        f"{name}:{line}: timestamp {raw[0]} outside allowed range [0, inf) s"
                    )
                for node in (src, dst):
                    if node < 0 or (n_nodes is not None and node >= n_nodes):
                        bound = "inf" if n_nodes is None else str(n_nodes)
                        raise ValueError(
                            f"{name}:{line}: unknown node {node} (allowed range [0, {bound}))"
                        )
                if src == dst:
                    raise ValueError(f"{name}:{line}: source == destination == {src}")
                if not F_MIN <= fid <= F_MAX:
                    raise ValueError(
                        f"{name}:{line}: fidelity {raw[3]} outside allowed range [{F_MIN}, {F_MAX}]"
                    )
                ts_col.append(ts)
                src_col.append(src)
                dst_col.append(dst)
                fid_col.append(fid)
        return cls(
            np.asarray(ts_col, dtype=np.float64),
            np.asarray(src_col, dtype=np.int64),
            np.asarray(dst_col, dtype=np.int64),
            np.asarray(fid_col, dtype=np.float64),
        )


# --------------------------------------------------------------------------- request batches


@dataclass(frozen=True, eq=False)
class RequestBatch:
    """Requests as a struct of read-only arrays of equal length R.

    Rows are sorted by ``arrival`` then ``source``. ``id`` (int64), ``source`` and
    ``destination`` (node ids, different), ``f_min`` (minimum fidelity in [0.25, 1]),
    ``n_pairs`` (>= 1 pairs wanted), ``arrival`` (slot, first slot is 1) and ``deadline``
    (last slot in which a delivery counts, >= arrival). The constructor validates all of
    this; id uniqueness is the creator's responsibility (generators number 0..R-1).
    """

    id: IntArray
    source: IntArray
    destination: IntArray
    f_min: FloatArray
    n_pairs: IntArray
    arrival: IntArray
    deadline: IntArray

    _FIELDS = ("id", "source", "destination", "f_min", "n_pairs", "arrival", "deadline")

    def __post_init__(self) -> None:
        size: int | None = None
        arr: IntArray | FloatArray
        for name in self._FIELDS:
            values = getattr(self, name)
            arr = _frozen_float(values, name) if name == "f_min" else _frozen_int(values, name)
            if size is None:
                size = arr.size
            elif arr.size != size:
                raise ValueError(f"{name} has length {arr.size}, id has length {size}")
            object.__setattr__(self, name, arr)
        if np.any(self.source < 0) or np.any(self.destination < 0):
            raise ValueError("source and destination node ids must be >= 0")
        if np.any(self.source == self.destination):
            raise ValueError("source and destination must differ")
        if np.any(~((self.f_min >= F_MIN) & (self.f_min <= F_MAX))):
            raise ValueError(f"f_min must be in [{F_MIN}, {F_MAX}]")
        if np.any(self.n_pairs < 1):
            raise ValueError("n_pairs must be >= 1")
        if np.any(self.arrival < 1):
            raise ValueError("arrival must be >= 1 (slots are numbered from 1)")
        if np.any(self.deadline < self.arrival):
            raise ValueError("deadline must be >= arrival")
        a, s = self.arrival, self.source
        if np.any((a[1:] < a[:-1]) | ((a[1:] == a[:-1]) & (s[1:] < s[:-1]))):
            raise ValueError("requests must be sorted by arrival then source")

    def __len__(self) -> int:
        return int(self.id.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RequestBatch):
            return NotImplemented
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def empty(cls) -> RequestBatch:
        """A batch with no requests."""
        ints = np.empty(0, dtype=np.int64)
        return cls(ints, ints, ints, np.empty(0), ints, ints, ints)

    def _take(self, idx: IntArray | BoolArray) -> RequestBatch:
        return RequestBatch(*(getattr(self, f)[idx] for f in self._FIELDS))

    def concat(self, *others: RequestBatch) -> RequestBatch:
        """Merge batches, re-sorted by (arrival, source), stable with ``self`` first.

        Ids are kept as they are; renumber if the inputs came from separate generators.
        """
        parts = (self, *others)
        merged = {f: np.concatenate([getattr(p, f) for p in parts]) for f in self._FIELDS}
        order = np.lexsort((merged["source"], merged["arrival"]))
        return RequestBatch(*(merged[f][order] for f in self._FIELDS))

    def select(self, mask_or_idx: npt.ArrayLike) -> RequestBatch:
        """Sub-batch from a boolean mask of length R or distinct integer indices.

        Integer indices are sorted first, so the result stays sorted.
        """
        key = np.asarray(mask_or_idx)
        if key.dtype == np.bool_:
            if key.shape != (len(self),):
                raise ValueError(f"mask_or_idx: boolean mask must have shape ({len(self)},)")
            return self._take(key)
        if key.size == 0:
            return RequestBatch.empty()
        if not np.issubdtype(key.dtype, np.integer) or key.ndim != 1:
            raise ValueError("mask_or_idx must be a 1-D boolean mask or integer index array")
        idx = key.astype(np.int64)
        if idx.min() < -len(self) or idx.max() >= len(self):
            raise ValueError(f"mask_or_idx: indices must be in [-{len(self)}, {len(self)})")
        idx = np.sort(np.where(idx < 0, idx + len(self), idx))
        if np.any(idx[1:] == idx[:-1]):
            raise ValueError("mask_or_idx: integer indices must be distinct")
        return self._take(idx)

    def in_slots(self, lo: int, hi: int) -> RequestBatch:
        """Requests arriving in slots ``lo <= arrival < hi``."""
        start, stop = np.searchsorted(self.arrival, [lo, hi], side="left")
        return self._take(np.arange(start, stop, dtype=np.int64))

    def to_trace(self, dt: float = DEFAULT_DT) -> Trace:
        """Trace of the arrivals; timestamp = midpoint of the arrival slot, (arrival - 0.5)·dt s."""
        dt = _check_positive("dt", dt)
        stamp = (self.arrival.astype(np.float64) - 0.5) * dt
        return Trace(stamp, self.source, self.destination, self.f_min)


# --------------------------------------------------------------------------- temporal processes


class TemporalProcess(ABC):
    """Per-node arrival intensity in requests/s, slot by slot.

    ``a * b`` gives :class:`Modulated`: ``a``'s rates times ``b``'s rates / ``b.mean_rate``.
    """

    @property
    @abstractmethod
    def mean_rate(self) -> float:
        """Long-run mean intensity per node (requests/s)."""

    @abstractmethod
    def rates(
        self, n_slots: int, n_nodes: int, rng: np.random.Generator, *, dt: float = DEFAULT_DT
    ) -> FloatArray:
        """Intensities (requests/s), shape ``(n_slots, n_nodes)``; row t is slot t + 1."""

    def __mul__(self, other: TemporalProcess) -> Modulated:
        if not isinstance(other, TemporalProcess):
            return NotImplemented
        if isinstance(self, Modulated):
            return Modulated(self.base, *self.factors, other)
        return Modulated(self, other)


def _check_grid(n_slots: int, n_nodes: int, dt: float) -> None:
    _check_int("n_slots", n_slots, 1)
    _check_int("n_nodes", n_nodes, 1)
    _check_positive("dt", dt)


class Poisson(TemporalProcess):
    """Homogeneous Poisson arrivals at ``rate`` requests/s per node."""

    def __init__(self, rate: float) -> None:
        self.rate = _check_nonneg("rate", rate)

    def __repr__(self) -> str:
        return f"Poisson(rate={self.rate})"

    @property
    def mean_rate(self) -> float:
        return self.rate

    def rates(
        self, n_slots: int, n_nodes: int, rng: np.random.Generator, *, dt: float = DEFAULT_DT
    ) -> FloatArray:
        _check_grid(n_slots, n_nodes, dt)
        return np.full((n_slots, n_nodes), self.rate)


class Diurnal(TemporalProcess):
    """Sinusoidal rate ``mean_rate·(1 + amplitude·sin(2π t / period_s + phase))`` requests/s.

    ``t`` is the midpoint of the slot, (slot - 0.5)·dt s. ``phase`` (rad) is one value for
    all nodes, an array of one value per node, or ``None``: uniform in [0, 2π) per node,
    drawn from ``rng`` at every call of :meth:`rates`.
    """

    def __init__(
        self,
        mean_rate: float,
        amplitude: float,
        period_s: float = 86400.0,
        phase: float | npt.ArrayLike | None = None,
    ) -> None:
        self._mean_rate = _check_nonneg("mean_rate", mean_rate)
        self.amplitude = _check_unit("amplitude", amplitude)
        self.period_s = _check_positive("period_s", period_s)
        self.phase = None if phase is None else np.asarray(phase, dtype=np.float64)
        if self.phase is not None and (self.phase.ndim > 1 or not np.all(np.isfinite(self.phase))):
            raise ValueError("phase must be None, a finite float or a 1-D array of floats (rad)")

    def __repr__(self) -> str:
        return (
            f"Diurnal(mean_rate={self._mean_rate}, amplitude={self.amplitude}, "
            f"period_s={self.period_s}, phase={self.phase})"
        )

    @property
    def mean_rate(self) -> float:
        return self._mean_rate

    def rates(
        self, n_slots: int, n_nodes: int, rng: np.random.Generator, *, dt: float = DEFAULT_DT
    ) -> FloatArray:
        _check_grid(n_slots, n_nodes, dt)
        if self.phase is None:
            phase = rng.uniform(0.0, 2 * np.pi, size=n_nodes)
        elif self.phase.ndim == 1 and self.phase.size != n_nodes:
            raise ValueError(f"phase has {self.phase.size} values, expected n_nodes={n_nodes}")
        else:
            phase = np.broadcast_to(self.phase, (n_nodes,))
        t = (np.arange(n_slots, dtype=np.float64) + 0.5) * dt
        angle = 2 * np.pi * t[:, None] / self.period_s + phase[None, :]
        return np.maximum(self._mean_rate * (1.0 + self.amplitude * np.sin(angle)), 0.0)


class Bursty(TemporalProcess):
    """Markov-modulated Poisson process: each node is OFF (``low_rate``) or ON (``high_rate``).

    Per slot, an OFF node turns ON with probability ``p_on`` and an ON node turns OFF with
    ``p_off`` (so these depend on ``dt``). Nodes are independent and start in the stationary
    distribution, P(ON) = p_on / (p_on + p_off). Sampled by drawing geometric sojourn times,
    vectorised over nodes (no loop over slots).
    """

    def __init__(self, low_rate: float, high_rate: float, p_on: float, p_off: float) -> None:
        self.low_rate = _check_nonneg("low_rate", low_rate)
        self.high_rate = _check_nonneg("high_rate", high_rate)
        self.p_on = _check_unit("p_on", p_on)
        self.p_off = _check_unit("p_off", p_off)
        if self.p_on + self.p_off == 0:
            raise ValueError("p_on + p_off must be > 0 (use Poisson for a constant rate)")

    def __repr__(self) -> str:
        return (
            f"Bursty(low_rate={self.low_rate}, high_rate={self.high_rate}, "
            f"p_on={self.p_on}, p_off={self.p_off})"
        )

    @property
    def on_fraction(self) -> float:
        """Stationary probability of the ON state."""
        return self.p_on / (self.p_on + self.p_off)

    @property
    def mean_rate(self) -> float:
        pi = self.on_fraction
        return pi * self.high_rate + (1 - pi) * self.low_rate

    def states(self, n_slots: int, n_nodes: int, rng: np.random.Generator) -> BoolArray:
        """ON/OFF state of each node in each slot, shape ``(n_slots, n_nodes)``."""
        _check_grid(n_slots, n_nodes, DEFAULT_DT)
        on0 = rng.random(n_nodes) < self.on_fraction
        # Sojourns are geometric(p_leave); p_leave = 0 means the node never leaves that state.
        mean_sojourn = 0.5 * sum(1 / p if p > 0 else n_slots for p in (self.p_on, self.p_off))
        chunk = min(n_slots, math.ceil(1.5 * n_slots / mean_sojourn) + 16)
        ends: list[IntArray] = []
        last = np.zeros(n_nodes, dtype=np.int64)
        done = 0
        while last.min() < n_slots:  # one pass almost always; loops over regime switches
            on = on0[:, None] ^ (np.arange(done, done + chunk) % 2 == 1)[None, :]
            p_leave = np.where(on, self.p_off, self.p_on)
            stay = rng.geometric(np.where(p_leave > 0, p_leave, 1.0))
            stay = np.where(p_leave > 0, np.minimum(stay, n_slots), n_slots).astype(np.int64)
            block = last[:, None] + np.cumsum(stay, axis=1)
            ends.append(block)
            last = block[:, -1]
            done += chunk
        switch = np.concatenate(ends, axis=1)
        node, _ = np.nonzero(switch < n_slots)
        toggles = np.zeros((n_nodes, n_slots), dtype=np.bool_)
        toggles[node, switch[switch < n_slots]] = True
        state = on0[:, None] ^ np.logical_xor.accumulate(toggles, axis=1)
        return np.ascontiguousarray(state.T)

    def rates(
        self, n_slots: int, n_nodes: int, rng: np.random.Generator, *, dt: float = DEFAULT_DT
    ) -> FloatArray:
        _check_grid(n_slots, n_nodes, dt)
        return np.where(self.states(n_slots, n_nodes, rng), self.high_rate, self.low_rate)


class Modulated(TemporalProcess):
    """``base`` rates multiplied by the shape of each factor (its rates / its mean rate).

    The mean rate is that of ``base`` (exact when the factors are independent of it);
    factors need a positive mean rate. Random draws happen in order base, factors.
    """

    def __init__(self, base: TemporalProcess, *factors: TemporalProcess) -> None:
        if not factors:
            raise ValueError("factors: Modulated needs at least one factor")
        for f in factors:
            if f.mean_rate <= 0:
                raise ValueError(f"factors: {f!r} has mean rate 0, cannot normalise its shape")
        self.base = base
        self.factors = factors

    def __repr__(self) -> str:
        return " * ".join(repr(p) for p in (self.base, *self.factors))

    @property
    def mean_rate(self) -> float:
        return self.base.mean_rate

    def rates(
        self, n_slots: int, n_nodes: int, rng: np.random.Generator, *, dt: float = DEFAULT_DT
    ) -> FloatArray:
        out = self.base.rates(n_slots, n_nodes, rng, dt=dt)
        for f in self.factors:
            out = out * (f.rates(n_slots, n_nodes, rng, dt=dt) / f.mean_rate)
        return out


# --------------------------------------------------------------------------- spatial models


class SpatialModel(ABC):
    """Who sends, and to whom: source load weights and destination probabilities."""

    @abstractmethod
    def weights(self, n_nodes: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """``(w, P)``: source rate multipliers ``w`` (n_nodes,), mean 1, and ``P[s, d]`` =
        P(destination d | source s), shape (n_nodes, n_nodes), rows sum to 1, zero diagonal."""

    def destinations(
        self, source: IntArray, prob: FloatArray, rng: np.random.Generator
    ) -> IntArray:
        """Draw one destination per request from row ``source`` of ``prob`` (inverse CDF)."""
        n = prob.shape[0]
        cdf = np.cumsum(prob, axis=1)
        cdf /= cdf[:, -1:]  # last entry exactly 1; zero-probability columns stay empty
        # All rows in one monotone array: row s occupies (s, s + 1].
        flat = (cdf + np.arange(n, dtype=np.float64)[:, None]).ravel()
        u = rng.random(source.size)
        dest = np.searchsorted(flat, source + u, side="right") - source * n
        # Guard the rounding of s + u up to s + 1: fall back to the last allowed column.
        last_ok: IntArray = n - 1 - np.argmax(prob[:, ::-1] > 0, axis=1)
        out: IntArray = np.minimum(dest, last_ok[source]).astype(np.int64)
        return out


class Uniform(SpatialModel):
    """Every node sends at the same rate, to a destination uniform over the other nodes."""

    def __repr__(self) -> str:
        return "Uniform()"

    def weights(self, n_nodes: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        _check_int("n_nodes", n_nodes, 2)
        prob = np.full((n_nodes, n_nodes), 1.0 / (n_nodes - 1))
        np.fill_diagonal(prob, 0.0)
        return np.ones(n_nodes), prob

    def destinations(
        self, source: IntArray, prob: FloatArray, rng: np.random.Generator
    ) -> IntArray:
        other = rng.integers(0, prob.shape[0] - 1, size=source.size, dtype=np.int64)
        return other + (other >= source)


class Gravity(SpatialModel):
    """Production-constrained gravity model with node "popularity" masses.

    Source s sends at ``m_s`` times the temporal rate and picks destination d with
    ``P(d | s) ∝ m_d / dist(s, d)**exponent`` (d != s), so the mean flow s→d is
    ∝ m_s·m_d / dist**exponent normalised per source. Masses are rescaled to mean 1, so the
    total load equals n_nodes × the temporal rate. ``mass=None`` draws lognormal(0, sigma)
    masses from ``rng`` at every :meth:`weights` call (pass ``mass`` to keep them fixed).
    ``distance`` (any unit: hops, km) is an (n, n) matrix with positive finite off-diagonal
    entries; ``None`` means all distances 1.
    """

    def __init__(
        self,
        mass: npt.ArrayLike | None = None,
        exponent: float = 1.0,
        distance: npt.ArrayLike | None = None,
        sigma: float = 1.0,
    ) -> None:
        self.mass = None if mass is None else np.asarray(mass, dtype=np.float64)
        if self.mass is not None and (
            self.mass.ndim != 1 or not np.all(np.isfinite(self.mass)) or np.any(self.mass <= 0)
        ):
            raise ValueError("mass must be a 1-D array of finite values > 0 (or None)")
        if not math.isfinite(exponent):
            raise ValueError(f"exponent must be finite, got {exponent!r}")
        self.exponent = float(exponent)
        self.distance = None if distance is None else np.asarray(distance, dtype=np.float64)
        if self.distance is not None:
            d = self.distance
            off = ~np.eye(d.shape[0], dtype=np.bool_) if d.ndim == 2 else None
            if (
                off is None
                or d.shape[0] != d.shape[1]
                or not np.all(np.isfinite(d[off]))
                or np.any(d[off] <= 0)
            ):
                raise ValueError(
                    "distance must be a square matrix with finite off-diagonal entries > 0"
                )
        self.sigma = _check_nonneg("sigma", sigma)

    def __repr__(self) -> str:
        return (
            f"Gravity(mass={self.mass}, exponent={self.exponent}, "
            f"distance={'None' if self.distance is None else 'matrix'}, sigma={self.sigma})"
        )

    def weights(self, n_nodes: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        _check_int("n_nodes", n_nodes, 2)
        if self.mass is None:
            mass = rng.lognormal(0.0, self.sigma, size=n_nodes)
        elif self.mass.size != n_nodes:
            raise ValueError(f"mass has {self.mass.size} values, expected n_nodes={n_nodes}")
        else:
            mass = self.mass
        mass = mass / mass.mean()
        attract = np.broadcast_to(mass[None, :], (n_nodes, n_nodes)).copy()
        if self.distance is not None:
            if self.distance.shape != (n_nodes, n_nodes):
                raise ValueError(
                    f"distance has shape {self.distance.shape}, expected ({n_nodes}, {n_nodes})"
                )
            off = ~np.eye(n_nodes, dtype=np.bool_)
            attract[off] /= self.distance[off] ** self.exponent
        np.fill_diagonal(attract, 0.0)
        return mass, attract / attract.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- generators


class RequestGenerator(Protocol):
    """Anything that produces the requests of an episode (:class:`TrafficModel`,
    :class:`TraceReplay`)."""

    def generate(self, n_nodes: int, n_slots: int, rng: np.random.Generator) -> RequestBatch:
        """Requests arriving in slots 1..n_slots, ids 0..R-1."""
        ...


class TrafficModel:
    """Synthetic requests: temporal process × spatial model.

    Per slot and source, the count is Poisson(rate·w_s·dt) with ``rate`` from ``temporal``
    (requests/s) and ``w_s`` the spatial source weight. ``f_min`` is a fidelity or a
    (low, high) range drawn uniformly; ``n_pairs`` and ``deadline_slots`` are integers or
    inclusive (lo, hi) ranges drawn uniformly; deadline = arrival + deadline_slots. ``dt`` is
    the slot length (s).
    """

    def __init__(
        self,
        temporal: TemporalProcess,
        spatial: SpatialModel | None = None,
        f_min: float | tuple[float, float] = (0.5, 0.9),
        n_pairs: int | tuple[int, int] = 1,
        deadline_slots: int | tuple[int, int] = 100,
        dt: float = DEFAULT_DT,
    ) -> None:
        if not isinstance(temporal, TemporalProcess):
            raise ValueError(f"temporal must be a TemporalProcess, got {temporal!r}")
        self.temporal = temporal
        self.spatial = Uniform() if spatial is None else spatial
        self.f_min = _float_range("f_min", f_min)
        self.n_pairs = _int_range("n_pairs", n_pairs, 1)
        self.deadline_slots = _int_range("deadline_slots", deadline_slots, 0)
        self.dt = _check_positive("dt", dt)

    def __repr__(self) -> str:
        return (
            f"TrafficModel({self.temporal!r}, {self.spatial!r}, f_min={self.f_min}, "
            f"n_pairs={self.n_pairs}, deadline_slots={self.deadline_slots}, dt={self.dt})"
        )

    def generate(self, n_nodes: int, n_slots: int, rng: np.random.Generator) -> RequestBatch:
        """Requests arriving in slots 1..n_slots over ``n_nodes`` nodes, ids 0..R-1."""
        n_nodes = _check_int("n_nodes", n_nodes, 2)
        n_slots = _check_int("n_slots", n_slots, 1)
        weight, prob = self.spatial.weights(n_nodes, rng)
        rate = self.temporal.rates(n_slots, n_nodes, rng, dt=self.dt)
        if rate.shape != (n_slots, n_nodes) or not np.all(np.isfinite(rate)) or np.any(rate < 0):
            raise ValueError(f"{self.temporal!r} returned invalid rates (shape or negative)")
        counts = rng.poisson(rate * weight[None, :] * self.dt)
        # C order: slot-major then node, so the expansion is sorted by (arrival, source).
        cell = np.repeat(np.arange(n_slots * n_nodes, dtype=np.int64), counts.ravel())
        arrival = cell // n_nodes + 1
        source = cell % n_nodes
        r = cell.size
        return RequestBatch(
            id=np.arange(r, dtype=np.int64),
            source=source,
            destination=self.spatial.destinations(source, prob, rng),
            f_min=_draw_float(self.f_min, r, rng),
            n_pairs=_draw_int(self.n_pairs, r, rng),
            arrival=arrival,
            deadline=arrival + _draw_int(self.deadline_slots, r, rng),
        )


class TraceReplay:
    """Replays a :class:`Trace` as requests: slot = floor((timestamp - start_s) / dt) + 1.

    Rows before ``start_s`` or past slot ``n_slots`` are dropped; ``f_min`` = the trace
    fidelity; ``n_pairs`` and ``deadline_slots`` as in :class:`TrafficModel`. ``rng`` is
    only used when those are ranges.
    """

    def __init__(
        self,
        trace: Trace,
        dt: float = DEFAULT_DT,
        n_pairs: int | tuple[int, int] = 1,
        deadline_slots: int | tuple[int, int] = 100,
        start_s: float = 0.0,
    ) -> None:
        self.trace = trace
        self.dt = _check_positive("dt", dt)
        self.n_pairs = _int_range("n_pairs", n_pairs, 1)
        self.deadline_slots = _int_range("deadline_slots", deadline_slots, 0)
        self.start_s = _check_nonneg("start_s", start_s)

    def generate(self, n_nodes: int, n_slots: int, rng: np.random.Generator) -> RequestBatch:
        """Requests of the trace arriving in slots 1..n_slots, ids 0..R-1."""
        n_nodes = _check_int("n_nodes", n_nodes, 2)
        n_slots = _check_int("n_slots", n_slots, 1)
        tr = self.trace
        rel = (tr.timestamp - self.start_s) / self.dt
        slot = np.floor(rel + _SLOT_EPS).astype(np.int64) + 1
        keep = (rel >= -_SLOT_EPS) & (slot <= n_slots)
        src, dst = tr.source[keep], tr.destination[keep]
        if src.size and max(int(src.max()), int(dst.max())) >= n_nodes:
            bad = max(int(src.max()), int(dst.max()))
            raise ValueError(f"trace: unknown node {bad} (allowed range [0, {n_nodes}))")
        arrival = slot[keep]
        order = np.lexsort((src, arrival))
        r = order.size
        arrival = arrival[order]
        return RequestBatch(
            id=np.arange(r, dtype=np.int64),
            source=src[order],
            destination=dst[order],
            f_min=tr.fidelity[keep][order],
            n_pairs=_draw_int(self.n_pairs, r, rng),
            arrival=arrival,
            deadline=arrival + _draw_int(self.deadline_slots, r, rng),
        )


# --------------------------------------------------------------------------- history


class RequestHistory:
    """Accumulates requests (arrived or delivered) as a :class:`Trace` for forecasting.

    ``dt`` (s) converts slots to seconds: a request arriving in slot k at offset
    ``slot_offset`` gets timestamp (slot_offset + k - 0.5)·dt.
    """

    def __init__(self, dt: float = DEFAULT_DT) -> None:
        self.dt = _check_positive("dt", dt)
        self._parts: list[Trace] = []
        self._cache: Trace | None = None

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts)

    def append(self, batch: RequestBatch, slot_offset: int = 0) -> None:
        """Record ``batch``, its slots shifted by ``slot_offset`` (e.g. past episodes' slots)."""
        slot_offset = _check_int("slot_offset", slot_offset, 0)
        tr = batch.to_trace(self.dt)
        if slot_offset:
            tr = Trace(tr.timestamp + slot_offset * self.dt, tr.source, tr.destination, tr.fidelity)
        self._parts.append(tr)
        self._cache = None

    def append_trace(self, trace: Trace) -> None:
        """Record the rows of an existing trace as they are."""
        self._parts.append(trace)
        self._cache = None

    def clear(self) -> None:
        """Forget everything recorded."""
        self._parts.clear()
        self._cache = None

    def to_trace(self) -> Trace:
        """All recorded requests, sorted by timestamp."""
        if self._cache is None:
            self._cache = Trace.empty().concat(*self._parts) if self._parts else Trace.empty()
            self._parts = [self._cache]
        return self._cache

    def counts(
        self,
        n_nodes: int,
        window_s: float,
        t_end: float | None = None,
        by: Literal["source", "destination"] = "source",
    ) -> IntArray:
        """Requests per window and node, shape (n_windows, n_nodes).

        Window i covers [i·window_s, (i + 1)·window_s) s; ``t_end`` (s, default just past
        the last timestamp) sets n_windows = ceil(t_end / window_s); rows in later windows are
        ignored.
        Nodes are the request sources (``by="source"``) or destinations.
        """
        n_nodes = _check_int("n_nodes", n_nodes, 1)
        window_s = _check_positive("window_s", window_s)
        if by not in ("source", "destination"):
            raise ValueError(f"by must be 'source' or 'destination', got {by!r}")
        tr = self.to_trace()
        node = tr.source if by == "source" else tr.destination
        if node.size and int(node.max()) >= n_nodes:
            raise ValueError(f"n_nodes={n_nodes} but the history has node {int(node.max())}")
        win = np.floor(tr.timestamp / window_s).astype(np.int64)
        if t_end is None:
            n_windows = int(win[-1]) + 1 if win.size else 0
        else:
            n_windows = math.ceil(_check_nonneg("t_end", t_end) / window_s)
        keep = win < n_windows
        flat = win[keep] * n_nodes + node[keep]
        return np.bincount(flat, minlength=n_windows * n_nodes).reshape(n_windows, n_nodes)
