"""Step rate of EntanglementAllocation-v0 with the demand forecaster attached.

``run(repeats, steps)`` times ``steps`` slots of the ``dpem`` scenario (100 nodes, one
agent per node) with :class:`agents.forecast.wrapper.DemandForecastWrapper` attached,
random valid actions, as ``bench.run.env_agent_steps`` times the bare environment: the
whole PettingZoo ``step`` is timed, ``reset`` and path search are not (one warm-up
episode first). The same loop without the wrapper runs beside it, so the wrapper's
cost per step is measured on the same machine and seeds. Medians over ``repeats``.

The model has the default size of ``qenv forecast fit-eval`` (GRU, hidden 32, node
embedding 8, H = the env's 5 demand slots) and a window of one slot, so the recurrent
cell runs at every step, the most expensive case; its weights are a seeded
initialisation, since the cost of a step does not depend on their values. Pass
``model`` (a path from ``qenv forecast fit-eval --model-out``) to time a trained one.

    python -m bench.forecast_bench --repeats 5 --steps 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import numpy as np

TARGET_AGENT_STEPS_PER_SECOND = 100_000


def _episode_rate(env: Any, base: Any, seed: int) -> tuple[float, float]:
    """(agent-steps/s, µs per step) of one timed episode after a warm-up one."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    env.reset(seed=seed)  # paths of this episode's requests are now cached
    steps = 0
    start = time.perf_counter()
    while env.agents:
        mask = base.core_mask()
        node_actions = (rng.random(mask.shape) * mask).argmax(axis=1)
        env.step(base.node_actions_to_agents(node_actions))
        steps += 1
    elapsed = time.perf_counter() - start
    return steps * base.n_nodes / elapsed, 1e6 * elapsed / steps


def run(repeats: int = 5, steps: int = 1000, model: str | None = None) -> dict[str, Any]:
    """Agent-steps/s at 100 nodes (``dpem``) with and without the forecaster wrapper."""
    from agents.forecast.model import ForecasterConfig, build_model
    from agents.forecast.train import load_model
    from agents.forecast.wrapper import DemandForecastWrapper
    from qenv.checks import check_positive_int
    from qenv.envs.entanglement.env import EntanglementAllocationEnv

    repeats = check_positive_int("repeats", repeats)
    steps = check_positive_int("steps", steps)
    with_rates, with_us, bare_rates, bare_us = [], [], [], []
    n_nodes = 0
    for r in range(repeats):
        base = EntanglementAllocationEnv("dpem", r, horizon=steps)
        n_nodes = base.n_nodes
        if model is None:
            dt = base.core.engine_config.dt
            config = ForecasterConfig(
                n_nodes=n_nodes, horizon=base.core.demand_horizon, window_s=dt
            )
            forecaster = build_model(config, seed=r)
        else:
            forecaster = load_model(model)
        wrapped = DemandForecastWrapper(base, forecaster)
        rate, us = _episode_rate(wrapped, base, r)
        with_rates.append(rate)
        with_us.append(us)
        rate, us = _episode_rate(base, base, r)
        bare_rates.append(rate)
        bare_us.append(us)
    median = statistics.median(with_rates)
    return {
        "scenario": "dpem",
        "nodes": n_nodes,
        "agents": n_nodes,
        "steps": steps,
        "repeats": repeats,
        "model": model or "seeded GRU, hidden 32, embed 8, window = 1 slot",
        "agent_steps_per_second_median": median,
        "agent_steps_per_second_all": with_rates,
        "step_microseconds_median": statistics.median(with_us),
        "without_wrapper_agent_steps_per_second_median": statistics.median(bare_rates),
        "without_wrapper_step_microseconds_median": statistics.median(bare_us),
        "wrapper_microseconds_per_step": statistics.median(with_us) - statistics.median(bare_us),
        "target_agent_steps_per_second": TARGET_AGENT_STEPS_PER_SECOND,
        "meets_target": median >= TARGET_AGENT_STEPS_PER_SECOND,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000, help="slots per episode")
    parser.add_argument("--model", default=None, help="a saved forecaster (default: seeded)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    result = run(args.repeats, args.steps, args.model)
    result["command"] = " ".join(["python", "-m", "bench.forecast_bench", *sys.argv[1:]])
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
