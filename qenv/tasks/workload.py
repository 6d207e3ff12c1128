"""Quantum tasks for the QPU-allocation environment: circuit library, arrivals, workloads.

A task is a request, arriving at an edge gateway, to run one circuit with some shots,
a priority and a deadline. Circuits are built once per workload into a
:class:`CircuitLibrary` (24–48 instances across families and sizes), and tasks refer to
them by index, so that routing and scores are computed once per (circuit, device) and
nothing heavy happens per task. Tasks come as a :class:`TaskBatch` (struct of arrays,
sorted by arrival). Units: seconds, tasks/s.

Arrivals, per gateway and independent between gateways:

* :class:`PoissonArrivals` — homogeneous Poisson process of rate λ (tasks/s).
* :class:`BurstyArrivals` — a two-state Markov-modulated Poisson process (MMPP-2;
  Fischer & Meier-Hellstern 1993, Perform. Eval. 18, 149): a hidden calm/burst state
  with exponential sojourns of means ``mean_calm_s`` / ``mean_burst_s`` and Poisson
  arrivals at ``calm_rate`` / ``burst_rate`` within each. The state at t = 0 is drawn
  from the stationary law (burst with probability ``mean_burst / (mean_calm +
  mean_burst)``), so the process is stationary from the start; the mean rate is the
  sojourn-weighted mean of the two rates and counts are over-dispersed
  (variance/mean > 1 whenever the rates differ).

Task attributes (:class:`Workload`):

* circuit: a family drawn with the family weights, then an instance of that family
  uniformly from the library;
* shots: drawn from a categorical distribution (e.g. 1000/2000/4000);
* priority: integer class 1 = low, 2 = normal, 3 = high (categorical);
* deadline: ``arrival + slack × nominal runtime``, slack ~ U(low, high), where the
  nominal runtime is that of the circuit and shots on a reference superconducting
  device, ``NOMINAL_JOB_OVERHEAD_S + shots × (NOMINAL_REP_DELAY_S + depth ×
  NOMINAL_LAYER_S + NOMINAL_READOUT_S)``: a 1000-shot job of a small circuit takes
  ≈ 0.4 s, as on IBM Eagle/Heron devices (250 µs default repetition delay, gate layers
  of ≈ 0.4 µs, a few µs of readout). It only scales deadlines with job size; the
  executed runtime comes from the routed circuit on the chosen device
  (``qenv.execution``). ``deadline_slack=None`` means no deadlines (+inf).

Workload files: ``configs/workloads/<name>.yaml``, read by :func:`load_workload` (the
schema is in ``configs/workloads/README.md``). Every problem is a :class:`WorkloadError`
(a ``ValueError``) whose message starts with the file and the key path, e.g.
``configs/workloads/x.yaml: families.qaoa_maxcut.weight: must be >= 0, got -1``.
Every random function takes a ``numpy.random.Generator``; ``load_workload``'s seed
builds the library, and ``Workload.generate``'s generator draws the tasks.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int
from qenv.config import CONFIG_DIR_ENV, config_names, display_path, read_yaml, resolve
from qenv.tasks.circuits import FAMILIES, Circuit, circuit_from_family
from qenv.tasks.qasm import QasmError, load_qasm

__all__ = [
    "CONFIG_DIR_ENV",
    "NOMINAL_JOB_OVERHEAD_S",
    "NOMINAL_LAYER_S",
    "NOMINAL_READOUT_S",
    "NOMINAL_REP_DELAY_S",
    "TASK_COLUMNS",
    "ArrivalProcess",
    "BurstyArrivals",
    "Categorical",
    "CircuitLibrary",
    "FamilySpec",
    "PoissonArrivals",
    "TaskBatch",
    "Workload",
    "WorkloadError",
    "load_workload",
    "workload_names",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Reference superconducting timings for the nominal runtime (deadline scale only), s.
NOMINAL_JOB_OVERHEAD_S: Final = 0.1
NOMINAL_REP_DELAY_S: Final = 250e-6
NOMINAL_LAYER_S: Final = 0.4e-6
NOMINAL_READOUT_S: Final = 4e-6

#: Columns of a :class:`TaskBatch`, in order.
TASK_COLUMNS: Final = ("arrival_s", "gateway", "circuit", "shots", "priority", "deadline_s")
_DTYPES: Final = {
    c: np.float64 if c in ("arrival_s", "deadline_s") else np.int64 for c in TASK_COLUMNS
}


# --------------------------------------------------------------------------- library


@dataclass(frozen=True)
class FamilySpec:
    """How many circuits of one family the library holds, and how often tasks use them.

    ``sizes``: the generator's size per entry (nodes, cities, qubits, ``"h2"``/``"lih"``
    for VQE, or file paths for ``qasm``); ``instances`` circuits per size (random
    families only; ``ghz`` is deterministic and ``qasm`` reads one circuit per file);
    ``kwargs`` go to the generator (``p``, ``edge_prob``, ``angles``, ``layers``, …).
    """

    family: str
    weight: float
    sizes: tuple[int | str | os.PathLike[str], ...]
    instances: int = 1
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        _check_nonneg("weight", self.weight)
        if not self.sizes:
            raise ValueError(f"sizes of {self.family} must not be empty")
        check_positive_int("instances", self.instances, 1)
        if self.family in ("ghz", "qasm") and self.instances != 1:
            raise ValueError(f"instances must be 1 for {self.family} (its circuits are not random)")


@dataclass(frozen=True, eq=False)
class CircuitLibrary:
    """The circuits tasks refer to by index, with per-circuit arrays for fast lookups.

    ``families`` lists the families present (in spec order); ``family_index[i]`` is
    circuit ``i``'s position in it. ``nominal_shot_s`` is the per-shot time on the
    reference device (module docstring). Names of generated circuits end in ``_s{k}``,
    the instance number within their (family, size).
    """

    circuits: tuple[Circuit, ...]
    families: tuple[str, ...] = field(init=False)
    family_index: IntArray = field(init=False)  # (n_circuits,)
    num_qubits: IntArray = field(init=False)  # (n_circuits,)
    nominal_shot_s: FloatArray = field(init=False)  # (n_circuits,)

    def __post_init__(self) -> None:
        circuits = tuple(self.circuits)
        if not circuits:
            raise ValueError("a CircuitLibrary needs at least one circuit")
        if not all(isinstance(c, Circuit) for c in circuits):
            raise ValueError("circuits must all be qenv.tasks.Circuit instances")
        families = tuple(dict.fromkeys(c.family for c in circuits))
        position = {f: i for i, f in enumerate(families)}
        depth = np.array([c.features()["depth"] for c in circuits])
        shot = NOMINAL_REP_DELAY_S + depth * NOMINAL_LAYER_S + NOMINAL_READOUT_S
        object.__setattr__(self, "circuits", circuits)
        object.__setattr__(self, "families", families)
        object.__setattr__(
            self, "family_index", _frozen(np.array([position[c.family] for c in circuits]))
        )
        object.__setattr__(self, "num_qubits", _frozen(np.array([c.num_qubits for c in circuits])))
        object.__setattr__(self, "nominal_shot_s", _frozen(shot.astype(np.float64)))

    @classmethod
    def build(
        cls, specs: Sequence[FamilySpec], rng: np.random.Generator, base_dir: Path | None = None
    ) -> CircuitLibrary:
        """Generate every (family, size, instance) in spec order from ``rng``.

        Relative ``qasm`` paths are resolved against ``base_dir`` (default: as given).
        """
        circuits: list[Circuit] = []
        for spec in specs:
            for size in spec.sizes:
                if spec.family == "qasm":
                    if not isinstance(size, str | os.PathLike):
                        raise ValueError(f"qasm sizes must be file paths, got {size!r}")
                    path = Path(os.fspath(size))
                    if base_dir is not None and not path.is_absolute():
                        path = base_dir / path
                    circuits.append(load_qasm(path, **spec.kwargs))
                    continue
                for k in range(spec.instances):
                    c = circuit_from_family(spec.family, size, rng=rng, **spec.kwargs)
                    circuits.append(c.renamed(f"{c.name}_s{k}"))
        return cls(tuple(circuits))

    def __len__(self) -> int:
        return len(self.circuits)

    def __getitem__(self, index: int) -> Circuit:
        return self.circuits[index]

    def __iter__(self) -> Iterator[Circuit]:
        return iter(self.circuits)

    @property
    def keys(self) -> tuple[str, ...]:
        """Content keys, one per circuit."""
        return tuple(c.key for c in self.circuits)

    def indices(self, family: str) -> IntArray:
        """Indices of the circuits of ``family`` (empty if absent)."""
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
        if family not in self.families:
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(self.family_index == self.families.index(family)).astype(np.int64)


def _frozen(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


# --------------------------------------------------------------------------- task batch


@dataclass(frozen=True, eq=False)
class TaskBatch:
    """Tasks as a struct of read-only arrays, rows sorted by arrival (stable).

    ``arrival_s`` (s, >= 0), ``gateway`` (id >= 0), ``circuit`` (index into the
    :class:`CircuitLibrary`), ``shots`` (>= 1), ``priority`` (1 = low, 2 = normal,
    3 = high; any integer >= 1 is accepted, larger = more urgent) and ``deadline_s``
    (absolute, s, >= arrival; +inf = none). The constructor validates and sorts;
    :meth:`slice` and :meth:`for_gateway` return views without re-validation.
    """

    arrival_s: FloatArray
    gateway: IntArray
    circuit: IntArray
    shots: IntArray
    priority: IntArray
    deadline_s: FloatArray

    def __post_init__(self) -> None:
        cols = {name: np.array(getattr(self, name), dtype=_DTYPES[name]) for name in TASK_COLUMNS}
        n = cols["arrival_s"].shape
        for name, col in cols.items():
            if col.ndim != 1 or col.shape != n:
                raise ValueError(f"{name} must be 1-D with {n[0]} rows, got shape {col.shape}")
        arrival, deadline = cols["arrival_s"], cols["deadline_s"]
        if not np.all(np.isfinite(arrival)) or np.any(arrival < 0):
            raise ValueError("arrival_s must be finite and >= 0 (s)")
        if np.any(np.isnan(deadline)) or np.any(deadline < arrival):
            raise ValueError("deadline_s must be >= arrival_s (s; +inf for none)")
        for name, low in (("gateway", 0), ("circuit", 0), ("shots", 1), ("priority", 1)):
            if np.any(cols[name] < low):
                raise ValueError(f"{name} must be >= {low}")
        if np.any(arrival[1:] < arrival[:-1]):
            order = np.argsort(arrival, kind="stable")
            cols = {name: col[order] for name, col in cols.items()}
        for name, col in cols.items():
            object.__setattr__(self, name, _frozen(col))

    @classmethod
    def _trusted(cls, cols: Mapping[str, npt.NDArray[Any]]) -> TaskBatch:
        """A batch from already valid, sorted, read-only arrays (no checks, no copies)."""
        batch = object.__new__(cls)
        batch.__dict__.update(cols)  # frozen: bypass __setattr__, as dataclasses do
        return batch

    @classmethod
    def empty(cls) -> TaskBatch:
        """A batch with no tasks."""
        f, i = np.empty(0), np.empty(0, dtype=np.int64)
        return cls(f, i, i, i, i, f)

    def __len__(self) -> int:
        return int(self.arrival_s.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskBatch):
            return NotImplemented
        return all(np.array_equal(getattr(self, c), getattr(other, c)) for c in TASK_COLUMNS)

    __hash__ = None  # type: ignore[assignment]

    def slice(self, t0: float, t1: float) -> TaskBatch:
        """Tasks with ``t0 <= arrival_s < t1`` (binary search; views of the arrays)."""
        arrival = self.arrival_s
        lo, hi = int(arrival.searchsorted(t0)), int(arrival.searchsorted(t1))
        d = self.__dict__
        return TaskBatch._trusted({c: d[c][lo:hi] for c in TASK_COLUMNS})

    def for_gateway(self, gateway: int) -> TaskBatch:
        """Tasks of one gateway, still sorted by arrival."""
        mask = self.gateway == gateway
        return TaskBatch._trusted({c: _frozen(getattr(self, c)[mask]) for c in TASK_COLUMNS})


# --------------------------------------------------------------------------- arrivals


@runtime_checkable
class ArrivalProcess(Protocol):
    """Arrival times of tasks at each gateway (independent across gateways)."""

    @property
    def mean_rate(self) -> float:
        """Long-run mean rate per gateway, tasks/s."""
        ...

    def sample(
        self, duration_s: float, n_gateways: int, rng: np.random.Generator
    ) -> tuple[FloatArray, IntArray]:
        """(arrival times in [0, duration_s), gateway ids), in no particular order."""
        ...


def _check_rng(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _check_positive(name: str, value: object) -> float:
    v = _real(name, value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return v


def _check_nonneg(name: str, value: object) -> float:
    v = _real(name, value)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return v


@dataclass(frozen=True)
class PoissonArrivals:
    """Homogeneous Poisson arrivals at ``rate_per_s`` tasks/s per gateway."""

    rate_per_s: float

    def __post_init__(self) -> None:
        _check_nonneg("rate_per_s", self.rate_per_s)

    @property
    def mean_rate(self) -> float:
        return float(self.rate_per_s)

    def sample(
        self, duration_s: float, n_gateways: int, rng: np.random.Generator
    ) -> tuple[FloatArray, IntArray]:
        duration_s = _check_nonneg("duration_s", duration_s)
        n_gateways = check_positive_int("n_gateways", n_gateways, 1)
        _check_rng(rng)
        counts = rng.poisson(self.rate_per_s * duration_s, size=n_gateways)
        times = rng.uniform(0.0, duration_s, size=int(counts.sum()))
        return times, np.repeat(np.arange(n_gateways, dtype=np.int64), counts)


@dataclass(frozen=True)
class BurstyArrivals:
    """Two-state Markov-modulated Poisson arrivals (module docstring), tasks/s and s."""

    calm_rate_per_s: float
    burst_rate_per_s: float
    mean_calm_s: float
    mean_burst_s: float

    def __post_init__(self) -> None:
        _check_nonneg("calm_rate_per_s", self.calm_rate_per_s)
        _check_nonneg("burst_rate_per_s", self.burst_rate_per_s)
        _check_positive("mean_calm_s", self.mean_calm_s)
        _check_positive("mean_burst_s", self.mean_burst_s)

    @property
    def burst_fraction(self) -> float:
        """Stationary probability of the burst state."""
        return self.mean_burst_s / (self.mean_calm_s + self.mean_burst_s)

    @property
    def mean_rate(self) -> float:
        b = self.burst_fraction
        return (1.0 - b) * self.calm_rate_per_s + b * self.burst_rate_per_s

    def sample(
        self, duration_s: float, n_gateways: int, rng: np.random.Generator
    ) -> tuple[FloatArray, IntArray]:
        duration_s = _check_nonneg("duration_s", duration_s)
        n_gateways = check_positive_int("n_gateways", n_gateways, 1)
        _check_rng(rng)
        means = np.array([self.mean_calm_s, self.mean_burst_s])
        rates = np.array([self.calm_rate_per_s, self.burst_rate_per_s])
        first = (rng.random(n_gateways) < self.burst_fraction).astype(np.int64)
        # Sojourns alternate between the states; draw them in chunks (one row per gateway)
        # until every gateway's sojourns cover the duration.
        chunk = max(8, math.ceil(2.5 * duration_s / float(means.sum())))
        states: list[IntArray] = []
        lengths: list[FloatArray] = []
        covered = np.zeros(n_gateways)
        while True:
            k0 = sum(s.shape[1] for s in states)
            state = (first[:, None] + np.arange(k0, k0 + chunk)[None, :]) % 2
            length = rng.exponential(means[state])
            states.append(state)
            lengths.append(length)
            covered += length.sum(axis=1)
            if np.all(covered >= duration_s):
                break
        state = np.concatenate(states, axis=1)
        end = np.cumsum(np.concatenate(lengths, axis=1), axis=1)
        start = np.concatenate([np.zeros((n_gateways, 1)), end[:, :-1]], axis=1)
        span = np.clip(np.minimum(end, duration_s) - start, 0.0, None)
        counts = rng.poisson(rates[state] * span).ravel()
        offsets = rng.random(int(counts.sum()))
        times = np.repeat(start.ravel(), counts) + offsets * np.repeat(span.ravel(), counts)
        gateway = np.repeat(np.repeat(np.arange(n_gateways), state.shape[1]), counts)
        return times, gateway.astype(np.int64)


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True, eq=False)
class Categorical:
    """A distribution over integer ``values`` with probabilities ``probs`` (sum 1)."""

    values: IntArray
    probs: FloatArray

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.int64).reshape(-1)
        probs = np.array(self.probs, dtype=np.float64).reshape(-1)
        if values.size == 0 or values.shape != probs.shape:
            raise ValueError(
                f"values and probs must be non-empty and of equal length, got "
                f"{values.size} and {probs.size}"
            )
        if not np.all(np.isfinite(probs)) or np.any(probs < 0):
            raise ValueError("probs must be finite and >= 0")
        if not math.isclose(float(probs.sum()), 1.0, rel_tol=0, abs_tol=1e-9):
            raise ValueError(f"probs must sum to 1, got {float(probs.sum())!r}")
        object.__setattr__(self, "values", _frozen(values))
        object.__setattr__(self, "probs", _frozen(probs / probs.sum()))

    @classmethod
    def constant(cls, value: int) -> Categorical:
        return cls(np.array([value]), np.array([1.0]))

    @property
    def mean(self) -> float:
        return float(self.values @ self.probs)

    def sample(self, size: int, rng: np.random.Generator) -> IntArray:
        if self.values.size == 1:
            return np.full(size, self.values[0], dtype=np.int64)
        return np.asarray(self.values[rng.choice(self.values.size, size=size, p=self.probs)])


_DEFAULT_PRIORITY: Final = Categorical(np.array([1, 2, 3]), np.array([0.5, 0.3, 0.2]))


@dataclass(frozen=True, eq=False)
class Workload:
    """A task generator: library, arrivals, family weights, shots, priority, deadlines.

    Args:
        library: the circuits.
        arrivals: one process for every gateway, or a sequence with one per gateway.
        family_weights: relative task share per family (>= 0; normalised); every family
            with weight > 0 must be in the library. Default: equal weights over the
            library's families.
        shots: shots per task (default: always 1000).
        priority: priority classes 1..3 (default probabilities 0.5, 0.3, 0.2).
        deadline_slack: ``(low, high)``: deadline = arrival + U(low, high) × nominal
            runtime (module docstring); ``None`` for no deadlines.
    """

    library: CircuitLibrary
    arrivals: ArrivalProcess | tuple[ArrivalProcess, ...]
    family_weights: Mapping[str, float] | None = None
    shots: Categorical = field(default_factory=lambda: Categorical.constant(1000))
    priority: Categorical = _DEFAULT_PRIORITY
    deadline_slack: tuple[float, float] | None = (10.0, 100.0)
    name: str = ""
    description: str = ""
    _family_probs: FloatArray = field(init=False, repr=False)
    _members: IntArray = field(init=False, repr=False)
    _offsets: IntArray = field(init=False, repr=False)
    _counts: IntArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        lib = self.library
        if not isinstance(lib, CircuitLibrary):
            raise ValueError(f"library must be a CircuitLibrary, got {type(lib).__name__}")
        procs = self.arrivals if isinstance(self.arrivals, Sequence) else (self.arrivals,)
        if not procs or not all(isinstance(p, ArrivalProcess) for p in procs):
            raise ValueError("arrivals must be an ArrivalProcess or a sequence of them")
        if isinstance(self.arrivals, Sequence):
            object.__setattr__(self, "arrivals", tuple(self.arrivals))
        weights = dict.fromkeys(lib.families, 1.0) if self.family_weights is None else {}
        for family, w in (self.family_weights or {}).items():
            w = _check_nonneg(f"family_weights[{family!r}]", w)
            if w > 0 and family not in lib.families:
                raise ValueError(
                    f"family_weights[{family!r}] > 0 but the library has no {family} circuit"
                )
            if family in lib.families:
                weights[family] = w
        probs = np.array([weights.get(f, 0.0) for f in lib.families])
        if probs.sum() <= 0:
            raise ValueError("family_weights must give some library family a weight > 0")
        if self.shots.values.min() < 1:
            raise ValueError("shots values must be >= 1")
        if self.priority.values.min() < 1:
            raise ValueError("priority values must be >= 1")
        if self.deadline_slack is not None:
            low, high = (float(v) for v in self.deadline_slack)
            if not (math.isfinite(high) and 0 < low <= high):
                raise ValueError(
                    f"deadline_slack must be (low, high) with 0 < low <= high, "
                    f"got {self.deadline_slack!r}"
                )
            object.__setattr__(self, "deadline_slack", (low, high))
        order = np.argsort(lib.family_index, kind="stable")
        counts = np.bincount(lib.family_index, minlength=len(lib.families))
        object.__setattr__(
            self, "family_weights", dict(zip(lib.families, probs.tolist(), strict=True))
        )
        object.__setattr__(self, "_family_probs", _frozen(probs / probs.sum()))
        object.__setattr__(self, "_members", _frozen(order.astype(np.int64)))
        object.__setattr__(self, "_offsets", _frozen(np.cumsum(counts) - counts))
        object.__setattr__(self, "_counts", _frozen(counts))

    @property
    def n_gateways(self) -> int | None:
        """Gateways fixed by per-gateway arrivals, or None (any number)."""
        return len(self.arrivals) if isinstance(self.arrivals, tuple) else None

    @property
    def mean_rate_per_gateway(self) -> float:
        """Mean arrival rate averaged over gateways, tasks/s."""
        procs = self.arrivals if isinstance(self.arrivals, tuple) else (self.arrivals,)
        return float(np.mean([p.mean_rate for p in procs]))

    def circuit_probabilities(self) -> FloatArray:
        """Probability that a task uses each library circuit, (n_circuits,)."""
        lib = self.library
        per_family = self._family_probs / self._counts
        return np.asarray(per_family[lib.family_index], dtype=np.float64)

    def nominal_runtime_s(self, circuit: npt.ArrayLike, shots: npt.ArrayLike) -> FloatArray:
        """Runtime on the reference device (module docstring), s; broadcasts."""
        shot_s = self.library.nominal_shot_s[np.asarray(circuit, dtype=np.int64)]
        return np.asarray(NOMINAL_JOB_OVERHEAD_S + np.asarray(shots) * shot_s, dtype=np.float64)

    def mean_nominal_runtime_s(self) -> float:
        """Expected nominal runtime of one task, s (exact over circuits and shots)."""
        shot_s = float(self.circuit_probabilities() @ self.library.nominal_shot_s)
        return NOMINAL_JOB_OVERHEAD_S + self.shots.mean * shot_s

    def generate(self, duration_s: float, n_gateways: int, rng: np.random.Generator) -> TaskBatch:
        """Tasks arriving in ``[0, duration_s)`` at gateways ``0..n_gateways-1``.

        Draw order (fixed, so one generator state gives one batch): arrivals (gateway by
        gateway for per-gateway processes), families, instances, shots, priorities,
        slacks.
        """
        duration_s = _check_nonneg("duration_s", duration_s)
        n_gateways = check_positive_int("n_gateways", n_gateways, 1)
        _check_rng(rng)
        if isinstance(self.arrivals, tuple):
            if len(self.arrivals) != n_gateways:
                raise ValueError(
                    f"n_gateways={n_gateways}, but the workload has per-gateway arrivals "
                    f"for {len(self.arrivals)} gateways"
                )
            parts = [p.sample(duration_s, 1, rng) for p in self.arrivals]
            times = np.concatenate([t for t, _ in parts])
            gateway = np.repeat(np.arange(n_gateways), [t.size for t, _ in parts])
        else:
            times, gateway = self.arrivals.sample(duration_s, n_gateways, rng)
        order = np.lexsort((gateway, times))
        times, gateway = times[order], gateway[order].astype(np.int64)
        n = times.size
        family = rng.choice(self._family_probs.size, size=n, p=self._family_probs)
        within = rng.integers(0, self._counts[family], dtype=np.int64)
        circuit = self._members[self._offsets[family] + within]
        shots = self.shots.sample(n, rng)
        priority = self.priority.sample(n, rng)
        if self.deadline_slack is None:
            deadline = np.full(n, np.inf)
        else:
            slack = rng.uniform(*self.deadline_slack, size=n)
            deadline = times + slack * self.nominal_runtime_s(circuit, shots)
        cols = {
            "arrival_s": times,
            "gateway": gateway,
            "circuit": circuit,
            "shots": shots,
            "priority": priority,
            "deadline_s": deadline,
        }
        return TaskBatch._trusted({k: _frozen(np.asarray(v)) for k, v in cols.items()})


# --------------------------------------------------------------------------- YAML files


class WorkloadError(ValueError):
    """A workload file that cannot be found, parsed or validated."""


def workload_names() -> tuple[str, ...]:
    """Sorted names of the ``*.yaml`` files in ``<config dir>/workloads/``."""
    return config_names("workloads")


_KeyPath = tuple[str | int, ...]


class _Invalid(Exception):
    def __init__(self, path: _KeyPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _where(path: _KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _mapping(
    value: object, path: _KeyPath, allowed: Sequence[str], required: Sequence[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(path, f"must be a mapping, got {value!r}")
    for key in value:
        if key not in allowed:
            raise _Invalid(
                (*path, str(key)),
                f"unknown key {key!r} (expected one of {', '.join(sorted(allowed))})",
            )
    for key in required:
        if key not in value:
            raise _Invalid((*path, key), f"missing required key {key!r}")
    return value


def _number(value: object, path: _KeyPath, low: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _Invalid(path, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise _Invalid(path, f"must be finite, got {value!r}")
    if low is not None and (value <= low if strict else value < low):
        raise _Invalid(path, f"must be {'>' if strict else '>='} {low:g}, got {value!r}")
    return float(value)


def _integer(value: object, path: _KeyPath, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _Invalid(path, f"must be an integer, got {value!r}")
    if value < low:
        raise _Invalid(path, f"must be >= {low}, got {value!r}")
    return int(value)


def _choice(value: object, path: _KeyPath, choices: Sequence[str]) -> str:
    if value not in choices:
        raise _Invalid(path, f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _list(value: object, path: _KeyPath) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _Invalid(path, f"must be a non-empty list, got {value!r}")
    return value


# Generator keywords each family accepts from YAML, with their checkers.
_FAMILY_KEYS: Final[dict[str, dict[str, Any]]] = {
    "qaoa_maxcut": {
        "p": lambda v, p: _integer(v, p, 1),
        "edge_prob": lambda v, p: _number(v, p, 0.0, strict=True),
        "angles": lambda v, p: _choice(v, p, ("fixed", "random")),
    },
    "qaoa_tsp": {
        "p": lambda v, p: _integer(v, p, 1),
        "angles": lambda v, p: _choice(v, p, ("fixed", "random")),
    },
    "vqe": {
        "layers": lambda v, p: _integer(v, p, 1),
        "entanglement": lambda v, p: _choice(v, p, ("linear", "circular", "full")),
        "entangler": lambda v, p: _choice(v, p, ("cx", "cz")),
    },
    "ghz": {},
    "qft": {},
    "qasm": {},
}
_MIN_SIZE: Final = {"qaoa_maxcut": 2, "qaoa_tsp": 3, "vqe": 2, "ghz": 2, "qft": 1}


def _family(family: str, value: object, path: _KeyPath, yaml_dir: Path) -> FamilySpec:
    extra = _FAMILY_KEYS[family]
    if family == "qasm":
        data = _mapping(value, path, ("weight", "files"), ("weight", "files"))
        files = _list(data["files"], (*path, "files"))
        paths: list[Path] = []
        for i, f in enumerate(files):
            if not isinstance(f, str):
                raise _Invalid((*path, "files", i), f"must be a file path, got {f!r}")
            paths.append((yaml_dir / Path(f).expanduser()).resolve())  # absolute stays
        weight = _number(data["weight"], (*path, "weight"), 0.0)
        return FamilySpec(family, weight, tuple(paths))
    data = _mapping(value, path, ("weight", "sizes", "instances", *extra), ("weight", "sizes"))
    weight = _number(data["weight"], (*path, "weight"), 0.0)
    sizes: list[int | str] = []
    for i, s in enumerate(_list(data["sizes"], (*path, "sizes"))):
        if family == "vqe" and isinstance(s, str):
            sizes.append(_choice(s.lower(), (*path, "sizes", i), ("h2", "lih")))
        else:
            sizes.append(_integer(s, (*path, "sizes", i), _MIN_SIZE[family]))
    instances = _integer(data.get("instances", 1), (*path, "instances"), 1)
    if family == "ghz" and instances != 1:
        raise _Invalid((*path, "instances"), "ghz circuits are deterministic: must be 1")
    kwargs = {k: extra[k](v, (*path, k)) for k, v in data.items() if k in extra}
    return FamilySpec(family, weight, tuple(sizes), instances, kwargs)


def _arrival(value: object, path: _KeyPath) -> ArrivalProcess:
    data = _mapping(
        value,
        path,
        ("kind", "rate", "calm_rate", "burst_rate", "mean_calm_s", "mean_burst_s"),
        ("kind",),
    )
    kind = _choice(data["kind"], (*path, "kind"), ("poisson", "bursty"))
    if kind == "poisson":
        data = _mapping(data, path, ("kind", "rate"), ("rate",))
        return PoissonArrivals(_number(data["rate"], (*path, "rate"), 0.0))
    keys = ("calm_rate", "burst_rate", "mean_calm_s", "mean_burst_s")
    data = _mapping(data, path, ("kind", *keys), keys)
    rates = [_number(data[k], (*path, k), 0.0) for k in keys[:2]]
    means = [_number(data[k], (*path, k), 0.0, strict=True) for k in keys[2:]]
    return BurstyArrivals(*rates, *means)


def _categorical(value: object, path: _KeyPath, low: int) -> Categorical:
    if not isinstance(value, dict):
        return Categorical.constant(_integer(value, path, low))
    data = _mapping(value, path, ("values", "probs"), ("values", "probs"))
    values = [
        _integer(v, (*path, "values", i), low)
        for i, v in enumerate(_list(data["values"], (*path, "values")))
    ]
    probs = [
        _number(v, (*path, "probs", i), 0.0)
        for i, v in enumerate(_list(data["probs"], (*path, "probs")))
    ]
    if len(values) != len(probs):
        raise _Invalid((*path, "probs"), f"must have {len(values)} entries, one per value")
    if not math.isclose(sum(probs), 1.0, abs_tol=1e-9):
        raise _Invalid((*path, "probs"), f"must sum to 1, got {sum(probs)!r}")
    return Categorical(np.array(values), np.array(probs))


def _slack(value: object, path: _KeyPath) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, list):
        if len(value) != 2:
            raise _Invalid(path, f"must be a number or [low, high], got a list of {len(value)}")
        low = _number(value[0], (*path, 0), 0.0, strict=True)
        high = _number(value[1], (*path, 1), low)
        return low, high
    v = _number(value, path, 0.0, strict=True)
    return v, v


def _parse(data: object, yaml_dir: Path) -> tuple[list[FamilySpec], dict[str, Any]]:
    top_keys = ("description", "families", "arrivals", "shots", "priority", "deadline_slack")
    top = _mapping(data, (), top_keys, ("families", "arrivals"))
    description = top.get("description", "")
    if not isinstance(description, str):
        raise _Invalid(("description",), f"must be a string, got {description!r}")
    families = _mapping(top["families"], ("families",), FAMILIES)
    if not families:
        raise _Invalid(("families",), "must list at least one family")
    specs = [_family(f, v, ("families", f), yaml_dir) for f, v in families.items()]
    if sum(s.weight for s in specs) <= 0:
        raise _Invalid(("families",), "at least one family needs a weight > 0")
    arrivals_raw = top["arrivals"]
    arrivals: ArrivalProcess | tuple[ArrivalProcess, ...]
    if isinstance(arrivals_raw, list):
        arrivals = tuple(
            _arrival(a, ("arrivals", i)) for i, a in enumerate(_list(arrivals_raw, ("arrivals",)))
        )
    else:
        arrivals = _arrival(arrivals_raw, ("arrivals",))
    kwargs: dict[str, Any] = {
        "arrivals": arrivals,
        "family_weights": {s.family: s.weight for s in specs},
        "description": description,
    }
    if "shots" in top:
        kwargs["shots"] = _categorical(top["shots"], ("shots",), 1)
    if "priority" in top:
        kwargs["priority"] = _categorical(top["priority"], ("priority",), 1)
    if "deadline_slack" in top:
        kwargs["deadline_slack"] = _slack(top["deadline_slack"], ("deadline_slack",))
    return specs, kwargs


def load_workload(name_or_path: str | os.PathLike[str], seed: int = 0) -> Workload:
    """Read, validate and build a workload (schema: ``configs/workloads/README.md``).

    Args:
        name_or_path: a bare name (``"default"`` → ``<config dir>/workloads/default.yaml``,
            config dir = ``$QENV_CONFIG_DIR`` or the repository's ``configs/``) or a path.
        seed: seeds the generator that builds the circuit library (families in file
            order, then sizes, then instances). Tasks come from ``Workload.generate``.

    Raises:
        WorkloadError: missing file (listing the available names), invalid YAML (with
            line and column), or an invalid key or value (with the file and key path).
    """
    seed = check_positive_int("seed", seed, 0)
    name, path = resolve(name_or_path, "workloads")
    shown = display_path(path)
    if not path.is_file():
        available = ", ".join(workload_names()) or "none"
        raise WorkloadError(f"{shown}: workload file not found; available workloads: {available}")
    data = read_yaml(path, "workload file", lambda msg: WorkloadError(f"{shown}: {msg}"))
    try:
        specs, kwargs = _parse(data, path.parent)
        rng = np.random.default_rng(seed)
        circuits: list[Circuit] = []
        for spec in specs:
            at: _KeyPath = ("families", spec.family)
            try:
                circuits.extend(CircuitLibrary.build([spec], rng).circuits)
            except QasmError as err:
                index = next((i for i, p in enumerate(spec.sizes) if str(p) == err.source), None)
                at = (*at, "files", index) if index is not None else (*at, "files")
                raise _Invalid(at, str(err)) from err
            except ValueError as err:
                raise _Invalid(at, str(err)) from err
        library = CircuitLibrary(tuple(circuits))
        try:
            return Workload(library, name=name, **kwargs)
        except ValueError as err:
            raise _Invalid((), str(err)) from err
    except _Invalid as err:
        where = _where(err.path)
        raise WorkloadError(
            f"{shown}: {where}: {err.message}" if where else f"{shown}: {err.message}"
        ) from err
