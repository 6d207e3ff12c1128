"""Demand forecaster: windows, period, splits, baselines, model, fit, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agents.forecast.baselines import (
    forecast_errors,
    last_value,
    moving_average,
    seasonal_naive,
)
from agents.forecast.data import (
    TraceTooShortError,
    aggregate,
    estimate_period,
    load_trace,
    min_windows,
    split_windows,
    targets,
)
from agents.forecast.model import ForecasterConfig, build_model
from agents.forecast.train import FitConfig, fit, fit_eval, load_model, prepare, save_model
from qenv.network.traffic import Bursty, Diurnal, Gravity, Poisson, Trace, TrafficModel


def structured_trace(n_nodes: int = 8, slots: int = 4000, seed: int = 0) -> Trace:
    """Daily-like cycle (period 200 s), bursts and popularity, 1-s slots."""
    traffic = TrafficModel(
        Diurnal(2.0, 0.8, period_s=200.0, phase=0.0) * Bursty(1.0, 5.0, 0.01, 0.1),
        Gravity(sigma=1.0),
        dt=1.0,
    )
    rng = np.random.default_rng(seed)
    spatial_rng, request_rng = rng.spawn(2)
    traffic.spatial = Gravity(mass=spatial_rng.lognormal(0.0, 1.0, n_nodes))
    return traffic.generate(n_nodes, slots, request_rng).to_trace(1.0)


SMALL_FIT = FitConfig(epochs=12, patience=4, hidden=16, embed_dim=4, chunk=32)


# --------------------------------------------------------------------------- data


def test_aggregate_counts_fidelity_and_destinations() -> None:
    trace = Trace(
        timestamp=np.array([0.1, 0.5, 0.9, 1.2, 2.5, 2.6]),
        source=np.array([0, 0, 0, 1, 0, 2]),
        destination=np.array([1, 1, 2, 0, 2, 0]),
        fidelity=np.array([0.5, 0.7, 0.9, 0.6, 0.8, 0.75]),
    )
    w = aggregate(trace, window_s=1.0, n_nodes=3)
    np.testing.assert_array_equal(w.counts, [[3, 0, 0], [0, 1, 0], [1, 0, 1]])
    np.testing.assert_allclose(w.fidelity_sum[0], [2.1, 0.0, 0.0])
    np.testing.assert_array_equal(w.destinations, [[2, 0, 0], [0, 1, 0], [1, 0, 1]])
    assert aggregate(trace, 1.0, 3, n_windows=5).counts.shape == (5, 3)
    with pytest.raises(ValueError, match="n_nodes=2 but the trace has node 2"):
        aggregate(trace, 1.0, n_nodes=2)
    with pytest.raises(ValueError, match="window_s"):
        aggregate(trace, 0.0)


def test_period_found_on_seasonal_counts_and_not_on_flat_ones() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(600)
    rate = 5.0 * (1.0 + 0.8 * np.sin(2 * np.pi * t / 24.0))[:, None] * rng.uniform(0.5, 2, 10)
    assert estimate_period(rng.poisson(rate)) == 24
    assert estimate_period(rng.poisson(np.full((600, 10), 5.0))) is None
    # A day of 300-s windows is 288 windows: a close estimate snaps to it.
    t = np.arange(2016)
    day = 20.0 * (1.0 + 0.8 * np.sin(2 * np.pi * t / 288.0))[:, None] * np.ones(5)
    counts = rng.poisson(day)
    assert estimate_period(counts, window_s=300.0) == 288


def test_splits_hold_a_horizon_each_and_short_traces_say_what_they_need() -> None:
    s = split_windows(100, 5, 0.7, 0.2)
    assert (s.fit_end, s.train_end, s.n_windows) == (56, 70, 100)
    assert s.fit_origins.max() + 5 < s.fit_end
    assert s.val_origins.min() + 1 >= s.fit_end and s.val_origins.max() + 5 < s.train_end
    assert s.test_origins.min() + 1 >= s.train_end and s.test_origins.max() + 5 < 100
    need = min_windows(8)
    split_windows(need, 8)  # enough
    with pytest.raises(TraceTooShortError, match=f"needs at least {need} windows"):
        split_windows(need - 1, 8, window_s=60.0)
    with pytest.raises(TraceTooShortError, match=rf"\({need * 60:g} s of trace\)"):
        split_windows(10, 8, window_s=60.0)


def test_targets_are_the_next_h_windows() -> None:
    counts = np.arange(20).reshape(10, 2)
    y = targets(counts, np.array([0, 3]), 2)
    np.testing.assert_array_equal(y[1], [[8, 9], [10, 11]])


# --------------------------------------------------------------------------- baselines


def test_baselines_on_a_known_series() -> None:
    counts = np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0]])
    origins = np.array([3, 4])
    np.testing.assert_array_equal(last_value(counts, origins, 2)[:, :, 0], [[4, 4], [5, 5]])
    np.testing.assert_allclose(moving_average(counts, origins, 2, 3)[:, :, 0], [[3, 3], [4, 4]])
    # Period 3: window t + h repeats window t + h − 3.
    np.testing.assert_array_equal(seasonal_naive(counts, origins, 2, 3)[:, :, 0], [[2, 3], [3, 4]])
    # Period 2 with h = 3 > P: two periods back.
    np.testing.assert_array_equal(seasonal_naive(counts, origins, 3, 2)[0, :, 0], [3, 4, 3])
    np.testing.assert_array_equal(
        seasonal_naive(counts, origins, 2, None), last_value(counts, origins, 2)
    )


def test_forecast_errors_average_over_steps() -> None:
    truth = np.zeros((2, 2, 1))
    pred = np.array([[[1.0], [3.0]], [[1.0], [3.0]]])
    err = forecast_errors(pred, truth)
    assert err["rmse_per_step"] == [1.0, 3.0]
    assert err["rmse"] == 2.0 and err["mae"] == 2.0
    with pytest.raises(ValueError, match="one shape"):
        forecast_errors(pred, np.zeros((2, 3, 1)))


# --------------------------------------------------------------------------- model


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_model_shapes(cell: str) -> None:
    cfg = ForecasterConfig(n_nodes=6, horizon=4, window_s=60.0, period=24, hidden=8, cell=cell)
    model = build_model(cfg, scale=np.arange(1, 7), seed=0)
    x = torch.zeros(2, 10, 6, 5)
    y, state = model(x)
    assert y.shape == (2, 10, 6, 4)
    h = state[0] if isinstance(state, tuple) else state
    assert h.shape == (1, 12, 8)
    sub = torch.tensor([1, 4])
    assert model(x[:, :, sub], nodes=sub)[0].shape == (2, 10, 2, 4)
    pred = model.predict(x)
    assert pred.shape == (2, 6, 4) and bool((pred >= 0).all())
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.zeros(2, 10, 5, 5))


def test_model_init_is_determined_by_the_seed_and_leaves_the_global_rng() -> None:
    cfg = ForecasterConfig(n_nodes=4, horizon=3, window_s=1.0)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = build_model(cfg, seed=5)
    after = torch.rand(3)
    assert torch.equal(before, after)  # build_model drew nothing from the global RNG
    b = build_model(cfg, seed=5)
    c = build_model(cfg, seed=6)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
    assert not torch.equal(a.rnn.weight_ih_l0, c.rnn.weight_ih_l0)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="cell"):
        ForecasterConfig(n_nodes=4, horizon=3, window_s=1.0, cell="rnn")
    with pytest.raises(ValueError, match="window_s"):
        ForecasterConfig(n_nodes=4, horizon=3, window_s=0.0)
    with pytest.raises(ValueError, match="horizon"):
        ForecasterConfig(n_nodes=4, horizon=0, window_s=1.0)


# --------------------------------------------------------------------------- fit


def test_fit_is_deterministic_per_seed() -> None:
    prep = prepare(aggregate(structured_trace(slots=1200), 10.0), horizon=3)
    cfg = FitConfig(epochs=2, patience=2, hidden=8, embed_dim=2)
    a, b, c = (fit(prep, cfg, seed=s) for s in (1, 1, 2))
    assert a.history == b.history
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key])
    assert a.history != c.history


def test_small_fit_beats_last_value_and_round_trips(tmp_path: Path) -> None:
    report, result = fit_eval(structured_trace(), horizon=4, window_s=10.0, config=SMALL_FIT)
    assert report["meta"]["period_windows"] == 20  # 200 s of 10-s windows
    model_rmse = report["model"]["rmse"]
    assert model_rmse < report["baselines"]["last_value"]["rmse"]
    assert len(report["model"]["rmse_per_step"]) == 4
    assert set(report["baselines"]) == {"last_value", "moving_average", "seasonal_naive"}
    assert result.best_epoch >= 1 and len(result.history) <= SMALL_FIT.epochs
    path = tmp_path / "m.pt"
    save_model(result.model, path)
    loaded = load_model(path)
    assert loaded.config == result.model.config
    x = torch.rand(1, 7, 8, 5)
    assert torch.equal(loaded.predict(x), result.model.predict(x))


def test_load_model_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such model file"):
        load_model(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match=r"bad\.pt"):
        load_model(bad)
    other = tmp_path / "other.pt"
    torch.save({"format": "something else"}, other)
    with pytest.raises(ValueError, match="not a qenv-demand-forecaster file"):
        load_model(other)


def test_load_trace_rejects_an_empty_trace(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("timestamp,source,destination,fidelity\n")
    with pytest.raises(ValueError, match="no rows"):
        load_trace(path)


def test_no_seasonality_makes_seasonal_naive_last_value() -> None:
    traffic = TrafficModel(Poisson(2.0), dt=1.0)
    trace = traffic.generate(4, 3000, np.random.default_rng(0)).to_trace(1.0)
    report, _ = fit_eval(trace, horizon=3, window_s=10.0, config=FitConfig(epochs=1))
    assert report["meta"]["period_windows"] is None
    assert report["baselines"]["seasonal_naive"] == report["baselines"]["last_value"]


def test_shipped_diurnal_scenario_has_a_day_bursts_and_popularity() -> None:
    from qenv.network.traffic import Modulated
    from qenv.scenarios import load_scenario

    sc = load_scenario("diurnal", seed=0)
    traffic = sc.traffic
    assert traffic.dt == 60.0 and isinstance(traffic.temporal, Modulated)
    assert isinstance(traffic.temporal.base, Diurnal) and traffic.temporal.base.period_s == 86400
    assert isinstance(traffic.temporal.factors[0], Bursty)
    assert isinstance(traffic.spatial, Gravity)
    trace = traffic.generate(100, 3 * 1440, np.random.default_rng(0)).to_trace(60.0)
    windows = aggregate(trace, 300.0, 100)
    assert estimate_period(windows.counts, 300.0) == 288  # one day of 5-minute windows
    mean = windows.counts.mean(axis=0)
    assert mean.max() > 10 * mean.min()  # popular and quiet nodes


def test_burst_state_oracle_sees_the_traces_counts_and_beats_the_baselines() -> None:
    from agents.forecast.oracle import burst_state_oracle
    from qenv.scenarios import load_scenario

    slots, window_s, horizon = 3 * 1440, 300.0, 4
    result = burst_state_oracle("diurnal", slots, window_s, horizon, seed=2)
    # The counts it scores are those of the trace `qenv forecast generate` writes.
    sc = load_scenario("diurnal", seed=2)
    rng = np.random.default_rng(2).spawn(3)[0]
    trace = sc.traffic.generate(100, slots, rng).to_trace(60.0)
    counts = aggregate(trace, window_s, 100).counts
    origins = split_windows(counts.shape[0], horizon, window_s=window_s).test_origins
    want = forecast_errors(last_value(counts, origins, horizon), targets(counts, origins, 4))
    assert result["baselines"]["last_value"] == want
    assert result["oracle"]["rmse"] < min(b["rmse"] for b in result["baselines"].values())
    with pytest.raises(ValueError, match="diurnal \\(fixed phase\\) x bursty"):
        burst_state_oracle("mesh8", 1000, 1.0, 3)
