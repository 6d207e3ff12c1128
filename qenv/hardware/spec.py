"""QPU specifications and calibration snapshots: the hardware of QPUAllocation-v0 (DESIGN.md §4).

A :class:`QPUSpec` is one quantum processor as a scheduler and a success-probability
model see it: technology, qubits, the undirected coupling graph, the basis gates (qiskit
names) with their durations, the per-shot overhead, and a :class:`Calibration`, one
snapshot of the device's noise. Both are frozen; their arrays are float64/int64 numpy
arrays made read-only, so a spec can be shared between environments and cached.

Units: seconds for every time (T1, T2, gate and readout durations, shot overhead);
probabilities in [0, 1) for errors; qubits are indexed 0..num_qubits-1 and edge ``e`` is
row ``e`` of ``edges``, each row ``(i, j)`` with ``i < j``, rows sorted.

Conventions:

* ``gate_error_1q[q]`` is the error of one *non-virtual* single-qubit basis gate on ``q``
  (IBM's ``sx``; one gpi/gpi2-class rotation on IonQ). Gates listed in ``virtual_gates``
  (``rz`` on IBM and IonQ: a frame change) take zero time and carry zero error.
* ``readout_error[q]`` is the probability that measuring ``q`` reports the wrong bit
  (IBM's ``readout_error``, the mean of P(0|1) and P(1|0); 1 − SPAM fidelity on IonQ).
* T2 is clipped to 2·T1 (pure dephasing cannot be negative: 1/T2 = 1/(2·T1) + 1/Tφ); a
  published T2 above 2·T1 is a fitting artefact (IBM Hanoi has five such qubits).
  ``np.inf`` is allowed for T1 and T2 (a photonic qubit has no energy relaxation).
* ``Calibration.version`` distinguishes calibrations of one device: ``(spec.name,
  version)`` keys caches (:mod:`qenv.hardware.drift` issues a fresh version for every
  calibration it makes; a snapshot loaded from a file has version 0 unless it says so).

Sources of the shipped devices (``configs/qpus/``, schema in ``configs/qpus/README.md``):
IBM snapshots are read from the fake backends of qiskit-ibm-runtime
(:mod:`qenv.hardware.ibm`); IonQ Aria and Forte from the device targets of MQT Bench
(munich-quantum-toolkit/bench, ``src/mqt/bench/targets/devices/ionq.py``) with coherence
times from IonQ's published system figures (Microsoft Azure Quantum, "IonQ provider");
the photonic device is synthetic and labelled so (``synthetic: true``).

Files: :func:`load_qpu` reads ``<config dir>/qpus/<name>.yaml`` (the config dir is
``$QENV_CONFIG_DIR`` or the repository's ``configs/``, as for scenarios) or any path;
:meth:`QPUSpec.from_mapping` validates a mapping, :meth:`QPUSpec.to_mapping` is its
inverse. Every problem is a :class:`QPUSpecError` (a ``ValueError``) whose message starts
with the file and the key, e.g. ``configs/qpus/ionq_aria.yaml: calibration.readout_error:
expected 25 values, got 24``.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from qenv.config import config_dir, config_names, display_path, read_yaml, resolve

__all__ = [
    "DEFAULT_FLEET",
    "ONE_QUBIT_GATES",
    "TECHNOLOGIES",
    "TWO_QUBIT_GATES",
    "Calibration",
    "FloatArray",
    "IntArray",
    "QPUSpec",
    "QPUSpecError",
    "Technology",
    "config_dir",
    "default_fleet",
    "load_qpu",
    "qpu_names",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Technology = Literal["superconducting", "trapped_ion", "photonic"]
TECHNOLOGIES: Final[tuple[str, ...]] = get_args(Technology)

#: qiskit's standard one- and two-qubit gate names (``get_standard_gate_name_mapping``,
#: qiskit 2.x); kept here so that this module does not import qiskit.
# fmt: off
ONE_QUBIT_GATES: Final = frozenset({
    "h", "id", "p", "r", "rx", "ry", "rz", "s", "sdg", "sx", "sxdg", "t", "tdg", "u", "u1",
    "u2", "u3", "x", "y", "z",
})
TWO_QUBIT_GATES: Final = frozenset({
    "ch", "cp", "crx", "cry", "crz", "cs", "csdg", "csx", "cu", "cu1", "cu3", "cx", "cy",
    "cz", "dcx", "ecr", "iswap", "rxx", "ryy", "rzx", "rzz", "swap", "xx_minus_yy",
    "xx_plus_yy",
})
# fmt: on

#: The default fleet of QPUAllocation-v0: three superconducting devices of 7, 27 and 127
#: qubits (IBM snapshots), two trapped-ion devices and one synthetic photonic device.
DEFAULT_FLEET: Final[tuple[str, ...]] = (
    "ibm_nairobi",
    "ibm_hanoi",
    "ibm_brisbane",
    "ionq_aria",
    "ionq_forte",
    "photonic_synthetic",
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_QPU_DIR: Final = "qpus"


class QPUSpecError(ValueError):
    """A QPU specification that cannot be found, parsed or validated.

    ``key`` is the dotted key path of the offending field (``""`` for the whole
    document) and ``where`` the file or mapping it came from; ``str(err)`` is
    ``"<where>: <key>: <message>"`` without the empty parts.
    """

    def __init__(self, message: str, key: str = "", where: str | None = None) -> None:
        self.message = message
        self.key = key
        self.where = where
        super().__init__(": ".join(p for p in (where, key, message) if p))

    def located(self, where: str | None = None, prefix: str = "") -> QPUSpecError:
        """The same error under ``prefix`` + key, in ``where``."""
        key = f"{prefix}{self.key}" if self.key else prefix.rstrip(".")
        return QPUSpecError(self.message, key, where if where is not None else self.where)


# --------------------------------------------------------------------------- array checks


def _describe(value: object) -> str:
    kinds = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    kind = kinds.get(type(value))
    if value is None:
        return "null"
    return f"{value!r} ({kind})" if kind else repr(value)


def _readonly_floats(key: str, value: object) -> FloatArray:
    """``value`` copied into a read-only 1-D float64 array (no NaN)."""
    if isinstance(value, str | bytes | bool):
        raise QPUSpecError(f"expected an array of numbers, got {_describe(value)}", key)
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise QPUSpecError(f"expected an array of numbers, got {_describe(value)}", key) from err
    if arr.ndim != 1:
        raise QPUSpecError(f"expected a 1-D array, got shape {arr.shape}", key)
    if np.isnan(arr).any():
        raise QPUSpecError(f"must not be NaN (index {int(np.flatnonzero(np.isnan(arr))[0])})", key)
    arr.flags.writeable = False
    return arr


def _check_length(key: str, arr: npt.NDArray[Any], expected: int, what: str) -> None:
    if arr.shape[0] != expected:
        raise QPUSpecError(f"expected {expected} values ({what}), got {arr.shape[0]}", key)


def _check_in(
    key: str,
    arr: FloatArray,
    interval: str,
    bad: npt.NDArray[np.bool_],
    unit: str = "",
) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = f" (index {i})" if arr.size > 1 else ""
        raise QPUSpecError(f"must lie in {interval}{unit}, got {arr[i]:g}{where}", key)


def _check_times(key: str, arr: FloatArray, *, allow_inf: bool) -> None:
    bad = ~(arr > 0) if allow_inf else ~((arr > 0) & np.isfinite(arr))
    _check_in(key, arr, "(0, inf]" if allow_inf else "(0, inf)", bad, " s")


def _check_probabilities(key: str, arr: FloatArray) -> None:
    _check_in(key, arr, "[0, 1)", ~((arr >= 0) & (arr < 1)))


def _integer(key: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise QPUSpecError(f"expected an integer >= {minimum}, got {_describe(value)}", key)
    if value < minimum:
        raise QPUSpecError(f"expected an integer >= {minimum}, got {value}", key)
    return int(value)


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise QPUSpecError(f"expected a number, got {_describe(value)}", key)
    return float(value)


def _string(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise QPUSpecError(f"expected a non-empty string, got {_describe(value)}", key)
    return value


def _gate_names(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise QPUSpecError(f"expected a list of gate names, got {_describe(value)}", key)
    names = tuple(value)
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise QPUSpecError(f"expected a gate name, got {_describe(name)}", f"{key}[{i}]")
        if name not in ONE_QUBIT_GATES and name not in TWO_QUBIT_GATES:
            raise QPUSpecError(
                f"unknown gate {name!r} (expected a one- or two-qubit qiskit standard gate "
                "name such as rz, sx, x, rx, ry, cx, ecr, cz, rxx, rzz)",
                f"{key}[{i}]",
            )
        if name in names[:i]:
            raise QPUSpecError(f"duplicate gate {name!r}", f"{key}[{i}]")
    return names


def clip_t2(t1_s: FloatArray, t2_s: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """``min(T2, 2·T1)`` and the indices of the qubits where the clip acted."""
    limit = 2.0 * t1_s
    over = t2_s > limit
    return np.where(over, limit, t2_s), np.flatnonzero(over)


# --------------------------------------------------------------------------- Calibration


@dataclass(frozen=True, eq=False)
class Calibration:
    """One snapshot of a device's noise. Units: seconds, probabilities.

    Arrays are copied into read-only float64 arrays on construction; ``t2_s`` is clipped
    to ``2 * t1_s``. Raises :class:`QPUSpecError` naming the field on bad input.
    """

    t1_s: FloatArray  # (num_qubits,) energy relaxation time; np.inf allowed (e.g. photonic)
    t2_s: FloatArray  # (num_qubits,) dephasing time, clipped so t2 <= 2*t1; np.inf allowed
    readout_error: FloatArray  # (num_qubits,) probability a measurement reports the wrong bit
    gate_error_1q: FloatArray  # (num_qubits,) error of one non-virtual 1q basis gate on q
    gate_error_2q: FloatArray  # (num_edges,) error of the 2q basis gate on spec.edges[e]
    version: int = 0  # bumps on every new calibration; (spec.name, version) keys caches

    def __post_init__(self) -> None:
        t1 = _readonly_floats("t1_s", self.t1_s)
        n = t1.shape[0]
        if n == 0:
            raise QPUSpecError("expected at least one qubit, got an empty array", "t1_s")
        per_qubit = {"t1_s": t1}
        for key in ("t2_s", "readout_error", "gate_error_1q"):
            per_qubit[key] = _readonly_floats(key, getattr(self, key))
            _check_length(key, per_qubit[key], n, "one per qubit, as t1_s")
        e2 = _readonly_floats("gate_error_2q", self.gate_error_2q)
        _check_times("t1_s", t1, allow_inf=True)
        _check_times("t2_s", per_qubit["t2_s"], allow_inf=True)
        for key in ("readout_error", "gate_error_1q"):
            _check_probabilities(key, per_qubit[key])
        _check_probabilities("gate_error_2q", e2)
        version = _integer("version", self.version, 0)
        t2, clipped = clip_t2(t1, per_qubit["t2_s"])
        if clipped.size:
            t2.flags.writeable = False
            per_qubit["t2_s"] = t2
        for key, arr in per_qubit.items():
            object.__setattr__(self, key, arr)
        object.__setattr__(self, "gate_error_2q", e2)
        object.__setattr__(self, "version", version)

    @classmethod
    def _trusted(
        cls,
        t1_s: FloatArray,
        t2_s: FloatArray,
        readout_error: FloatArray,
        gate_error_1q: FloatArray,
        gate_error_2q: FloatArray,
        version: int,
    ) -> Calibration:
        """Skip validation: for read-only arrays that are valid by construction (drift)."""
        obj = object.__new__(cls)
        for key, value in (
            ("t1_s", t1_s),
            ("t2_s", t2_s),
            ("readout_error", readout_error),
            ("gate_error_1q", gate_error_1q),
            ("gate_error_2q", gate_error_2q),
            ("version", version),
        ):
            object.__setattr__(obj, key, value)
        return obj

    def __repr__(self) -> str:
        medians = ", ".join(f"{k}={v:.3g}" for k, v in self.summary().items())
        return f"Calibration(version={self.version}, {self.num_qubits} qubits, medians: {medians})"

    @property
    def num_qubits(self) -> int:
        return int(self.t1_s.shape[0])

    def summary(self) -> dict[str, float]:
        """Medians over qubits (edges for ``gate_error_2q``; NaN if there are none)."""

        def median(arr: FloatArray) -> float:
            return float(np.median(arr)) if arr.size else float("nan")

        return {
            "t1_s": median(self.t1_s),
            "t2_s": median(self.t2_s),
            "readout_error": median(self.readout_error),
            "gate_error_1q": median(self.gate_error_1q),
            "gate_error_2q": median(self.gate_error_2q),
        }

    def to_mapping(self) -> dict[str, Any]:
        """Plain lists and numbers (YAML/JSON-ready); inverse of the ``calibration`` section."""
        return {
            "t1_s": self.t1_s.tolist(),
            "t2_s": self.t2_s.tolist(),
            "readout_error": self.readout_error.tolist(),
            "gate_error_1q": self.gate_error_1q.tolist(),
            "gate_error_2q": self.gate_error_2q.tolist(),
            "version": self.version,
        }


# --------------------------------------------------------------------------- QPUSpec


@dataclass(frozen=True, eq=False)
class QPUSpec:
    """One QPU: technology, couplings, basis gates, durations and a calibration snapshot.

    Validated on construction (:class:`QPUSpecError` naming the field); arrays are
    copied read-only. ``edges`` must already be canonical (each row ``i < j``, rows
    sorted, no duplicates); :meth:`from_mapping` canonicalises files for you.
    """

    name: str  # unique device name, e.g. "ibm_nairobi" or "ionq_aria"
    technology: Technology
    num_qubits: int
    edges: IntArray  # (num_edges, 2) undirected couplings, each row i < j, sorted rows;
    # an all-to-all device lists every pair
    basis_gates: tuple[str, ...]  # qiskit gate names, e.g. ("rz", "sx", "x", "ecr")
    virtual_gates: tuple[str, ...]  # gates with zero duration and zero error (("rz",) on IBM)
    duration_1q_s: FloatArray  # (num_qubits,) duration of a non-virtual 1q gate on q
    duration_2q_s: FloatArray  # (num_edges,) duration of the 2q gate on edge e
    duration_readout_s: FloatArray  # (num_qubits,)
    shot_overhead_s: float  # per-shot reset / repetition delay added to the circuit duration
    calibration: Calibration  # the published snapshot
    source: str  # where the numbers come from (file / paper / "synthetic")
    synthetic: bool  # True when the numbers are invented (photonic)
    notes: tuple[str, ...] = ()  # data cleaning applied (values replaced, T2 clipped, ...)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise QPUSpecError(
                f"expected a name of letters, digits, '_', '.', '-', got {_describe(self.name)}",
                "name",
            )
        if self.technology not in TECHNOLOGIES:
            raise QPUSpecError(
                f"unknown technology {_describe(self.technology)} "
                f"(expected one of {', '.join(TECHNOLOGIES)})",
                "technology",
            )
        n = _integer("num_qubits", self.num_qubits, 2)
        edges = _canonical_edges(self.edges, n)
        basis = _gate_names("basis_gates", self.basis_gates)
        two = [g for g in basis if g in TWO_QUBIT_GATES]
        if len(two) != 1:
            raise QPUSpecError(
                f"expected exactly one two-qubit gate, got {len(two)} ({', '.join(two) or '-'})",
                "basis_gates",
            )
        virtual = _gate_names("virtual_gates", self.virtual_gates)
        for i, gate in enumerate(virtual):
            if gate not in basis or gate in TWO_QUBIT_GATES:
                raise QPUSpecError(
                    f"{gate!r} must be a one-qubit gate of basis_gates", f"virtual_gates[{i}]"
                )
        if len(virtual) == len(basis) - 1:
            raise QPUSpecError(
                "at least one single-qubit basis gate must be non-virtual", "virtual_gates"
            )
        durations = {}
        for key, length, what in (
            ("duration_1q_s", n, "one per qubit"),
            ("duration_2q_s", edges.shape[0], "one per edge"),
            ("duration_readout_s", n, "one per qubit"),
        ):
            durations[key] = _readonly_floats(key, getattr(self, key))
            _check_length(key, durations[key], length, what)
            _check_times(key, durations[key], allow_inf=False)
        overhead = _number("shot_overhead_s", self.shot_overhead_s)
        if not (np.isfinite(overhead) and overhead >= 0):
            raise QPUSpecError(f"must lie in [0, inf) s, got {overhead:g}", "shot_overhead_s")
        _check_calibration(self.calibration, n, edges.shape[0])
        _string("source", self.source)
        if not isinstance(self.synthetic, bool | np.bool_):
            raise QPUSpecError(
                f"expected true or false, got {_describe(self.synthetic)}", "synthetic"
            )
        notes = tuple(self.notes)
        for i, note in enumerate(notes):
            if not isinstance(note, str):
                raise QPUSpecError(f"expected a string, got {_describe(note)}", f"notes[{i}]")

        index = np.full((n, n), -1, dtype=np.int64)
        rows = np.arange(edges.shape[0], dtype=np.int64)
        index[edges[:, 0], edges[:, 1]] = rows
        index[edges[:, 1], edges[:, 0]] = rows
        index.flags.writeable = False
        set_ = object.__setattr__
        set_(self, "num_qubits", n)
        set_(self, "edges", edges)
        set_(self, "basis_gates", basis)
        set_(self, "virtual_gates", virtual)
        for key, arr in durations.items():
            set_(self, key, arr)
        set_(self, "shot_overhead_s", overhead)
        set_(self, "synthetic", bool(self.synthetic))
        set_(self, "notes", notes)
        set_(self, "_edge_index", index)

    def __repr__(self) -> str:
        kind = " synthetic" if self.synthetic else ""
        return (
            f"QPUSpec({self.name!r}, {self.technology}{kind}, {self.num_qubits} qubits, "
            f"{self.num_edges} edges, basis {'/'.join(self.basis_gates)}, "
            f"calibration version {self.calibration.version})"
        )

    # ------------------------------------------------------------------ views

    @property
    def num_edges(self) -> int:
        return int(self.edges.shape[0])

    @property
    def all_to_all(self) -> bool:
        """True when every pair of qubits is coupled."""
        return self.num_edges == self.num_qubits * (self.num_qubits - 1) // 2

    @property
    def two_qubit_gate(self) -> str:
        """The (single) two-qubit gate of ``basis_gates``."""
        return next(g for g in self.basis_gates if g in TWO_QUBIT_GATES)

    @property
    def edge_index_matrix(self) -> IntArray:
        """(num_qubits, num_qubits) read-only: edge row of (i, j) in either order, else -1."""
        index: IntArray = self.__dict__["_edge_index"]
        return index

    def edge_index(self, i: int, j: int) -> int:
        """Row of ``(min(i, j), max(i, j))`` in ``edges``; ``ValueError`` if not coupled."""
        n = self.num_qubits
        for q in (i, j):
            if isinstance(q, bool) or not isinstance(q, int | np.integer) or not 0 <= q < n:
                raise ValueError(f"{self.name}: qubit {q!r} outside the device (0..{n - 1})")
        row = int(self.edge_index_matrix[i, j])
        if row < 0:
            raise ValueError(f"{self.name}: qubits {i} and {j} are not coupled (no edge)")
        return row

    def coupling_map(self) -> list[list[int]]:
        """Both directions of every edge, as qiskit's ``CouplingMap`` takes them."""
        both = np.concatenate([self.edges, self.edges[:, ::-1]])
        return both[np.lexsort((both[:, 1], both[:, 0]))].tolist()  # type: ignore[no-any-return]

    def with_calibration(self, calibration: Calibration) -> QPUSpec:
        """This device with another calibration (same shapes); nothing else re-validated."""
        _check_calibration(calibration, self.num_qubits, self.num_edges)
        new = copy.copy(self)
        object.__setattr__(new, "calibration", calibration)
        return new

    # ------------------------------------------------------------------ mappings

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "<mapping>") -> QPUSpec:
        """Validate and build a spec from the YAML schema of ``configs/qpus/README.md``.

        Per-qubit and per-edge arrays may be scalars (broadcast); ``edges`` may be
        ``"all_to_all"`` or pairs in any order and orientation (canonicalised, per-edge
        arrays permuted along); ``source: {fake_backend: <name>}`` starts from that IBM
        snapshot and the other keys override its fields. Errors name ``where`` and the key.
        """
        try:
            return _from_mapping(data)
        except QPUSpecError as err:
            raise err.located(where) from None

    def to_mapping(self) -> dict[str, Any]:
        """Plain lists and numbers; ``QPUSpec.from_mapping(spec.to_mapping())`` is equal."""
        return {
            "name": self.name,
            "technology": self.technology,
            "num_qubits": self.num_qubits,
            "edges": self.edges.tolist(),
            "basis_gates": list(self.basis_gates),
            "virtual_gates": list(self.virtual_gates),
            "duration_1q_s": self.duration_1q_s.tolist(),
            "duration_2q_s": self.duration_2q_s.tolist(),
            "duration_readout_s": self.duration_readout_s.tolist(),
            "shot_overhead_s": self.shot_overhead_s,
            "calibration": self.calibration.to_mapping(),
            "source": self.source,
            "synthetic": self.synthetic,
            "notes": list(self.notes),
        }


def _canonical_edges(value: object, n: int) -> IntArray:
    """Validate canonical edges: (E >= 1, 2) ints in range, i < j, rows strictly sorted."""
    arr = np.array(value)
    if arr.size and arr.dtype.kind not in "iu":
        raise QPUSpecError(f"expected integer qubit indices, got dtype {arr.dtype}", "edges")
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise QPUSpecError(f"expected a (num_edges >= 1, 2) array, got shape {arr.shape}", "edges")
    edges = arr.astype(np.int64)
    bad = (edges < 0) | (edges >= n)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise QPUSpecError(f"qubit outside the device (0..{n - 1})", f"edges[{row}]")
    bad_order = edges[:, 0] >= edges[:, 1]
    if bad_order.any():
        row = int(np.flatnonzero(bad_order)[0])
        i, j = edges[row]
        problem = "self-loop" if i == j else "not canonical (need i < j)"
        raise QPUSpecError(f"{problem}: [{i}, {j}]", f"edges[{row}]")
    code = edges[:, 0] * n + edges[:, 1]
    unsorted = np.diff(code) <= 0
    if unsorted.any():
        row = int(np.flatnonzero(unsorted)[0]) + 1
        raise QPUSpecError(
            "rows must be sorted and unique (duplicate or out of order)", f"edges[{row}]"
        )
    edges.flags.writeable = False
    return edges


def _check_calibration(calibration: object, n: int, num_edges: int) -> None:
    if not isinstance(calibration, Calibration):
        raise QPUSpecError(
            f"expected a Calibration, got {type(calibration).__name__}", "calibration"
        )
    for key in ("t1_s", "t2_s", "readout_error", "gate_error_1q"):
        _check_length(f"calibration.{key}", getattr(calibration, key), n, "one per qubit")
    _check_length("calibration.gate_error_2q", calibration.gate_error_2q, num_edges, "one per edge")


# --------------------------------------------------------------------------- parsing

_REQUIRED: Final = (
    "name",
    "technology",
    "num_qubits",
    "edges",
    "basis_gates",
    "virtual_gates",
    "duration_1q_s",
    "duration_2q_s",
    "duration_readout_s",
    "shot_overhead_s",
    "calibration",
    "source",
    "synthetic",
)
_OPTIONAL: Final = ("notes",)
_CAL_REQUIRED: Final = ("t1_s", "t2_s", "readout_error", "gate_error_1q", "gate_error_2q")
_CAL_OPTIONAL: Final = ("version",)
_ALL_TO_ALL: Final = "all_to_all"


def _mapping(
    key: str, value: object, required: tuple[str, ...], optional: tuple[str, ...]
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise QPUSpecError(f"expected a mapping, got {_describe(value)}", key)
    prefix = f"{key}." if key else ""
    allowed = (*required, *optional)
    for k in value:
        if k not in allowed:
            raise QPUSpecError(
                f"unknown key (expected one of {', '.join(allowed)})", f"{prefix}{k}"
            )
    for k in required:
        if k not in value:
            raise QPUSpecError("missing (required)", f"{prefix}{k}")
    return value


def _per_item(key: str, value: object, length: int, what: str) -> FloatArray:
    """A scalar broadcast to ``length`` values, or a list of exactly ``length`` numbers."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return np.full(length, float(value))
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list | tuple):
        raise QPUSpecError(f"expected a number or a list of numbers, got {_describe(value)}", key)
    for i, item in enumerate(value):
        _number(f"{key}[{i}]", item)
    if len(value) != length:
        raise QPUSpecError(f"expected {length} values ({what}), got {len(value)}", key)
    return np.array(value, dtype=np.float64)


def _parse_edges(value: object, n: int) -> tuple[IntArray, npt.NDArray[np.intp]]:
    """Canonical edges and, for each canonical row, the index of the pair in the file."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str) and value == _ALL_TO_ALL:
        i, j = np.triu_indices(n, k=1)
        pairs = np.stack([i, j], axis=1).astype(np.int64)
        return pairs, np.arange(pairs.shape[0])
    if not isinstance(value, list | tuple) or not value:
        raise QPUSpecError(
            f"expected {_ALL_TO_ALL!r} or a non-empty list of [i, j] pairs, got {_describe(value)}",
            "edges",
        )
    seen: dict[tuple[int, int], int] = {}
    for row, pair in enumerate(value):
        key = f"edges[{row}]"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise QPUSpecError(
                f"expected a pair [i, j] of qubit indices, got {_describe(pair)}", key
            )
        for q in pair:
            if isinstance(q, bool) or not isinstance(q, int):
                raise QPUSpecError(f"expected integer qubit indices, got {_describe(q)}", key)
            if not 0 <= q < n:
                raise QPUSpecError(f"qubit {q} outside the device (0..{n - 1})", key)
        a, b = min(pair), max(pair)
        if a == b:
            raise QPUSpecError(f"self-loop [{a}, {b}]", key)
        if (a, b) in seen:
            raise QPUSpecError(f"duplicate coupling [{a}, {b}] (also edges[{seen[a, b]}])", key)
        seen[a, b] = row
    pairs = np.array(list(seen), dtype=np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], np.array(list(seen.values()), dtype=np.intp)[order]


def _from_mapping(data: Mapping[str, Any]) -> QPUSpec:
    if not isinstance(data, Mapping):
        raise QPUSpecError(f"expected a mapping of fields, got {_describe(data)}")
    source = data.get("source")
    if isinstance(source, Mapping):
        data = _from_fake_backend(data, source)
    data = _mapping("", data, _REQUIRED, _OPTIONAL)
    name = _string("name", data["name"])
    technology = _string("technology", data["technology"])
    n = _integer("num_qubits", data["num_qubits"], 2)
    edges, order = _parse_edges(data["edges"], n)
    num_edges = edges.shape[0]
    per_qubit = "one per qubit"
    per_edge = "one per edge"

    cal = _mapping("calibration", data["calibration"], _CAL_REQUIRED, _CAL_OPTIONAL)
    cal_values = {k: _per_item(f"calibration.{k}", cal[k], n, per_qubit) for k in _CAL_REQUIRED[:4]}
    e2 = _per_item("calibration.gate_error_2q", cal["gate_error_2q"], num_edges, per_edge)[order]
    version = _integer("calibration.version", cal.get("version", 0), 0)
    raw_notes = data.get("notes", [])
    if not isinstance(raw_notes, list | tuple):
        raise QPUSpecError(f"expected a list of strings, got {_describe(raw_notes)}", "notes")
    notes = list(raw_notes)
    _, clipped = clip_t2(cal_values["t1_s"], cal_values["t2_s"])
    if clipped.size:
        notes.append(
            f"calibration.t2_s: clipped to 2*t1_s on qubits {clipped.tolist()} "
            "(T2 <= 2*T1 holds for any qubit; a larger fit is an artefact)"
        )
    try:
        calibration = Calibration(**cal_values, gate_error_2q=e2, version=version)
    except QPUSpecError as err:
        raise err.located(None, "calibration.") from None
    return QPUSpec(
        name=name,
        technology=technology,  # type: ignore[arg-type]  # checked by QPUSpec
        num_qubits=n,
        edges=edges,
        basis_gates=_gate_names("basis_gates", data["basis_gates"]),
        virtual_gates=_gate_names("virtual_gates", data["virtual_gates"]),
        duration_1q_s=_per_item("duration_1q_s", data["duration_1q_s"], n, per_qubit),
        duration_2q_s=_per_item("duration_2q_s", data["duration_2q_s"], num_edges, per_edge)[order],
        duration_readout_s=_per_item(
            "duration_readout_s", data["duration_readout_s"], n, per_qubit
        ),
        shot_overhead_s=_number("shot_overhead_s", data["shot_overhead_s"]),
        calibration=calibration,
        source=_string("source", data["source"]),
        synthetic=_boolean("synthetic", data["synthetic"]),
        notes=tuple(notes),
    )


def _boolean(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise QPUSpecError(f"expected true or false, got {_describe(value)}", key)
    return value


def _from_fake_backend(data: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` on top of the IBM snapshot named by ``source.fake_backend``."""
    from qenv.hardware.ibm import from_fake_backend  # ibm imports this module

    _mapping("source", source, ("fake_backend",), ())
    backend = _string("source.fake_backend", source["fake_backend"])
    try:
        base = from_fake_backend(backend).to_mapping()
    except ValueError as err:
        raise QPUSpecError(str(err), "source.fake_backend") from None
    overrides = {k: v for k, v in data.items() if k != "source"}
    merged = {**base, **overrides}
    overridden = [k for k in overrides if k not in ("calibration", "notes")]
    if "calibration" in overrides:
        cal = overrides["calibration"]
        if not isinstance(cal, Mapping):
            raise QPUSpecError(f"expected a mapping, got {_describe(cal)}", "calibration")
        merged["calibration"] = {**base["calibration"], **cal}
        overridden += [f"calibration.{k}" for k in cal]
    notes = list(base["notes"])
    if overridden:
        notes.append(f"overridden on top of the snapshot: {', '.join(overridden)}")
    extra = overrides.get("notes", [])
    merged["notes"] = notes + (list(extra) if isinstance(extra, list | tuple) else [extra])
    return merged


# --------------------------------------------------------------------------- files


def qpu_names() -> tuple[str, ...]:
    """Sorted names of the ``*.yaml`` files in ``<config dir>/qpus/`` (now)."""
    return config_names(_QPU_DIR)


def load_qpu(name_or_path: str | os.PathLike[str]) -> QPUSpec:
    """Load and validate a QPU file: a name in ``<config dir>/qpus/`` or a path.

    A bare name (a ``str`` without ``/`` or ``\\`` and without a ``.yaml``/``.yml``
    suffix) is ``<config dir>/qpus/<name>.yaml``; anything else is a path.

    Raises:
        QPUSpecError: missing file (the message lists the shipped names), YAML syntax
            error (with line and column), or an invalid field (with the file and key).
    """
    _, path = resolve(name_or_path, _QPU_DIR)
    shown = display_path(path)
    if not path.is_file():
        available = ", ".join(qpu_names()) or "none"
        raise QPUSpecError(
            f"QPU file not found; available QPUs: {available} "
            f"(in {display_path(config_dir() / _QPU_DIR)}), or pass a path to a YAML file",
            where=shown,
        )
    data = read_yaml(path, "QPU file", lambda msg: QPUSpecError(msg, where=shown))
    if data is None:
        raise QPUSpecError("empty file (expected a mapping of QPU fields)", where=shown)
    return QPUSpec.from_mapping(data, where=shown)  # type: ignore[arg-type]  # it checks


def default_fleet() -> tuple[QPUSpec, ...]:
    """The six QPUs of :data:`DEFAULT_FLEET`, loaded from ``<config dir>/qpus/``."""
    return tuple(load_qpu(name) for name in DEFAULT_FLEET)
