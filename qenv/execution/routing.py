"""Routing of circuits onto a QPU and their as-soon-as-possible (ASAP) schedule.

Model
-----
A circuit runs on a device described by :class:`qenv.hardware.QPUSpec`. :func:`route`
compiles it with qiskit's preset pass manager (layout, SWAP routing on the coupling map,
translation to the basis gates, light optimisation) against a
:class:`qiskit.transpiler.Target` built from the spec (:func:`target_for`), then schedules
the result as soon as possible with the spec's durations and summarises it in a
:class:`RoutedCircuit`: gate counts per physical qubit and per coupling, measured and
active qubits, idle time per qubit and the makespan. These arrays are all the estimated
success probability (:mod:`qenv.execution.esp`) needs, so a drifted calibration is scored
with a few dot products and never re-routed.

Schedule (:func:`asap_schedule`): instructions are taken in circuit order; each starts when
all of its qubits (and, for a measurement, its classical bit) are free. Durations come from
the spec: a non-virtual 1q gate lasts ``duration_1q_s[q]``, a 2q gate ``duration_2q_s[e]``,
a measurement ``duration_readout_s[q]``; virtual gates (``spec.virtual_gates``, e.g. ``rz``
on IBM devices) and barriers take no time (a barrier aligns its qubits, as in qiskit's
``ASAPScheduleAnalysis``); a ``delay`` occupies its qubit without keeping it busy.

Idle time, as in MQT Predictor's ``estimated_success_probability`` (Quetschlich, Burgholzer
& Wille, "MQT Predictor", ACM TQC 2025, arXiv:2310.06889; source
``src/mqt/predictor/reward.py`` of munich-quantum-toolkit/predictor, read at commit
0504c1d42457adc348ec56885f3c1fcee68252f8: idle = estimated duration − execution time of
each used qubit; its later revision (``_compute_asap_timing``, 2026) ends a qubit's window
at its measurement or reset when that is its last operation)::

    busy[q]     = Σ durations of the operations on q (gates and measurement)
    live_end[q] = end of q's last operation if that is a measurement, else the makespan
    idle_s[q]   = max(live_end[q] − busy[q], 0) for active q, 0 otherwise

so for an unmeasured qubit idle = makespan − busy ("total duration − time the qubit is
busy"); a measured qubit stops counting once its outcome is recorded. Waiting in |0⟩ before
the first gate counts as idle, as in MQT Predictor.

SWAP count: the ``swap`` gates present after qiskit's routing stage minus those present
before its layout stage (both counted with ``CountOps``), i.e. the SWAPs routing inserted,
counted before translation turns each into three two-qubit basis gates.

Routing is done once per (circuit, device) with the spec's snapshot calibration
(:class:`Router`); a drifted calibration changes the ESP, not the layout.

Units: seconds. Imports no gymnasium, pettingzoo or ray.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from qiskit import QuantumCircuit
from qiskit.circuit import Measure
from qiskit.circuit.equivalence_library import (
    SessionEquivalenceLibrary,
)
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.transpiler import (
    InstructionProperties,
    PassManager,
    QubitProperties,
    Target,
    generate_preset_pass_manager,
)
from qiskit.transpiler.passes import CountOps

from qenv.checks import FloatArray, check_positive_int, check_range

if TYPE_CHECKING:
    from qenv.hardware import QPUSpec

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
OpKind = Literal["virtual", "1q", "2q", "measure", "delay", "barrier"]

#: Instructions every device accepts besides its basis gates.
ALWAYS_SUPPORTED = frozenset({"barrier", "measure", "delay"})
_CONTROL_FLOW = frozenset({"if_else", "while_loop", "for_loop", "switch_case", "box"})
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "ps": 1e-12}


def _frozen(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    arr.flags.writeable = False
    return arr


class LRUCache:
    """A small least-recently-used map (the caches of this module)."""

    def __init__(self, max_size: int) -> None:
        self.max_size = check_positive_int("cache_size", max_size)
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self._data:
            self.hits += 1
            self._data.move_to_end(key)
            return self._data[key]
        self.misses += 1
        value = make()
        self._data[key] = value
        if len(self._data) > self.max_size:
            self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()
        self.hits = self.misses = 0


# --------------------------------------------------------------------------- target


_TARGETS = LRUCache(128)
_PASS_MANAGERS = LRUCache(128)
_EDGE_LOOKUP = LRUCache(128)


def spec_fingerprint(spec: QPUSpec, *, calibration: bool = True) -> tuple[Any, ...]:
    """Cache key of a device: its name and a digest of what routing depends on
    (couplings, basis, durations and, with ``calibration``, the calibration numbers and
    version), so two specs that share a name but not their numbers (a test device, an
    edited YAML) never share a cached result."""
    h = hashlib.blake2b(digest_size=16)
    head = (spec.technology, spec.num_qubits, spec.basis_gates, spec.virtual_gates)
    h.update(repr((head, spec.shot_overhead_s)).encode())
    arrays = [spec.edges, spec.duration_1q_s, spec.duration_2q_s, spec.duration_readout_s]
    cal = spec.calibration
    if calibration:
        arrays += [cal.t1_s, cal.t2_s, cal.readout_error, cal.gate_error_1q, cal.gate_error_2q]
    for arr in arrays:
        h.update(np.ascontiguousarray(arr).tobytes())
    if calibration:
        return spec.name, h.hexdigest(), cal.version
    return spec.name, h.hexdigest()


def _standard_gate(name: str, device: str) -> Any:
    gate = get_standard_gate_name_mapping().get(name)
    if gate is None:
        raise ValueError(f"basis gate {name!r} of {device} is not a qiskit standard gate")
    return gate


def _build_target(spec: QPUSpec) -> Any:
    cal = spec.calibration
    n = spec.num_qubits
    target = Target(
        description=spec.name,
        num_qubits=n,
        qubit_properties=[
            QubitProperties(t1=float(t1), t2=float(t2))
            for t1, t2 in zip(cal.t1_s, cal.t2_s, strict=True)
        ],
    )
    two_q = spec.two_qubit_gate
    for name in spec.basis_gates:
        gate = _standard_gate(name, spec.name)
        if name == two_q:
            props = {}
            for e, (i, j) in enumerate(spec.edges.tolist()):
                p = InstructionProperties(
                    duration=float(spec.duration_2q_s[e]), error=float(cal.gate_error_2q[e])
                )
                props[(i, j)] = p
                props[(j, i)] = p
            target.add_instruction(gate, props)
        elif gate.num_qubits == 1:
            virtual = name in spec.virtual_gates
            target.add_instruction(
                gate,
                {
                    (q,): InstructionProperties(
                        duration=0.0 if virtual else float(spec.duration_1q_s[q]),
                        error=0.0 if virtual else float(cal.gate_error_1q[q]),
                    )
                    for q in range(n)
                },
            )
        else:
            raise ValueError(
                f"basis gate {name!r} of {spec.name} acts on {gate.num_qubits} qubits; "
                f"only 1q gates and the single 2q gate {two_q!r} are modelled"
            )
    target.add_instruction(
        Measure(),
        {
            (q,): InstructionProperties(
                duration=float(spec.duration_readout_s[q]), error=float(cal.readout_error[q])
            )
            for q in range(n)
        },
    )
    target.add_instruction(
        get_standard_gate_name_mapping()["delay"], {(q,): None for q in range(n)}
    )
    return target


def target_for(spec: QPUSpec) -> Any:
    """The qiskit ``Target`` of ``spec`` with its snapshot calibration.

    Basis gates on every qubit, the two-qubit gate on both directions of every edge,
    ``measure`` with the readout error and duration, ``delay``; virtual gates with
    duration 0 and error 0; T1/T2 as qubit properties. Cached per device content
    (:func:`spec_fingerprint`).
    """
    key = spec_fingerprint(spec)
    return _TARGETS.get_or_make(key, lambda: _build_target(spec))


def _edge_lookup(spec: QPUSpec) -> IntArray:
    """``(num_qubits, num_qubits)`` row of ``spec.edges`` for each pair, -1 where uncoupled."""

    def make() -> IntArray:
        lookup = np.full((spec.num_qubits, spec.num_qubits), -1, dtype=np.int64)
        rows = np.arange(len(spec.edges), dtype=np.int64)
        lookup[spec.edges[:, 0], spec.edges[:, 1]] = rows
        lookup[spec.edges[:, 1], spec.edges[:, 0]] = rows
        return _frozen(lookup)

    result: IntArray = _EDGE_LOOKUP.get_or_make(spec_fingerprint(spec, calibration=False), make)
    return result


# --------------------------------------------------------------------------- executable


_TRANSLATABLE = LRUCache(4096)  # (op names, basis) -> reason or None
_REACHABLE: dict[frozenset[str], frozenset[str]] = {}
_EQUIVALENCES: list[tuple[str, list[frozenset[str]]]] = []


def _equivalences() -> list[tuple[str, list[frozenset[str]]]]:
    """(gate name, op names of each equivalent circuit) of qiskit's equivalence library."""
    if not _EQUIVALENCES:
        standard = get_standard_gate_name_mapping()
        keys = SessionEquivalenceLibrary.keys()  # an EquivalenceLibrary is not iterable
        for key in keys:
            gate = standard.get(key.name)
            if gate is None or gate.num_qubits != key.num_qubits:
                continue
            circuits = SessionEquivalenceLibrary.get_entry(gate)
            _EQUIVALENCES.append(
                (key.name, [frozenset(ci.operation.name for ci in c.data) for c in circuits])
            )
    return _EQUIVALENCES


def _reachable(basis: frozenset[str]) -> frozenset[str]:
    """Gate names the equivalence library can rewrite into ``basis`` (a fixed point)."""
    if basis not in _REACHABLE:
        reach = set(basis)
        changed = True
        while changed:
            changed = False
            for name, options in _equivalences():
                if name not in reach and any(ops <= reach for ops in options):
                    reach.add(name)
                    changed = True
        _REACHABLE[basis] = frozenset(reach)
    return _REACHABLE[basis]


def _untranslatable(op: Any, reach: frozenset[str], basis: str, depth: int = 0) -> str | None:
    name = str(op.name)
    if name in reach or name in ALWAYS_SUPPORTED:
        return None
    if name in _CONTROL_FLOW:
        return f"control flow {name!r} is not supported"
    if name == "reset":
        return "mid-circuit reset is not supported"
    definition = None if depth > 8 else getattr(op, "definition", None)
    if definition is None:
        return f"gate {name!r} cannot be translated to basis {basis}"
    for inner in definition.data:
        reason = _untranslatable(inner.operation, reach, basis, depth + 1)
        if reason is not None:
            return f"gate {name!r} cannot be translated to basis {basis} ({reason})"
    return None


def executable(circuit: QuantumCircuit, spec: QPUSpec) -> str | None:
    """``None`` if ``circuit`` can run on ``spec``, otherwise a short reason.

    Cheap (no transpilation): a width check, then each gate name is checked against the
    names qiskit's equivalence library can rewrite into the basis gates (custom gates
    through their definitions). Cached per (set of operation names, basis); two custom
    gates with one name share a verdict.
    """
    if circuit.num_qubits > spec.num_qubits:
        return f"needs {circuit.num_qubits} qubits, device has {spec.num_qubits}"
    ops: dict[str, Any] = {}
    for ci in circuit.data:
        ops.setdefault(ci.operation.name, ci.operation)
    basis = frozenset(spec.basis_gates)

    def check() -> str | None:
        reach = _reachable(basis)
        shown = "(" + ", ".join(spec.basis_gates) + ")"
        for op in ops.values():
            reason = _untranslatable(op, reach, shown)
            if reason is not None:
                return reason
        return None

    verdict: str | None = _TRANSLATABLE.get_or_make((frozenset(ops), basis), check)
    return verdict


# --------------------------------------------------------------------------- schedule


class ScheduledOp(NamedTuple):
    """One instruction of a physical circuit in its ASAP schedule."""

    position: int  # index of the instruction in circuit.data
    kind: OpKind
    qubits: tuple[int, ...]  # physical qubits
    resource: int  # qubit (1q, virtual, measure, delay) or edge row (2q); -1 for a barrier
    start_s: float
    duration_s: float


@dataclass(frozen=True, eq=False)
class Schedule:
    """ASAP schedule of a circuit on a device's physical qubits (seconds)."""

    ops: tuple[ScheduledOp, ...]
    busy_s: FloatArray  # (num_qubits,) summed duration of the operations on each qubit
    live_end_s: FloatArray  # (num_qubits,) end of the measurement if last, else makespan
    active: BoolArray  # (num_qubits,) touched by a gate or measurement
    measured: BoolArray  # (num_qubits,)
    makespan_s: float

    @property
    def idle_s(self) -> FloatArray:
        """``max(live_end − busy, 0)`` on active qubits, 0 elsewhere (MQT Predictor)."""
        idle = np.where(self.active, np.maximum(self.live_end_s - self.busy_s, 0.0), 0.0)
        return idle


def _delay_seconds(op: Any, index: int) -> float:
    unit = str(getattr(op, "unit", "dt"))
    if unit not in _TIME_UNITS:
        raise ValueError(
            f"instruction {index}: delay in unit {unit!r} has no duration on a device "
            f"without dt; use one of {sorted(_TIME_UNITS)}"
        )
    return float(op.params[0]) * _TIME_UNITS[unit]


def asap_schedule(circuit: QuantumCircuit, spec: QPUSpec) -> Schedule:
    """ASAP schedule of a circuit already on ``spec``'s physical qubits (qubit i = physical i).

    Every instruction must be a basis gate (2q gates on an edge), ``measure``, ``delay``
    or ``barrier``; otherwise ``ValueError`` names the instruction — route it first.
    """
    n = spec.num_qubits
    if circuit.num_qubits > n:
        raise ValueError(
            f"circuit has {circuit.num_qubits} qubits, device {spec.name} has {n}; route it first"
        )
    qindex = {q: i for i, q in enumerate(circuit.qubits)}
    cindex = {c: i for i, c in enumerate(circuit.clbits)}
    lookup = _edge_lookup(spec)
    d1 = spec.duration_1q_s.tolist()
    d2 = spec.duration_2q_s.tolist()
    dro = spec.duration_readout_s.tolist()
    one_q = {
        g for g in spec.basis_gates if g != spec.two_qubit_gate and g not in spec.virtual_gates
    }
    virtual = set(spec.virtual_gates)
    two_q = spec.two_qubit_gate

    qfree = [0.0] * n
    cfree = [0.0] * circuit.num_clbits
    busy = [0.0] * n
    last_end = [0.0] * n
    last_measure = [False] * n
    active = [False] * n
    ops: list[ScheduledOp] = []
    for index, ci in enumerate(circuit.data):
        op = ci.operation
        name = op.name
        qs = tuple(qindex[q] for q in ci.qubits)
        if name == "barrier":
            if qs:
                t = max(qfree[q] for q in qs)
                for q in qs:
                    qfree[q] = t
                ops.append(ScheduledOp(index, "barrier", qs, -1, t, 0.0))
            continue
        kind: OpKind
        if name == "measure":
            kind, resource, duration = "measure", qs[0], dro[qs[0]]
        elif name == "delay":
            kind, resource, duration = "delay", qs[0], _delay_seconds(op, index)
        elif len(qs) == 1 and name in virtual:
            kind, resource, duration = "virtual", qs[0], 0.0
        elif len(qs) == 1 and name in one_q:
            kind, resource, duration = "1q", qs[0], d1[qs[0]]
        elif len(qs) == 2 and name == two_q:
            resource = int(lookup[qs[0], qs[1]])
            if resource < 0:
                raise ValueError(
                    f"instruction {index}: {name} on qubits {qs} is not a coupling of "
                    f"{spec.name}; route the circuit first"
                )
            kind, duration = "2q", d2[resource]
        else:
            raise ValueError(
                f"instruction {index}: {name!r} on qubits {qs} is not a basis instruction "
                f"of {spec.name} {spec.basis_gates}; route the circuit first"
            )
        start = max(qfree[q] for q in qs)
        cs = [cindex[c] for c in ci.clbits] if kind == "measure" else []
        if cs:
            start = max(start, *(cfree[c] for c in cs))
        end = start + duration
        for c in cs:
            cfree[c] = end
        for q in qs:
            qfree[q] = end
            if kind == "delay":
                continue
            active[q] = True
            busy[q] += duration
            last_end[q] = end
            last_measure[q] = kind == "measure"
        ops.append(ScheduledOp(index, kind, qs, resource, start, duration))

    makespan = max([0.0, *qfree, *cfree])
    last = np.asarray(last_measure, dtype=bool)
    live_end = np.where(last, np.asarray(last_end, dtype=np.float64), makespan)
    return Schedule(
        ops=tuple(ops),
        busy_s=_frozen(np.asarray(busy, dtype=np.float64)),
        live_end_s=_frozen(live_end),
        active=_frozen(np.asarray(active, dtype=bool)),
        measured=_frozen(_measured(ops, n)),
        makespan_s=float(makespan),
    )


def _measured(ops: Iterable[ScheduledOp], n: int) -> BoolArray:
    measured = np.zeros(n, dtype=bool)
    for op in ops:
        if op.kind == "measure":
            measured[op.resource] = True
    return measured


# --------------------------------------------------------------------------- routed circuit


@dataclass(frozen=True, eq=False)
class RoutedCircuit:
    """A circuit routed on a device: what the ESP and the runtime need (arrays read-only)."""

    device: str
    calibration_version: int  # the calibration the layout was chosen with
    n_1q: IntArray  # (num_qubits,) non-virtual 1q gates per physical qubit
    n_2q: IntArray  # (num_edges,) 2q gates per row of spec.edges
    measured: BoolArray  # (num_qubits,) qubits that are measured
    active: BoolArray  # (num_qubits,) qubits touched by a gate or a measurement
    idle_s: FloatArray  # (num_qubits,) max(live_end − busy, 0) on active qubits (see module)
    duration_s: float  # makespan of the ASAP schedule, measurement included
    swaps: int  # SWAPs inserted by routing (counted before basis translation)
    depth: int  # depth of the routed circuit, barriers excluded
    two_qubit_count: int
    circuit: QuantumCircuit  # the routed circuit on the device's physical qubits
    #: [n_1q, n_2q, measured, −idle_s] as one float64 row: ESP is its dot product with a
    #: calibration's weights [log(1−ε1), log(1−ε2), log(1−ε_ro), 1/min(T1, T2)].
    esp_row: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        row = np.concatenate([self.n_1q, self.n_2q, self.measured, -self.idle_s], dtype=np.float64)
        object.__setattr__(self, "esp_row", _frozen(row))

    def runtime_s(self, shots: int, shot_overhead_s: float) -> float:
        """Wall time of ``shots`` repetitions: shots × (duration + per-shot overhead)."""
        shots = check_positive_int("shots", shots)
        overhead = float(check_range("shot_overhead_s", shot_overhead_s, 0.0))
        return shots * (self.duration_s + overhead)

    @property
    def num_active(self) -> int:
        return int(self.active.sum())


def summarize(
    circuit: QuantumCircuit,
    spec: QPUSpec,
    *,
    swaps: int = 0,
    calibration_version: int | None = None,
) -> RoutedCircuit:
    """:class:`RoutedCircuit` of a circuit already on ``spec``'s physical qubits."""
    sched = asap_schedule(circuit, spec)
    n1 = np.zeros(spec.num_qubits, dtype=np.int64)
    n2 = np.zeros(len(spec.edges), dtype=np.int64)
    one = [op.resource for op in sched.ops if op.kind == "1q"]
    two = [op.resource for op in sched.ops if op.kind == "2q"]
    np.add.at(n1, np.asarray(one, dtype=np.int64), 1)
    np.add.at(n2, np.asarray(two, dtype=np.int64), 1)
    version = spec.calibration.version if calibration_version is None else calibration_version
    return RoutedCircuit(
        device=spec.name,
        calibration_version=int(version),
        n_1q=_frozen(n1),
        n_2q=_frozen(n2),
        measured=sched.measured,
        active=sched.active,
        idle_s=_frozen(sched.idle_s),
        duration_s=sched.makespan_s,
        swaps=int(swaps),
        depth=int(circuit.depth(lambda ci: ci.operation.name != "barrier")),
        two_qubit_count=len(two),
        circuit=circuit,
    )


def _pass_manager(spec: QPUSpec, seed: int, optimization_level: int) -> tuple[Any, Any, Any]:
    """Preset pass manager with ``CountOps`` before layout and after routing."""

    def make() -> tuple[Any, Any, Any]:
        pm = generate_preset_pass_manager(
            optimization_level=optimization_level, target=target_for(spec), seed_transpiler=seed
        )
        before, after = CountOps(), CountOps()
        pm.pre_layout = PassManager([before])
        pm.post_routing = PassManager([after])
        return pm, before, after

    key = (spec_fingerprint(spec), seed, optimization_level)
    result: tuple[Any, Any, Any] = _PASS_MANAGERS.get_or_make(key, make)
    return result


def route(
    circuit: QuantumCircuit, spec: QPUSpec, *, seed: int = 0, optimization_level: int = 1
) -> RoutedCircuit:
    """Compile ``circuit`` onto ``spec`` (qiskit preset pass manager) and schedule it ASAP.

    ``seed`` seeds qiskit's stochastic layout and routing; ``optimization_level`` is
    qiskit's (0-3). Raises ``ValueError`` with :func:`executable`'s reason if the circuit
    cannot run on the device.
    """
    check_positive_int("seed", seed, minimum=0)
    if optimization_level not in (0, 1, 2, 3):
        raise ValueError(f"optimization_level must be 0, 1, 2 or 3, got {optimization_level!r}")
    reason = executable(circuit, spec)
    if reason is not None:
        raise ValueError(f"circuit {circuit.name!r} cannot run on {spec.name}: {reason}")
    pm, before, after = _pass_manager(spec, seed, optimization_level)
    swaps: dict[str, int] = {}

    def count_swaps(pass_: Any, property_set: Any, **_: Any) -> None:
        if pass_ is before or pass_ is after:
            swaps["before" if pass_ is before else "after"] = int(
                property_set["count_ops"].get("swap", 0)
            )

    routed = pm.run(circuit, callback=count_swaps)
    inserted = max(swaps.get("after", 0) - swaps.get("before", 0), 0)
    return summarize(routed, spec, swaps=inserted)


class Router:
    """Routes circuits and caches the result per circuit key and device structure
    (``spec_fingerprint(spec, calibration=False)``: name, couplings, basis, durations), LRU.

    The layout is chosen with the first calibration seen (route with the snapshot); a
    drifted calibration of the same device reuses it and changes the ESP, not the layout.
    A different device under the same name is a different entry.
    """

    def __init__(
        self, cache_size: int = 1024, *, seed: int = 0, optimization_level: int = 1
    ) -> None:
        self._cache = LRUCache(cache_size)
        self.seed = check_positive_int("seed", seed, minimum=0)
        self.optimization_level = optimization_level

    def route(self, circuit_key: str, circuit: QuantumCircuit, spec: QPUSpec) -> RoutedCircuit:
        """The routed circuit, from the cache when ``(circuit_key, spec.name)`` was seen."""
        result: RoutedCircuit = self._cache.get_or_make(
            (circuit_key, spec_fingerprint(spec, calibration=False)),
            lambda: route(
                circuit, spec, seed=self.seed, optimization_level=self.optimization_level
            ),
        )
        return result

    @property
    def hits(self) -> int:
        return self._cache.hits

    @property
    def misses(self) -> int:
        return self._cache.misses

    def __len__(self) -> int:
        return len(self._cache)

    def clear(self) -> None:
        self._cache.clear()
