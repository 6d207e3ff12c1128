"""Child process of the execution sandbox (:mod:`qenv.scoring.sandbox`).

Run as a script (``python _sandbox_child.py MEMORY_MB``), so that it imports only numpy and
qiskit, not the qenv package: it reads a pickled list of circuits from stdin, limits its
address space to MEMORY_MB, prints ``ready`` and then one JSON line per circuit
(:func:`execute`).
"""

from __future__ import annotations

import contextlib
import json
import math
import pickle
import sys
import time
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

_NON_UNITARY = frozenset({"measure", "reset", "if_else", "while_loop", "for_loop", "switch_case"})


def execute(qc: QuantumCircuit) -> dict[str, Any]:
    """Statevector run of ``qc`` without its final measurements: status, norm drift, time."""
    start = time.perf_counter()

    def failed(status: str, error: str) -> dict[str, Any]:
        return {
            "status": status,
            "norm_drift": None,
            "seconds": time.perf_counter() - start,
            "error": error[:500],
        }

    try:
        body = qc.remove_final_measurements(inplace=False)
        bad = sorted({ci.operation.name for ci in body.data} & _NON_UNITARY)
        if bad:
            return failed("error", f"non-unitary operation(s) before the end: {', '.join(bad)}")
        data = np.asarray(Statevector(body).data)
        norm = float(np.vdot(data, data).real)
        if not (np.isfinite(data).all() and math.isfinite(norm)):
            return failed("error", "non-finite amplitudes")
        return {
            "status": "ok",
            "norm_drift": abs(norm - 1.0),
            "seconds": time.perf_counter() - start,
            "error": None,
        }
    except MemoryError:
        return failed("memory", "out of memory")
    except Exception as exc:  # anything the simulator raises is the circuit's failure
        return failed("error", f"{type(exc).__name__}: {exc}")


def main(memory_mb: int) -> None:
    circuits = pickle.loads(sys.stdin.buffer.read())
    with contextlib.suppress(ValueError, OSError, ImportError):
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for qc in circuits:
        out.write(json.dumps(execute(qc)) + "\n")
        out.flush()


if __name__ == "__main__":
    main(int(sys.argv[1]))
