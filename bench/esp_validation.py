"""ESP against a qutip density-matrix simulation, and the cost of an ESP evaluation.

For every circuit of :func:`qenv.execution.density.validation_circuits` (GHZ-3/4/5,
QFT-3/4, QAOA-4/5, HEA-4) on every device of :func:`validation_devices` (IBM Nairobi's
snapshot, IonQ Aria, the synthetic photonic device, and Nairobi with 10× errors and
T1/T2 ÷ 10), the circuit is routed (:func:`qenv.execution.route`, seed 0), scored with
:func:`qenv.execution.esp` and simulated with
:func:`qenv.execution.density.noisy_outcome`. Printed and written as JSON: every point,
the Spearman rank correlation between ESP and the simulated success metric, their mean
and maximum absolute difference, and the median time of one ``log_esp`` call (the
environment's hot path when a calibration drifts) and of one ``route`` call.

Run: ``.venv/bin/python -m bench.esp_validation [--out bench/esp_validation.json]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from qenv.execution import esp, log_esp, route
from qenv.execution.density import (
    agreement,
    validate_esp,
    validation_circuits,
    validation_devices,
)


def esp_timing(repeats: int = 7, calls: int = 20_000) -> dict[str, float]:
    """Median (over ``repeats``) microseconds per ``log_esp`` and per ``esp`` call."""
    spec = validation_devices()[0]
    routed = route(validation_circuits()["qaoa5"], spec)
    cal = spec.calibration
    out: dict[str, float] = {}
    for name, fn in (("log_esp_us", log_esp), ("esp_us", esp)):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                fn(routed, cal)
            times.append((time.perf_counter() - start) / calls * 1e6)
        out[name] = statistics.median(times)
        out[name.replace("_us", "_us_min")] = min(times)
    return out


def route_timing(repeats: int = 5) -> dict[str, float]:
    """Median milliseconds of one ``route`` of QAOA-5 on each validation device."""
    circuit = validation_circuits()["qaoa5"]
    out = {}
    for spec in validation_devices():
        route(circuit, spec)  # warm the target and pass-manager caches
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            route(circuit, spec)
            times.append((time.perf_counter() - start) * 1e3)
        out[spec.name] = statistics.median(times)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/esp_validation.json"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    points = validate_esp(validation_circuits(args.seed), validation_devices(), seed=args.seed)
    elapsed = time.perf_counter() - start
    summary = agreement(points)
    print(
        f"{'circuit':8s} {'device':22s} {'ESP':>8s} {'qutip':>8s} {'F_state':>8s} "
        f"{'F_hell':>8s} {'qubits':>6s} {'2q':>4s} {'swaps':>5s}"
    )
    for p in points:
        print(
            f"{p.circuit:8s} {p.device:22s} {p.esp:8.4f} {p.success:8.4f} "
            f"{p.state_fidelity:8.4f} {p.hellinger_fidelity:8.4f} {p.num_qubits:6d} "
            f"{p.two_qubit_count:4d} {p.swaps:5d}"
        )
    print(
        f"Spearman {summary['spearman']:.4f}, mean |ESP - qutip| "
        f"{summary['mean_abs_diff']:.4f}, max {summary['max_abs_diff']:.4f} "
        f"over {len(points)} points ({elapsed:.1f} s)"
    )
    timing = esp_timing()
    routing = route_timing()
    print(
        f"log_esp: {timing['log_esp_us']:.2f} µs per call (median), esp: "
        f"{timing['esp_us']:.2f} µs; route QAOA-5 (ms): "
        + ", ".join(f"{k} {v:.1f}" for k, v in routing.items())
    )
    result = {
        "command": "python -m bench.esp_validation " + " ".join(argv or sys.argv[1:]),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "seed": args.seed,
        "agreement": summary,
        "grid_seconds": elapsed,
        "esp_timing": timing,
        "route_ms": routing,
        "points": [dataclasses.asdict(p) for p in points],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
