"""① Ingestion: OpenQASM 2/3 (files or strings) and Python-built circuits into one IR.

The internal representation is :class:`qenv.tasks.Circuit`: a bound, measured qiskit
circuit with a content key (SHA-256 of its canonical instruction listing), the object the
workloads, the router and every score cache already key on. :func:`ingest` accepts

* a :class:`~qenv.tasks.Circuit` (returned as is);
* a qiskit ``QuantumCircuit`` built in Python (copied; ``measure_all()`` is added when it
  measures nothing, as :func:`qenv.tasks.load_qasm` does, so every task yields counts);
* OpenQASM 2 or 3 program text, or a path to a file (read by :func:`qenv.tasks.load_qasm`,
  whose :class:`~qenv.tasks.QasmError` carries the file, line and column).

A ``QuantumCircuit`` with unbound parameters is refused with a ``ValueError`` naming
them (bind them with ``assign_parameters`` first); :func:`qenv.scoring.logic.logic_score`
scores such a circuit 0 instead when it is given the raw ``QuantumCircuit``.
Circuits that do not come from qenv's generators get the family ``"qasm"``, the family of
external circuits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeAlias

from qiskit import QuantumCircuit

from qenv.tasks import Circuit, load_qasm

__all__ = ["CircuitLike", "ingest"]

#: What :func:`ingest` accepts.
CircuitLike: TypeAlias = "Circuit | QuantumCircuit | str | os.PathLike[str]"


def ingest(
    source: CircuitLike,
    *,
    name: str | None = None,
    parameters: Mapping[str, float] | None = None,
) -> Circuit:
    """The :class:`~qenv.tasks.Circuit` of ``source`` (see the module docstring).

    Args:
        source: a Circuit, a QuantumCircuit, OpenQASM text, or a path to an OpenQASM file.
        name: the circuit's name (default: the Circuit's, the QuantumCircuit's, or
            :func:`load_qasm`'s).
        parameters: values of OpenQASM 3 ``input`` parameters (QASM sources only).

    Raises:
        QasmError: malformed OpenQASM (with file, line and column where known).
        ValueError: a QuantumCircuit with unbound parameters; an unsupported type.
    """
    if isinstance(source, Circuit):
        return source if name is None else source.renamed(name)
    if isinstance(source, QuantumCircuit):
        if parameters:
            raise ValueError(
                "parameters: only for OpenQASM sources; bind a QuantumCircuit "
                "with assign_parameters"
            )
        if source.num_parameters:
            names = ", ".join(p.name for p in source.parameters)
            raise ValueError(
                f"circuit {source.name!r}: unbound parameter(s) {names}; bind them with "
                "assign_parameters before scoring"
            )
        qc = source.copy()
        if "measure" not in qc.count_ops():
            qc.measure_all()
        label = name or qc.name or "circuit"
        qc.name = label
        return Circuit(label, "qasm", qc)
    if isinstance(source, str | os.PathLike):
        if isinstance(source, str) and not source.strip():
            raise ValueError("source: empty OpenQASM text")
        text_or_path: str | os.PathLike[str] = source
        if isinstance(source, Path):
            text_or_path = source
        return load_qasm(text_or_path, name=name, parameters=parameters)
    raise ValueError(
        "source must be a qenv Circuit, a qiskit QuantumCircuit, OpenQASM text or a path, "
        f"got {type(source).__name__}"
    )
