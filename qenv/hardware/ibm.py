"""IBM superconducting QPUs from the calibration snapshots shipped with qiskit-ibm-runtime.

qiskit-ibm-runtime ships, for each retired or current IBM device, the backend
configuration and one day's calibration as JSON
(``qiskit_ibm_runtime/fake_provider/backends/<name>/{conf,props}_<name>.json``). This
module reads those files directly, without importing ``qiskit_ibm_runtime`` (its
provider takes about 10 s to import), and turns them into a :class:`QPUSpec`:

* per qubit: ``T1``, ``T2`` (µs in the files, → s), ``readout_error`` and
  ``readout_length`` (ns → s);
* the single-qubit error and duration of the first calibrated non-virtual gate among
  ``sx``, ``x``, ``u2``, ``rx``, ``u3`` that is in the configuration's ``basis_gates``
  (``sx`` on every device with an ``sx`` gate; in these snapshots ``x`` has the same
  length and the same reported error as ``sx``);
* the two-qubit gate: whichever of ``cx``, ``ecr``, ``cz`` is in ``basis_gates`` and
  calibrated; the edges are the undirected union of its calibrated pairs, taking the
  worse error and the longer duration of the two directions;
* virtual gates: basis gates whose every calibrated entry has zero length and zero
  error (``rz``; ``u1`` on the old u1/u2/u3 devices);
* ``shot_overhead_s``: the configuration's ``default_rep_delay`` (µs), else its first
  ``rep_times`` entry, else :data:`DEFAULT_SHOT_OVERHEAD_S` (250 µs, IBM's default
  repetition delay with dynamic repetition rate).

Known defects of the snapshots, each handled and recorded in ``QPUSpec.notes``:

* ``gate_error = 1`` entries mark uncalibrated gates (e.g. Brisbane has one, Kyoto all
  144 of its ``ecr`` pairs): treated as missing and replaced by the device median of that
  gate (values ``>= 1`` or negative are treated the same way);
* a qubit with T2 > 2·T1 (Hanoi has five; Cairo four): T2 is clipped to 2·T1;
* missing properties (Kingston's qubit 146 has no T1/T2; the old u1/u2/u3 devices carry
  no ``readout_length``): replaced by the device median; ``readout_length`` missing on
  every qubit falls back to the ``measure`` gate's length, else to
  :data:`DEFAULT_READOUT_S`;
* some files give ``rep_times`` in seconds (``0.001``) instead of µs (``1000.0``): a value
  below 1 is read as seconds;
* a device that calibrates two of cx/ecr/cz (Cairo: 12 cx and 14 ecr directions) is
  modelled with the gate on more pairs over the union of the pairs (the three are
  equivalent up to single-qubit gates).

A quantity with no usable value on any qubit or edge (Kyoto's ``ecr``) cannot be
filled from a median: :func:`from_fake_backend` raises ``QPUSpecError`` for it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from qenv.hardware.spec import (
    ONE_QUBIT_GATES,
    Calibration,
    FloatArray,
    QPUSpec,
    QPUSpecError,
    clip_t2,
)

__all__ = [
    "DEFAULT_READOUT_S",
    "DEFAULT_SHOT_OVERHEAD_S",
    "available_fake_backends",
    "fake_backends_dir",
    "from_fake_backend",
    "from_properties",
]

PACKAGE: Final = "qiskit_ibm_runtime"
#: IBM's default repetition delay (dynamic repetition rate), used when a configuration
#: gives neither ``default_rep_delay`` nor ``rep_times``.
DEFAULT_SHOT_OVERHEAD_S: Final = 250e-6
#: Readout duration assumed when a snapshot has no ``readout_length`` and no ``measure``
#: gate at all (the old u1/u2/u3 devices of 2019-2020): the 5.81 µs that the same
#: generation's Ourense, Valencia and Vigo snapshots report.
DEFAULT_READOUT_S: Final = 5.8e-6

_UNITS: Final = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}
_ERROR_GATES_1Q: Final = ("sx", "x", "u2", "rx", "u3")
_TWO_QUBIT: Final = ("cx", "ecr", "cz")
_NOT_BASIS: Final = frozenset({"id", "delay", "measure", "reset"})
_MAX_LISTED: Final = 12  # entries named in one note


def _qubit_label(qubits: Sequence[int]) -> str:
    return f"q{qubits[0]}" if len(qubits) == 1 else f"({', '.join(str(q) for q in qubits)})"


# --------------------------------------------------------------------------- files


def fake_backends_dir() -> Path:
    """``.../qiskit_ibm_runtime/fake_provider/backends``, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise QPUSpecError(
            f"the {PACKAGE} package is not installed (pip install qiskit-ibm-runtime); "
            "it ships the IBM calibration snapshots"
        )
    return Path(locations[0]) / "fake_provider" / "backends"


def available_fake_backends() -> tuple[str, ...]:
    """Sorted names (``"nairobi"``, ...) of the snapshots with both JSON files."""
    root = fake_backends_dir()
    if not root.is_dir():
        return ()
    return tuple(
        sorted(
            d.name
            for d in root.iterdir()
            if (d / f"props_{d.name}.json").is_file() and (d / f"conf_{d.name}.json").is_file()
        )
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise QPUSpecError(f"cannot read {path.name}: {err}", where=str(path)) from err
    if not isinstance(data, dict):
        raise QPUSpecError("expected a JSON object", where=str(path))
    return data


def from_fake_backend(name: str) -> QPUSpec:
    """The QPU of the fake backend ``name`` (``"nairobi"``; ``"fake_"``/``"ibm_"`` allowed).

    The spec is named ``ibm_<name>``; results are cached (specs are immutable).

    Raises:
        QPUSpecError: unknown name (the message lists the available ones), unreadable
            files, or a quantity with no usable value on the whole device.
    """
    short = name.removeprefix("fake_").removeprefix("ibm_")
    available = available_fake_backends()
    if short not in available:
        raise QPUSpecError(
            f"unknown fake backend {name!r}; available: {', '.join(available) or 'none'}"
        )
    return _load_fake_backend(short)


@functools.cache
def _load_fake_backend(short: str) -> QPUSpec:
    directory = fake_backends_dir() / short
    props = _read_json(directory / f"props_{short}.json")
    conf = _read_json(directory / f"conf_{short}.json")
    version = importlib.metadata.version("qiskit-ibm-runtime")
    date = props.get("last_update_date", "unknown date")
    source = (
        f"qiskit-ibm-runtime {version} fake backend {short}: "
        f"fake_provider/backends/{short}/props_{short}.json and conf_{short}.json "
        f"(calibration of {date})"
    )
    return from_properties(props, conf, name=f"ibm_{short}", source=source)


# --------------------------------------------------------------------------- parsing


def _seconds(item: Mapping[str, Any], where: str) -> float:
    unit = item.get("unit", "")
    if unit not in _UNITS:
        raise QPUSpecError(f"unknown time unit {unit!r} (expected one of {sorted(_UNITS)})", where)
    return float(item["value"]) * _UNITS[unit]


def _params(items: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {item["name"]: item for item in items if "name" in item and "value" in item}


class _Filler:
    """Replaces missing values by the device median and writes down what it did."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.notes: list[str] = []

    def fill(self, key: str, values: FloatArray, what: str, names: Sequence[str]) -> FloatArray:
        missing = np.isnan(values)
        if not missing.any():
            return values
        if missing.all():
            raise QPUSpecError(f"no usable value on any {what} of the device", key, self.label)
        median = float(np.nanmedian(values))
        idx = np.flatnonzero(missing)
        where = ", ".join(names[i] for i in idx[:_MAX_LISTED])
        if idx.size > _MAX_LISTED:
            where += f" and {idx.size - _MAX_LISTED} more"
        self.notes.append(
            f"{key}: missing or uncalibrated on {what}s {where}; replaced by the device "
            f"median {median:.4g}"
        )
        return np.where(missing, median, values)


def _probability(param: Mapping[str, Any] | None) -> float:
    """A calibrated error in [0, 1), else NaN (missing, or the ``1`` of an uncalibrated gate)."""
    if param is None:
        return float("nan")
    value = float(param["value"])
    return value if 0.0 <= value < 1.0 else float("nan")


def from_properties(
    props: Mapping[str, Any],
    conf: Mapping[str, Any],
    *,
    name: str | None = None,
    source: str = "IBM backend properties",
) -> QPUSpec:
    """A :class:`QPUSpec` from IBM ``BackendProperties``/``BackendConfiguration`` dicts.

    ``props`` and ``conf`` are the parsed ``props_<name>.json`` and ``conf_<name>.json``
    (only the fields named in the module docstring are read). ``name`` defaults to the
    configuration's ``backend_name``. Defects are handled as described in the module
    docstring and recorded in ``notes``.
    """
    label = name or str(conf.get("backend_name", "backend"))
    filler = _Filler(label)
    n = conf.get("n_qubits")
    qubits = props.get("qubits")
    if not isinstance(n, int) or not isinstance(qubits, list) or len(qubits) != n:
        got = len(qubits) if isinstance(qubits, list) else qubits
        raise QPUSpecError(
            f"conf n_qubits {n!r} does not match {got!r} qubits in props", "props.qubits", label
        )
    qubit_names = [f"q{q}" for q in range(n)]

    # ---------------------------------------------------------------- qubits
    t1, t2, readout, readout_len = (np.full(n, np.nan) for _ in range(4))
    for q, items in enumerate(qubits):
        p = _params(items)
        here = f"props.qubits[{q}]"
        if "T1" in p and float(p["T1"]["value"]) > 0:
            t1[q] = _seconds(p["T1"], f"{here}.T1")
        if "T2" in p and float(p["T2"]["value"]) > 0:
            t2[q] = _seconds(p["T2"], f"{here}.T2")
        readout[q] = _probability(p.get("readout_error"))
        if "readout_length" in p and float(p["readout_length"]["value"]) > 0:
            readout_len[q] = _seconds(p["readout_length"], f"{here}.readout_length")

    # ---------------------------------------------------------------- gates
    gates: dict[str, list[tuple[tuple[int, ...], float, float]]] = {}
    for g, entry in enumerate(props.get("gates", [])):
        p = _params(entry.get("parameters", []))
        length = p.get("gate_length")
        duration = _seconds(length, f"props.gates[{g}].gate_length") if length else float("nan")
        qs = tuple(int(q) for q in entry.get("qubits", []))
        gates.setdefault(str(entry.get("gate")), []).append(
            (qs, _probability(p.get("gate_error")), duration)
        )

    basis_conf = [str(g) for g in conf.get("basis_gates", [])]
    one_q = [g for g in basis_conf if g in ONE_QUBIT_GATES and g not in _NOT_BASIS]
    error_gate = next((g for g in _ERROR_GATES_1Q if g in one_q and g in gates), None)
    if error_gate is None:
        raise QPUSpecError(
            f"no calibrated non-virtual single-qubit gate ({', '.join(_ERROR_GATES_1Q)}) "
            f"in basis_gates {basis_conf}",
            "conf.basis_gates",
            label,
        )
    e1, d1 = np.full(n, np.nan), np.full(n, np.nan)
    for qs, err, dur in gates[error_gate]:
        if len(qs) == 1 and 0 <= qs[0] < n:
            e1[qs[0]] = err if np.isnan(e1[qs[0]]) else max(e1[qs[0]], err)
            d1[qs[0]] = dur
    virtual = tuple(
        g for g in one_q if g in gates and all(err == 0 and dur == 0 for _, err, dur in gates[g])
    )

    two_q = {
        g: [(qs, err, dur) for qs, err, dur in gates[g] if len(qs) == 2]
        for g in _TWO_QUBIT
        if g in basis_conf and g in gates
    }
    two_q = {g: entries for g, entries in two_q.items() if entries}
    if not two_q:
        raise QPUSpecError(
            f"no calibrated two-qubit gate ({', '.join(_TWO_QUBIT)}) in basis_gates {basis_conf}",
            "conf.basis_gates",
            label,
        )
    gate_2q = max(two_q, key=lambda g: len(two_q[g]))  # first of cx, ecr, cz on ties
    if len(two_q) > 1:
        counts = ", ".join(f"{len(v)} {g}" for g, v in two_q.items())
        filler.notes.append(
            f"basis_gates: the snapshot calibrates several two-qubit gates ({counts} "
            f"directions); modelled as {gate_2q} on the union of their pairs (cx, ecr and "
            "cz are equal up to single-qubit gates)"
        )
    pairs: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for entries in two_q.values():
        for (a, b), err, dur in entries:
            if a == b or not (0 <= a < n and 0 <= b < n):
                raise QPUSpecError(f"bad two-qubit gate on qubits {(a, b)}", "props.gates", label)
            pairs.setdefault((min(a, b), max(a, b)), []).append((err, dur))
    edge_list = sorted(pairs)
    edges = np.array(edge_list, dtype=np.int64)
    both = [np.array(pairs[e], dtype=np.float64) for e in edge_list]
    # The worse of the two directions; NaN only when no direction is calibrated.
    e2 = np.array([np.nan if np.isnan(v[:, 0]).all() else np.nanmax(v[:, 0]) for v in both])
    d2 = np.array([np.nan if np.isnan(v[:, 1]).all() else np.nanmax(v[:, 1]) for v in both])
    edge_names = [f"({a}, {b})" for a, b in edge_list]

    # ---------------------------------------------------------------- defects
    used = {error_gate, *two_q}
    flagged = [
        f"{entry.get('gate')} {_qubit_label(entry.get('qubits', []))}"
        for entry in props.get("gates", [])
        if entry.get("gate") in used
        for item in entry.get("parameters", [])
        if item.get("name") == "gate_error" and float(item.get("value", 0)) >= 1
    ]
    if flagged:
        shown = ", ".join(flagged[:_MAX_LISTED])
        more = f" and {len(flagged) - _MAX_LISTED} more" if len(flagged) > _MAX_LISTED else ""
        filler.notes.append(
            f"gate_error = 1 (uncalibrated) treated as missing on {shown}{more}; an edge "
            "keeps its other direction's error when that one is calibrated"
        )
    if np.isnan(readout_len).all():
        measure = np.full(n, np.nan)
        for qs, _, dur in gates.get("measure", []):
            if len(qs) == 1 and 0 <= qs[0] < n:
                measure[qs[0]] = dur
        if np.isnan(measure).all():
            measure[:] = DEFAULT_READOUT_S
            filler.notes.append(
                f"duration_readout_s: no readout_length or measure gate in the snapshot; "
                f"assumed {DEFAULT_READOUT_S:g} s on every qubit"
            )
        else:
            filler.notes.append("duration_readout_s: taken from the measure gate's length")
        readout_len = measure
    t1 = filler.fill("calibration.t1_s", t1, "qubit", qubit_names)
    t2 = filler.fill("calibration.t2_s", t2, "qubit", qubit_names)
    readout = filler.fill("calibration.readout_error", readout, "qubit", qubit_names)
    e1 = filler.fill("calibration.gate_error_1q", e1, "qubit", qubit_names)
    e2 = filler.fill("calibration.gate_error_2q", e2, "edge", edge_names)
    d1 = filler.fill("duration_1q_s", d1, "qubit", qubit_names)
    d2 = filler.fill("duration_2q_s", d2, "edge", edge_names)
    readout_len = filler.fill("duration_readout_s", readout_len, "qubit", qubit_names)
    _, clipped = clip_t2(t1, t2)
    if clipped.size:
        filler.notes.append(
            f"calibration.t2_s: T2 > 2*T1 on qubits {clipped.tolist()}; clipped to 2*T1"
        )

    overhead, overhead_note = _shot_overhead(conf)
    if overhead_note:
        filler.notes.append(overhead_note)
    calibration = Calibration(
        t1_s=t1, t2_s=t2, readout_error=readout, gate_error_1q=e1, gate_error_2q=e2
    )
    try:
        return QPUSpec(
            name=label,
            technology="superconducting",
            num_qubits=n,
            edges=edges,
            basis_gates=(*(g for g in one_q if g != "id"), gate_2q),
            virtual_gates=virtual,
            duration_1q_s=d1,
            duration_2q_s=d2,
            duration_readout_s=readout_len,
            shot_overhead_s=overhead,
            calibration=calibration,
            source=source,
            synthetic=False,
            notes=tuple(filler.notes),
        )
    except QPUSpecError as err:
        raise err.located(label) from None


def _shot_overhead(conf: Mapping[str, Any]) -> tuple[float, str]:
    """(seconds, note): default_rep_delay (µs), else rep_times[0], else the default."""
    delay = conf.get("default_rep_delay")
    if isinstance(delay, int | float) and not isinstance(delay, bool) and delay >= 0:
        return float(delay) * 1e-6, ""
    rep_times = conf.get("rep_times")
    if isinstance(rep_times, list) and rep_times and isinstance(rep_times[0], int | float):
        value = float(rep_times[0])
        if value < 1.0:  # a few files store seconds (0.001) where the schema says µs (1000)
            return value, f"shot_overhead_s: rep_times[0] = {value:g} read as seconds"
        return value * 1e-6, "shot_overhead_s: no default_rep_delay; used rep_times[0] (µs)"
    return DEFAULT_SHOT_OVERHEAD_S, (
        f"shot_overhead_s: no default_rep_delay or rep_times; assumed {DEFAULT_SHOT_OVERHEAD_S:g} s"
    )
