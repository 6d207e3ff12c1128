"""How good can any forecaster be on a generated trace? A burst-state oracle.

For a trace from ``qenv forecast generate`` whose temporal process is a diurnal cycle
with a fixed phase times Markov bursts (the ``diurnal`` scenario), this oracle knows
what no forecaster sees: every node's gravity weight, the diurnal rate and each node's
true burst state (ON/OFF) at the forecast origin. It predicts window t + h by the
exact conditional mean of its count given that state,

    E[count] = Σ_slots dt·w_n·d(slot)·(lo + (hi − lo)·P(ON | state at t, m slots later)),
    P(ON after m slots) = π + (s_t − π)·(1 − p_on − p_off)^m,   π = p_on / (p_on + p_off),

with d the diurnal rate and lo, hi the burst shape's levels. What remains is Poisson
noise and the burst switches no one can foresee, so its RMSE is (close to) the lowest
any forecaster can reach; the gap between it and the best naive baseline is the most
a forecaster can gain on that trace. It redraws the trace's random numbers in the
order ``TrafficModel.generate`` and ``qenv forecast generate`` use them, so its counts
are the trace's counts (checked against ``aggregate`` of the generated trace), and
it scores on the test origins of ``fit-eval`` with the same ``train_fraction``::

    python -m agents.forecast.oracle --scenario diurnal --slots 20160 \\
        --window-seconds 300 --horizon 8
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from agents.forecast.baselines import (
    best_window,
    forecast_errors,
    last_value,
    moving_average,
    seasonal_naive,
)
from agents.forecast.data import estimate_period, split_windows, targets
from qenv.checks import check_positive_int
from qenv.network.traffic import Bursty, Diurnal, Modulated
from qenv.scenarios import load_scenario

__all__ = ["burst_state_oracle"]


def burst_state_oracle(
    scenario: str,
    slots: int,
    window_s: float,
    horizon: int,
    seed: int = 0,
    train_fraction: float = 0.7,
    **overrides: Any,
) -> dict[str, Any]:
    """RMSE and MAE of the oracle and of the naive baselines on the test origins.

    Returns ``{"oracle": {mae, rmse, rmse_per_step}, "baselines": {...}, "meta": {...}}``.

    Raises:
        ValueError: a scenario whose traffic is not diurnal (fixed phase) × bursty, or a
            window that is not a whole number of slots.
    """
    slots = check_positive_int("slots", slots)
    sc = load_scenario(scenario, seed, **overrides)
    traffic = sc.traffic
    temporal = traffic.temporal
    if not (
        isinstance(temporal, Modulated)
        and isinstance(temporal.base, Diurnal)
        and temporal.base.phase is not None
        and len(temporal.factors) == 1
        and isinstance(temporal.factors[0], Bursty)
    ):
        raise ValueError(
            f"scenario {sc.name!r}: the oracle needs diurnal (fixed phase) x bursty traffic, "
            f"got {temporal!r}"
        )
    bursty = temporal.factors[0]
    dt = traffic.dt
    k = round(window_s / dt)
    if k < 1 or abs(k * dt - window_s) > 1e-9 * window_s:
        raise ValueError(f"window_s={window_s:g} must be a whole number of slots of {dt:g} s")
    n = sc.graph.number_of_nodes()
    rng = np.random.default_rng(seed).spawn(3)[0]  # as qenv forecast generate
    weight, _ = traffic.spatial.weights(n, rng)
    rate = temporal.rates(slots, n, rng, dt=dt)
    counts_slot = rng.poisson(rate * weight[None, :] * dt)
    diurnal = temporal.base.rates(slots, n, np.random.default_rng(0), dt=dt)  # no draws
    lo = bursty.low_rate / bursty.mean_rate
    hi = bursty.high_rate / bursty.mean_rate
    shape = np.divide(rate, diurnal, out=np.full_like(rate, lo), where=diurnal > 0)
    on = (np.abs(shape - hi) < np.abs(shape - lo)).astype(np.float64)
    t = slots // k  # whole windows
    counts = counts_slot[: t * k].reshape(t, k, n).sum(axis=1)
    split = split_windows(t, horizon, train_fraction, window_s=window_s)
    origins = split.test_origins
    pi, decay = bursty.on_fraction, 1.0 - bursty.p_on - bursty.p_off
    state = on[(origins + 1) * k - 1]  # (O, N) at the origin window's last slot
    pred = np.zeros((origins.size, horizon, n))
    for h in range(1, horizon + 1):
        for j in range(k):
            m = (h - 1) * k + j + 1  # slots after the origin's last slot
            p_on = pi + (state - pi) * decay**m
            slot = (origins + h) * k + j
            pred[:, h - 1] += (lo + (hi - lo) * p_on) * diurnal[slot] * weight * dt
    truth = targets(counts, origins, horizon)
    train = np.concatenate([split.fit_origins, split.val_origins])
    period = estimate_period(counts[: split.train_end], window_s)
    baselines = {
        "last_value": last_value(counts, origins, horizon),
        "moving_average": moving_average(
            counts, origins, horizon, best_window(counts, train, horizon)
        ),
        "seasonal_naive": seasonal_naive(counts, origins, horizon, period),
    }
    scores = {name: forecast_errors(p, truth) for name, p in baselines.items()}
    oracle = forecast_errors(pred, truth)
    best = min(s["rmse"] for s in scores.values())
    return {
        "oracle": oracle,
        "baselines": scores,
        "meta": {
            "scenario": sc.name,
            "seed": seed,
            "slots": slots,
            "window_s": window_s,
            "horizon": horizon,
            "windows": t,
            "test_origins": int(origins.size),
            "mean_count_per_window": float(counts.mean()),
            "oracle_vs_best_baseline": oracle["rmse"] / best - 1.0,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scenario", default="diurnal")
    parser.add_argument("--slots", type=int, required=True)
    parser.add_argument("--window-seconds", type=float, required=True)
    parser.add_argument("--horizon", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-fraction", type=float, default=0.7)
    args = parser.parse_args()
    result = burst_state_oracle(
        args.scenario,
        args.slots,
        args.window_seconds,
        args.horizon,
        args.seed,
        args.train_fraction,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
