"""③-2 Execution sandbox: run circuits in a statevector simulator in a child process.

:func:`run_sandbox` sends circuits (pickled) to a child Python process
(``qenv/scoring/_sandbox_child.py`` run as a script: it imports qiskit, not qenv) that
limits its own address space (``RLIMIT_AS``, ``sandbox.memory_limit_mb``) and, for each
circuit, strips the final measurements, runs qiskit's ``Statevector`` and reports one
JSON line: success, the norm drift |‖ψ‖² − 1|, whether every amplitude is finite, the
wall time, or the error. The parent waits at most ``sandbox.time_limit_s`` for each
circuit's line; a circuit that takes longer is a *timeout*: the child is killed and a
fresh one continues with the remaining circuits. A child that dies (out of memory in
native code, a signal) marks its current circuit as crashed, likewise. Circuits wider
than ``sandbox.max_qubits`` or whose statevector (16·2^n bytes) cannot fit in half the
memory limit are refused without running.

Sandbox score (deterministic: no wall time enters it)::

    0                                         error, timeout, crash, memory, non-finite
    clip((−4 − log10 drift) / 6, 0, 1)        otherwise (1 for drift <= 1e-10, 0 at 1e-4)

so a circuit that runs and conserves the norm to 1e-10 scores 1, and a non-unitary
operation (a norm that drifts) lowers it. Results are cached per circuit key in the
process (:data:`CACHE`) and on disk (:mod:`qenv.scoring.diskcache`; completed runs only,
not timeouts, which depend on the machine), so the sandbox runs once per circuit, never
per step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import pickle
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from qiskit import QuantumCircuit

from qenv.scoring import diskcache
from qenv.scoring._sandbox_child import execute
from qenv.tasks import Circuit

__all__ = ["CACHE", "SandboxResult", "execute", "run_sandbox", "sandbox_score"]

_STARTUP_LIMIT_S: Final = 120.0  # the child imports qiskit before its first circuit


@dataclass(frozen=True)
class SandboxResult:
    """Outcome of one circuit in the sandbox."""

    status: str  # "ok", "error", "timeout", "crash", "memory", "too_wide"
    norm_drift: float  # |‖ψ‖² − 1| (nan unless status is "ok")
    seconds: float
    error: str | None = None

    @property
    def score(self) -> float:
        return sandbox_score(self)


def sandbox_score(result: SandboxResult) -> float:
    """The sandbox score of the module docstring."""
    drift = result.norm_drift
    if result.status != "ok" or not math.isfinite(drift):
        return 0.0
    level = -math.log10(max(drift, 1e-300))
    return float(min(max((level - 4.0) / 6.0, 0.0), 1.0))


#: Process-wide results per (circuit key, time limit, memory limit).
CACHE: dict[tuple[str, float, int, int], SandboxResult] = {}


# --------------------------------------------------------------------------- parent
def _read_line(stream: IO[bytes], buffer: bytearray, timeout: float) -> bytes | None:
    """One line from ``stream`` within ``timeout`` s; None on timeout, b"" at EOF."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not sel.select(left):
                return None
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return b""
            buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line + b"\n"


def _spawn(memory_mb: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    # The child needs no threads; stop BLAS pools from reserving address space.
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("RAYON_NUM_THREADS", "1")
    return subprocess.Popen(
        # -P: the script's directory (qenv/scoring) must not shadow top-level modules.
        [sys.executable, "-P", str(Path(__file__).with_name("_sandbox_child.py")), str(memory_mb)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _run_batch(
    circuits: list[QuantumCircuit], time_limit_s: float, memory_mb: int
) -> list[SandboxResult]:
    results: list[SandboxResult] = []
    pending = list(circuits)
    while pending:
        proc = _spawn(memory_mb)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(pickle.dumps(pending))
            proc.stdin.close()
        except OSError as exc:
            _kill(proc)
            raise RuntimeError(f"sandbox: cannot start the child process: {exc}") from exc
        buffer = bytearray()
        ready = _read_line(proc.stdout, buffer, _STARTUP_LIMIT_S)
        if not ready or ready.strip() != b"ready":
            _kill(proc)
            raise RuntimeError("sandbox: the child process did not start")
        done = 0
        for _ in pending:
            start = time.perf_counter()
            line = _read_line(proc.stdout, buffer, time_limit_s)
            if line is None or line == b"":
                elapsed = time.perf_counter() - start
                _kill(proc)
                status = "timeout" if line is None else "crash"
                code = proc.returncode
                error = (
                    f"no result within the {time_limit_s:g} s limit"
                    if line is None
                    else f"the child process died (exit code {code})"
                )
                results.append(SandboxResult(status, float("nan"), elapsed, error))
                done += 1
                break
            data = json.loads(line)
            results.append(
                SandboxResult(
                    str(data["status"]),
                    float(data["norm_drift"]) if data["norm_drift"] is not None else math.nan,
                    float(data["seconds"]),
                    data.get("error"),
                )
            )
            done += 1
        else:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                _kill(proc)
        pending = pending[done:]
    return results


def run_sandbox(
    circuits: Sequence[Circuit],
    *,
    time_limit_s: float = 10.0,
    memory_limit_mb: int = 2048,
    max_qubits: int = 24,
) -> list[SandboxResult]:
    """Sandbox results of ``circuits`` (one child process for all uncached ones)."""
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise ValueError(f"time_limit_s must be > 0, got {time_limit_s!r}")
    out: dict[int, SandboxResult] = {}
    todo: list[tuple[int, tuple[str, float, int, int], QuantumCircuit]] = []
    seen: dict[tuple[str, float, int, int], int] = {}
    for i, circ in enumerate(circuits):
        if not isinstance(circ, Circuit):
            raise ValueError(f"circuits[{i}] must be a qenv Circuit, got {type(circ).__name__}")
        key = (circ.key, float(time_limit_s), int(memory_limit_mb), int(max_qubits))
        if key in CACHE:
            out[i] = CACHE[key]
            continue
        stored = diskcache.get("sandbox", list(key))
        if stored is not None:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                out[i] = CACHE[key] = SandboxResult(
                    str(stored["status"]),
                    float(stored["norm_drift"]),
                    float(stored["seconds"]),
                    stored["error"],
                )
                continue
        n = circ.num_qubits
        if n > max_qubits:
            out[i] = CACHE[key] = SandboxResult(
                "too_wide", math.nan, 0.0, f"{n} qubits > sandbox.max_qubits = {max_qubits}"
            )
            continue
        if 16 * 2**n > memory_limit_mb * 1024 * 1024 // 2:
            out[i] = CACHE[key] = SandboxResult(
                "memory",
                math.nan,
                0.0,
                f"a {n}-qubit statevector needs {16 * 2**n / 2**20:.0f} MiB; the limit is "
                f"{memory_limit_mb} MiB",
            )
            continue
        if key in seen:
            continue
        seen[key] = i
        todo.append((i, key, circ.qc))
    if todo:
        results = _run_batch([qc for _, _, qc in todo], float(time_limit_s), int(memory_limit_mb))
        for (_, key, _), res in zip(todo, results, strict=True):
            CACHE[key] = res
            if res.status in ("ok", "error"):  # not timeouts: they depend on the machine
                diskcache.put("sandbox", list(key), dataclasses.asdict(res))
    for i, circ in enumerate(circuits):
        if i not in out:
            out[i] = CACHE[(circ.key, float(time_limit_s), int(memory_limit_mb), int(max_qubits))]
    return [out[i] for i in range(len(circuits))]
