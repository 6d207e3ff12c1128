"""Agent-steps per second of ``QPUAllocation-v0`` with random valid actions.

The whole PettingZoo ``step`` is timed (actions dict in, five dicts out, observations
with the AHMO block filled by the env's scorer); construction (routing every circuit
on every device, once per process) and ``reset`` are not. Each repeat plays one
episode of ``steps`` slots on the scenario with a fresh seed, after one untimed
episode that warms the compiled kernels. Run alone::

    taskset -c 0 python -m bench.qpu_bench --repeats 5 --steps 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np


def _play(env: Any, rng: np.random.Generator) -> None:
    while env.agents:
        mask = env.core_mask()
        actions = (rng.random(mask.shape) * mask).argmax(axis=1)
        env.step(env.gateway_actions_to_agents(actions))


def run(repeats: int = 5, steps: int = 1000, scenario: str = "default") -> dict[str, Any]:
    """Median agent-steps/s over ``repeats`` episodes of ``steps`` slots."""
    from qenv.envs.qpu.env import QPUAllocationEnv

    start = time.perf_counter()
    env = QPUAllocationEnv(scenario, 0, horizon=steps)
    build_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    env.reset(seed=10_000)
    _play(env, rng)  # warm-up: kernels compiled or loaded from the cache
    rates, step_us = [], []
    for r in range(repeats):
        env.reset(seed=r)
        start = time.perf_counter()
        _play(env, rng)
        elapsed = time.perf_counter() - start
        rates.append(steps * env.core.n_gateways / elapsed)
        step_us.append(1e6 * elapsed / steps)
    return {
        "scenario": scenario,
        "gateways": env.core.n_gateways,
        "qpus": env.core.n_qpus,
        "circuits": len(env.core.workload.library),
        "steps": steps,
        "construction_seconds_first": build_s,
        "agent_steps_per_second_median": statistics.median(rates),
        "agent_steps_per_second_all": rates,
        "step_microseconds_median": statistics.median(step_us),
        "target_agent_steps_per_second": 50_000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--scenario", default="default")
    args = parser.parse_args()
    print(json.dumps(run(args.repeats, args.steps, args.scenario), indent=2))


if __name__ == "__main__":
    main()
