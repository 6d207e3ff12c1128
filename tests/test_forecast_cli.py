"""``qenv forecast generate`` and ``fit-eval`` end to end, and their bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.forecast.data import min_windows
from agents.forecast.train import load_model
from agents.forecast.wrapper import DemandForecastWrapper
from qenv.cli import main
from qenv.envs.entanglement.env import EntanglementAllocationEnv
from qenv.network.traffic import TRACE_COLUMNS, Trace

HEADER = ",".join(TRACE_COLUMNS)


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def fit_eval_args(trace: Path, out: Path, *extra: str) -> list[str]:
    return [
        "forecast", "fit-eval", "--trace", str(trace), "--horizon", "3",
        "--window-seconds", "10", "--out", str(out), "--no-progress", *extra,
    ]  # fmt: skip


def test_generate_writes_the_requests_of_the_envs_episode(tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    args = ["forecast", "generate", "--scenario", "mesh8", "--slots", "300", "--seed", "3"]
    assert main([*args, "--out", str(out)]) == 0
    assert out.read_text().splitlines()[0] == HEADER
    env = EntanglementAllocationEnv("mesh8", 3, horizon=300)
    env.reset(seed=3)
    trace = Trace.from_csv(out)
    assert len(trace) > 0
    assert trace == env.core.batch.to_trace(0.01)


def test_generate_then_fit_eval_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.csv"
    gen = ["forecast", "generate", "--scenario", "mesh8", "--slots", "1200", "--dt", "1"]
    assert main([*gen, "--out", str(trace)]) == 0
    out = tmp_path / "report.json"
    assert main(fit_eval_args(trace, out, "--epochs", "3", "--nodes", "8")) == 0
    report = json.loads(out.read_text())
    for part in ("model", *(f"baselines.{b}" for b in report["baselines"])):
        scores = report["model"] if part == "model" else report["baselines"][part[10:]]
        assert set(scores) == {"mae", "rmse", "rmse_per_step"}
        assert len(scores["rmse_per_step"]) == 3
        assert scores["rmse"] == pytest.approx(sum(scores["rmse_per_step"]) / 3)
    assert set(report["baselines"]) == {"last_value", "moving_average", "seasonal_naive"}
    printed = capsys.readouterr().out
    for name in ("model", "last_value", "moving_average", "seasonal_naive"):
        assert name in printed
    model_file = tmp_path / "report.pt"  # default: --out with .pt
    model = load_model(model_file)
    assert model.config.n_nodes == 8 and model.config.horizon == 3
    assert model.config.window_s == 10.0
    # The saved model plugs into the environment (10-s windows of 0.01-s slots).
    base = EntanglementAllocationEnv("mesh8", 0, horizon=20, demand_horizon=3)
    env = DemandForecastWrapper(base, model_file)
    env.reset(seed=0)
    assert env.slots_per_window == 1000 and env.demand.shape == (8, 3)


def error_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("qenv forecast: error: ")
    return err


def test_missing_column_names_line_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write(tmp_path / "t.csv", "timestamp,source,fidelity", "0.5,0,0.7")
    err = error_of(fit_eval_args(trace, tmp_path / "r.json"), capsys)
    assert "t.csv:1: missing column 'destination'" in err


def test_unparseable_row_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write(tmp_path / "t.csv", HEADER, "0.5,0,1,0.7", "1.5,zero,1,0.7")
    err = error_of(fit_eval_args(trace, tmp_path / "r.json"), capsys)
    assert "t.csv:3: cannot parse row" in err


def test_negative_timestamp_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write(tmp_path / "t.csv", HEADER, "0.5,0,1,0.7", "2.0,1,0,0.7", "-1.0,0,1,0.7")
    err = error_of(fit_eval_args(trace, tmp_path / "r.json"), capsys)
    assert "t.csv:4: timestamp -1.0 outside allowed range" in err


def test_unknown_node_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write(tmp_path / "t.csv", HEADER, "0.5,0,1,0.7", "1.5,2,7,0.7")
    err = error_of(fit_eval_args(trace, tmp_path / "r.json", "--nodes", "4"), capsys)
    assert "t.csv:3: unknown node 7 (allowed range [0, 4))" in err


def test_short_trace_says_how_many_windows_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"{t}.0,{t % 3},{(t + 1) % 3},0.7" for t in range(0, 80, 5)]  # 8 windows
    trace = write(tmp_path / "t.csv", HEADER, *rows)
    err = error_of(fit_eval_args(trace, tmp_path / "r.json"), capsys)
    need = min_windows(3)
    assert "t.csv: trace too short for horizon 3: it has 8 windows of 10 s" in err
    assert f"needs at least {need} windows ({need * 10} s of trace)" in err
    assert not (tmp_path / "r.json").exists()


def test_other_bad_inputs_are_clean_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write(tmp_path / "t.csv", HEADER, "0.5,0,1,0.7")
    out = tmp_path / "r.json"
    err = error_of(fit_eval_args(tmp_path / "missing.csv", out), capsys)
    assert "missing.csv: cannot read trace" in err
    err = error_of(fit_eval_args(trace, out, "--period-seconds", "15"), capsys)
    assert "--period-seconds 15 must be a whole number >= 2 of windows" in err
    err = error_of(fit_eval_args(trace, out, "--train-fraction", "1.5"), capsys)
    assert "--train-fraction must lie in (0, 1)" in err
    gen = ["forecast", "generate", "--out", str(tmp_path / "g.csv")]
    err = error_of([*gen, "--scenario", "mesh8", "--slots", "0"], capsys)
    assert "--slots" in err
    err = error_of([*gen, "--scenario", "no_such_scenario", "--slots", "10"], capsys)
    assert "scenario file not found" in err
