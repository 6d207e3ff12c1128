"""The forecaster wrapper on EntanglementAllocation-v0: demand fields, reference, API."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from env_helpers import mesh_kwargs
from pettingzoo.test import parallel_api_test

from agents.forecast.data import aggregate, window_features
from agents.forecast.kernels import fast_tanh
from agents.forecast.model import DemandForecaster, ForecasterConfig, build_model
from agents.forecast.wrapper import DemandForecastWrapper, ForecastStepper, slots_per_window
from qenv.envs.entanglement.env import EntanglementAllocationEnv

DT = 0.01  # slot length of the test env (s)


def busy_mesh(**kwargs: Any) -> EntanglementAllocationEnv:
    """The 8-node mesh with many requests per slot, so the history is not all zeros."""
    env_kwargs = mesh_kwargs(horizon=kwargs.pop("horizon", 40))
    env_kwargs["traffic"].temporal.rate = 100.0
    return EntanglementAllocationEnv(**env_kwargs, **kwargs)


def model_for(env: EntanglementAllocationEnv, **cfg: Any) -> DemandForecaster:
    defaults: dict[str, Any] = {"horizon": 5, "window_s": DT, "period": 7, "hidden": 16}
    config = ForecasterConfig(n_nodes=env.n_nodes, **{**defaults, **cfg})
    return build_model(config, scale=np.linspace(0.5, 2.0, env.n_nodes), seed=3)


def play(env: Any, base: EntanglementAllocationEnv, seed: int = 1) -> list[np.ndarray]:
    """Demand fields (N, H) of every observation of one episode, random valid actions."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    dem = base.layout.fields["demand"]
    agents = base.possible_agents

    def fields(o: dict[str, Any]) -> np.ndarray:
        return np.stack([o[a]["observation"][dem] for a in agents])

    seen = [fields(obs)]
    while env.agents:
        mask = base.core_mask()
        actions = (rng.random(mask.shape) * mask).argmax(axis=1)
        obs, *_ = env.step(base.node_actions_to_agents(actions))
        seen.append(fields(obs))
    return seen


def torch_reference(model: DemandForecaster, env: EntanglementAllocationEnv, k: int) -> np.ndarray:
    """What the demand fields must hold at slots 1 … horizon + 1, from the torch model run
    offline on the episode's requests aggregated like a trace."""
    n_windows = (env.core.horizon + 1) // k + 1
    w = aggregate(env.core.batch.to_trace(DT), k * DT, env.n_nodes, n_windows)
    scale = model.scale.numpy().astype(np.float64)
    x = window_features(w.counts, w.fidelity_sum, w.destinations, scale, model.config.period)
    with torch.no_grad():
        y, _ = model(torch.from_numpy(x[None]))
        per_window = (torch.clamp(y[0], min=0.0) * model.scale[:, None]).numpy()
        zero = torch.zeros(env.n_nodes, model.config.hidden)
        prior_y = model.head(torch.cat([zero, model.embed.weight], dim=-1))
        prior = (torch.clamp(prior_y, min=0.0) * model.scale[:, None]).numpy()
    h = env.core.demand_horizon
    rows = []
    for slot in range(1, env.core.horizon + 2):
        j = slot // k - 1  # the newest complete window
        rows.append((prior if j < 0 else per_window[j])[:, :h] / k)
    return np.stack(rows)


@pytest.mark.parametrize(("cell", "k"), [("gru", 1), ("lstm", 1), ("gru", 2)])
def test_demand_fields_hold_the_forecast_of_the_envs_own_requests(cell: str, k: int) -> None:
    base = busy_mesh()
    model = model_for(base, cell=cell, window_s=k * DT)
    env = DemandForecastWrapper(base, model)
    seen = np.stack(play(env, base))
    assert seen.shape == (base.core.horizon + 1, base.n_nodes, base.core.demand_horizon)
    assert base.core.batch.arrival.size > 100  # a real history
    np.testing.assert_allclose(seen, torch_reference(model, base, k), rtol=1e-5, atol=1e-5)
    assert seen.std() > 0  # the forecast moves with the arrivals
    np.testing.assert_array_equal(env.demand, seen[-1])
    state = env.state().reshape(base.n_nodes, -1)
    np.testing.assert_array_equal(state[:, base.layout.fields["demand"]], seen[-1])


def test_reset_starts_a_fresh_recurrent_state() -> None:
    base = busy_mesh()
    env = DemandForecastWrapper(base, model_for(base))
    first = play(env, base, seed=4)
    again = play(env, base, seed=4)
    np.testing.assert_array_equal(np.stack(first), np.stack(again))


def test_wrapper_without_it_the_fields_are_zero() -> None:
    base = busy_mesh()
    assert all(not f.any() for f in play(base, base))


def test_edge_cloud_agents_see_their_members_forecasts() -> None:
    base = busy_mesh(agents_per="edge_cloud", n_edge_clouds=3)
    env = DemandForecastWrapper(base, model_for(base))
    obs, _ = env.reset(seed=0)
    dem, d = base.layout.fields["demand"], base.layout.size
    demand = env.demand
    for i, agent in enumerate(base.possible_agents):
        rows = obs[agent]["observation"].reshape(-1, d)
        for r, node in enumerate(base.members[i]):
            want = demand[node] if node >= 0 else np.zeros(base.core.demand_horizon)
            np.testing.assert_allclose(rows[r, dem], want)
    np.testing.assert_allclose(env.state().reshape(base.n_nodes, d)[:, dem], demand)


def test_parallel_api() -> None:
    base = busy_mesh(horizon=60)
    parallel_api_test(DemandForecastWrapper(base, model_for(base)), num_cycles=80)


def test_models_that_do_not_fit_the_env_are_refused() -> None:
    base = busy_mesh()
    other = build_model(ForecasterConfig(n_nodes=5, horizon=5, window_s=DT))
    with pytest.raises(ValueError, match="forecasts 5 nodes, the environment has 8"):
        DemandForecastWrapper(base, other)
    with pytest.raises(ValueError, match="predicts 3 windows"):
        DemandForecastWrapper(base, model_for(base, horizon=3))
    with pytest.raises(ValueError, match="whole number >= 1 of the environment's slots"):
        DemandForecastWrapper(base, model_for(base, window_s=0.015))
    with pytest.raises(ValueError, match="must be an EntanglementAllocationEnv"):
        DemandForecastWrapper(object(), model_for(base))
    assert slots_per_window(0.03, 0.01) == 3


def test_longer_model_horizon_fills_the_first_h_fields() -> None:
    base = busy_mesh()
    env = DemandForecastWrapper(base, model_for(base, horizon=8))
    env.reset(seed=0)
    assert env.demand.shape == (base.n_nodes, 5)
    np.testing.assert_allclose(env.demand, env.stepper.prediction[:, :5])


def test_stepper_matches_torch_step_by_step() -> None:
    model = build_model(ForecasterConfig(n_nodes=30, horizon=6, window_s=1.0, hidden=24), seed=1)
    stepper = ForecastStepper(model)
    stepper.reset()
    x = np.random.default_rng(0).random((12, 30, 5)).astype(np.float32) * 3
    with torch.no_grad():
        y, _ = model(torch.from_numpy(x[None]))
        want = (torch.clamp(y[0], min=0.0) * model.scale[:, None]).numpy()
    got = np.stack([stepper.step(np.ascontiguousarray(row)).copy() for row in x])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_fast_tanh_is_float32_accurate() -> None:
    xs = np.linspace(-12.0, 12.0, 20001).astype(np.float32)
    got = np.array([fast_tanh(v) for v in xs])
    assert np.abs(got - np.tanh(xs.astype(np.float64))).max() < 5e-7
