"""Benchmarks of qenv, written as JSON (``make bench``). Medians over repeats, one core.

Engine: slots per second of ``NetworkEngine.step`` (generate, decohere, cut off,
refill swap credits) on the DPEM random mesh at several sizes, and the cost per
link per slot, whose flatness across sizes shows linear scaling.
Chain: wall time of ``chain_delivery_time`` to a 1% standard error.
Environment: agent-steps per second of ``EntanglementAllocation-v0`` (one agent per
node) with random valid actions, at 10, 100 and 1,000 nodes; the whole PettingZoo
``step`` (actions dict in, five dicts out) is timed, reset and path search are not.
QPU: agent-steps per second of ``QPUAllocation-v0`` on its default scenario with random
valid actions (:mod:`bench.qpu_bench`). Forecast: the 100-node environment with the
demand forecaster attached, beside the bare one (:mod:`bench.forecast_bench`).
Train: RLlib's sampling throughput on the 100-node experiment, per node and per edge
cloud, with 2 env runners on 2 cores (:mod:`bench.train_bench`). Curve: ``qenv train``
on ``configs/dpem_quick.yaml`` for 10 minutes, every checkpoint evaluated, and the final
checkpoint against every baseline (the learning target; about 15 minutes in all).

``--only engine,qpu`` runs some sections and updates them in an existing ``--out``
file, keeping the others.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np

from qenv.network.chains import estimate_chain_delivery
from qenv.network.engine import NetworkEngine
from qenv.network.topology import random_mesh


def engine_slots_per_second(
    n_nodes: int, slots: int, repeats: int, seed: int = 0
) -> dict[str, float]:
    rates = []
    n_links = 0
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        engine = NetworkEngine(random_mesh(n_nodes, rng=rng))
        n_links = engine.n_links
        for _ in range(200):  # warm up: fill memories to their steady state
            engine.step(rng)
        start = time.perf_counter()
        for _ in range(slots):
            engine.step(rng)
        rates.append(slots / (time.perf_counter() - start))
    median = statistics.median(rates)
    return {
        "nodes": n_nodes,
        "links": n_links,
        "slots_per_second_median": median,
        "slots_per_second_all": rates,
        "microseconds_per_link_slot": 1e6 / (median * n_links),
    }


def env_agent_steps(n_nodes: int, steps: int, repeats: int, seed: int = 0) -> dict[str, Any]:
    """Agent-steps/s of the PettingZoo env on a random mesh of ``n_nodes`` (DPEM traffic)."""
    from qenv.envs.entanglement.env import EntanglementAllocationEnv

    rates, step_us = [], []
    for r in range(repeats):
        if n_nodes == 100:
            env = EntanglementAllocationEnv("dpem", seed + r, horizon=steps)
        else:
            env = EntanglementAllocationEnv(
                "dpem", seed + r, horizon=steps, scenario_overrides={"topology.n_nodes": n_nodes}
            )
        rng = np.random.default_rng(seed + r)
        env.reset(seed=seed + r)
        env.reset(seed=seed + r)  # paths of this episode's requests are now cached
        start = time.perf_counter()
        while env.agents:
            mask = env.core_mask()
            node_actions = (rng.random(mask.shape) * mask).argmax(axis=1)
            env.step(env.node_actions_to_agents(node_actions))
        elapsed = time.perf_counter() - start
        rates.append(steps * n_nodes / elapsed)
        step_us.append(1e6 * elapsed / steps)
    return {
        "nodes": n_nodes,
        "agents": n_nodes,
        "steps": steps,
        "agent_steps_per_second_median": statistics.median(rates),
        "agent_steps_per_second_all": rates,
        "step_microseconds_median": statistics.median(step_us),
        "microseconds_per_node_step": statistics.median(step_us) / n_nodes,
    }


def chain_timing(repeats: int) -> dict[str, float | int]:
    times = []
    est = None
    for r in range(repeats):
        start = time.perf_counter()
        est = estimate_chain_delivery(4, 0.1, 0.5, None, "swap_asap", samples=10_000, seed=r)
        times.append(time.perf_counter() - start)
    assert est is not None
    return {
        "case": "n=4, p=0.1, swap_prob=0.5, swap_asap, 10,000 samples",
        "seconds_median": statistics.median(times),
        "relative_stderr": est.stderr / est.mean,
    }


SECTIONS = ("engine", "chain", "env", "qpu", "forecast", "train", "curve")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="bench/results.json")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--slots", type=int, default=5000)
    parser.add_argument("--env-steps", type=int, default=1000, help="slots per env episode")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma list of sections to run (default all: {','.join(SECTIONS)}); the "
        "others are kept from an existing --out file",
    )
    parser.add_argument(
        "--curve-time", type=float, default=600.0, help="training seconds of the curve section"
    )
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        parser.error(f"--only: unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    results: dict[str, Any] = {}
    if set(only) != set(SECTIONS) and os.path.exists(args.out):
        with open(args.out) as fh:
            results = json.load(fh)
    results["command"] = " ".join(
        [os.path.basename(sys.executable), "-m", "bench.run", *sys.argv[1:]]
    )
    results["machine"] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    sizes = (10, 100, 1000)
    if "engine" in only:
        results["engine"] = [engine_slots_per_second(n, args.slots, args.repeats) for n in sizes]
    if "chain" in only:
        results["chain_delivery_time"] = chain_timing(args.repeats)
    if "env" in only:
        results["env"] = [env_agent_steps(n, args.env_steps, args.repeats) for n in sizes]
    if "qpu" in only:
        from bench.qpu_bench import run as qpu_run

        results["qpu_env"] = qpu_run(args.repeats, args.env_steps)
    if "forecast" in only:
        from bench.forecast_bench import run as forecast_run

        results["env_forecast"] = forecast_run(args.repeats, args.env_steps)
    if "train" in only:
        from bench.train_bench import run as train_run

        # RLlib sampling: 3 repeats of 1,000 env steps at each granularity (~5 minutes).
        results["train_sampling"] = train_run(steps=1000, repeats=3)
    if "curve" in only:
        from bench.train_bench import learning_curve

        stamp = time.strftime("%Y%m%d-%H%M%S")
        results["learning_curve"] = learning_curve(f"runs/bench_curve-{stamp}", args.curve_time)
    results["targets"] = {
        "engine_slots_per_second_at_100_nodes": 10_000,
        "env_agent_steps_per_second_at_100_nodes": 200_000,
        "qpu_env_agent_steps_per_second": 50_000,
        "env_with_forecaster_agent_steps_per_second_at_100_nodes": 100_000,
        "learning_curve": "PPO's delivery rate above every non-oracle baseline's on the "
        "8-node experiment within 600 s of training on 2 cores",
    }
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2)
    _print_summary(results)
    print(f"written to {args.out}")


def _print_summary(results: dict[str, Any]) -> None:
    for row in results.get("engine", []):
        print(
            f"engine {row['nodes']:>5} nodes {row['links']:>5} links: "
            f"{row['slots_per_second_median']:>9.0f} slots/s, "
            f"{row['microseconds_per_link_slot']:.3f} us per link-slot"
        )
    chain = results.get("chain_delivery_time")
    if chain:
        secs, err = chain["seconds_median"], chain["relative_stderr"]
        print(f"chain_delivery_time: {secs:.2f} s for {err:.2%} relative standard error")
    for row in results.get("env", []):
        print(
            f"env {row['nodes']:>5} nodes: {row['agent_steps_per_second_median']:>9.0f} "
            f"agent-steps/s, {row['step_microseconds_median']:.0f} us per step, "
            f"{row['microseconds_per_node_step']:.2f} us per node-step"
        )
    qpu = results.get("qpu_env")
    if qpu:
        print(
            f"QPUAllocation-v0 {qpu['scenario']} ({qpu['gateways']} gateways, {qpu['qpus']} "
            f"QPUs): {qpu['agent_steps_per_second_median']:.0f} agent-steps/s, "
            f"{qpu['step_microseconds_median']:.0f} us per step"
        )
    fc = results.get("env_forecast")
    if fc:
        print(
            f"EntanglementAllocation-v0 100 nodes with the forecaster: "
            f"{fc['agent_steps_per_second_median']:.0f} agent-steps/s "
            f"(bare: {fc['without_wrapper_agent_steps_per_second_median']:.0f})"
        )
    for g, r in (results.get("train_sampling") or {}).get("sampling", {}).items():
        print(
            f"RLlib sampling, 100 nodes per {g}: {r['env_steps_per_s_median']:.1f} env "
            f"steps/s, {r['agent_steps_per_s_median']:.0f} agent-steps/s "
            f"({r['num_env_runners']} env runners)"
        )
    curve = results.get("learning_curve")
    if curve and curve.get("evaluation"):
        table = ", ".join(
            f"{name} {m.get('delivery_rate'):.3f}"
            for name, m in curve["evaluation"].items()
            if m.get("delivery_rate") is not None
        )
        print(f"dpem_quick after {curve['wall_s']:.0f} s: delivery rate {table}")


if __name__ == "__main__":
    main()
