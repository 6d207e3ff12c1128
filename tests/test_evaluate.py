"""Evaluator: result structure, statistics, JSON safety, the ``evaluate`` subcommand, bad input."""

from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from scipy.stats import t as student_t

import qenv.evaluate as ev
from agents import POLICIES
from qenv.evaluate import (
    add_evaluate_parser,
    compare,
    evaluate,
    json_safe,
    mean_ci95,
    parse_env_args,
    print_table,
    run_evaluate,
    table_metrics,
)
from qenv.network.engine import EngineConfig
from qenv.network.topology import random_mesh
from qenv.network.traffic import Poisson, TrafficModel

ENV_ID = "EntanglementAllocation-v0"
RESULT_KEYS = {"env", "policy", "seed", "env_kwargs", "episodes", "mean", "ci95"}


def env_kwargs(horizon: int = 60, deadline: int = 15, **extra: Any) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    g = random_mesh(8, rng=rng, area_km=30.0, t_coh=10.0, gen_rate=(50.0, 100.0))
    traffic = TrafficModel(Poisson(20.0), f_min=(0.7, 0.9), deadline_slots=deadline)
    return {
        "graph": g,
        "traffic": traffic,
        "engine_config": EngineConfig(),
        "horizon": horizon,
        **extra,
    }


class AlwaysWait:
    """A minimal Policy: every agent waits."""

    name = "always_wait"

    def __init__(self) -> None:
        self.resets: list[int | None] = []
        self.env: Any = None

    def reset(self, env: Any, seed: int | None = None) -> None:
        self.env = env.unwrapped
        self.resets.append(seed)

    def act(self, observations: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
        return self.env.node_actions_to_agents(np.zeros(self.env.n_nodes, dtype=np.int64))


# ---------------------------------------------------------------------- statistics
def test_mean_and_student_t_half_width() -> None:
    mean, half = mean_ci95([1.0, 2.0, 3.0, float("nan")])
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(student_t.ppf(0.975, 2) * 1.0 / math.sqrt(3))
    assert mean_ci95([4.0]) == (4.0, None)
    assert mean_ci95([float("nan")]) == (None, None)
    assert mean_ci95([]) == (None, None)


def test_json_safe_replaces_nan_and_objects() -> None:
    out = json_safe(
        {"a": float("nan"), "b": np.float32(0.5), "c": [np.int64(2), float("inf")], "d": object}
    )
    assert out["a"] is None and out["b"] == 0.5 and out["c"] == [2, None]
    assert isinstance(out["d"], str)
    json.dumps(out, allow_nan=False)


# ---------------------------------------------------------------------- evaluate / compare
def test_evaluate_result_structure_and_seeds() -> None:
    policy = AlwaysWait()
    kw = env_kwargs()
    res = evaluate(ENV_ID, policy, 3, 7, kw)
    assert set(res) == RESULT_KEYS
    assert res["env"] == ENV_ID and res["policy"] == "always_wait" and res["seed"] == 7
    assert policy.resets == [7, 8, 9]
    assert [e["seed"] for e in res["episodes"]] == [7, 8, 9]
    assert set(res["mean"]) == set(res["ci95"]) == set(res["episodes"][0]) - {"seed"}
    for key in ("delivery_rate", "contention_rate", "mean_latency", "utilisation"):
        assert key in res["mean"]
    # Nothing claimed: every ended request expired, no delivery, no latency.
    assert res["mean"]["delivery_rate"] == 0.0 and res["mean"]["claims"] == 0.0
    assert res["mean"]["mean_latency"] is None and res["ci95"]["mean_latency"] is None
    assert res["episodes"][0]["mean_latency"] is None
    values = [e["requests"] for e in res["episodes"]]
    mean, half = mean_ci95(values)
    assert res["mean"]["requests"] == pytest.approx(mean)
    assert res["ci95"]["requests"] == pytest.approx(half)
    assert isinstance(res["env_kwargs"]["graph"], str)
    assert res["env_kwargs"]["horizon"] == 60
    json.dumps(res, allow_nan=False)


def test_one_episode_has_no_interval_and_nan_becomes_none() -> None:
    # Deadlines beyond the horizon and no claims: no request ends, the delivery rate is NaN.
    res = evaluate(ENV_ID, AlwaysWait(), 1, 0, env_kwargs(horizon=30, deadline=500))
    assert all(v is None for v in res["ci95"].values())
    assert res["episodes"][0]["delivery_rate"] is None
    assert res["mean"]["delivery_rate"] is None
    assert res["mean"]["requests"] is not None and res["mean"]["requests"] > 0
    json.dumps(res, allow_nan=False)


def test_compare_is_paired_over_the_same_requests() -> None:
    res = compare(ENV_ID, ["random", "greedy"], 2, 3, env_kwargs())
    assert set(res) == {"env", "seed", "env_kwargs", "results"}
    assert list(res["results"]) == ["random", "greedy"]
    a, b = res["results"]["random"], res["results"]["greedy"]
    assert [e["requests"] for e in a["episodes"]] == [e["requests"] for e in b["episodes"]]
    assert [e["seed"] for e in a["episodes"]] == [3, 4]
    single = evaluate(ENV_ID, "greedy", 2, 3, env_kwargs())
    assert single["episodes"] == b["episodes"]  # one env reused == a fresh env per policy
    json.dumps(res, allow_nan=False)


def test_progress_bar_runs(capsys: pytest.CaptureFixture[str]) -> None:
    res = evaluate(ENV_ID, "greedy", 1, 0, env_kwargs(horizon=30), progress=True)
    assert len(res["episodes"]) == 1
    assert "greedy" in capsys.readouterr().err


def test_auto_progress_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ev.sys.stderr, "isatty", lambda: False, raising=False)
    assert not ev._show_progress("auto", ev.PROGRESS_MIN_SLOTS - 1)
    assert ev._show_progress("auto", ev.PROGRESS_MIN_SLOTS)
    assert not ev._show_progress(False, 10**9)
    monkeypatch.setattr(ev.sys.stderr, "isatty", lambda: True, raising=False)
    assert ev._show_progress("auto", 10)


def test_print_table_shows_mean_and_interval() -> None:
    res = compare(ENV_ID, ["random", "oracle"], 2, 0, env_kwargs(horizon=40))
    buf = io.StringIO()
    print_table(res, console=Console(file=buf, width=200))
    text = buf.getvalue()
    assert "random" in text and "oracle" in text and "±" in text and "delivery_rate" in text
    buf = io.StringIO()
    print_table(res["results"]["oracle"], metrics=("claims",), console=Console(file=buf, width=200))
    assert "oracle" in buf.getvalue() and "claims" in buf.getvalue()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: evaluate(ENV_ID, "greedy", 0, 0, env_kwargs()), "episodes"),
        (lambda: evaluate(ENV_ID, "greedy", 1, -1, env_kwargs()), "seed"),
        (lambda: evaluate("Nope-v0", "greedy", 1, 0, env_kwargs()), "unknown environment"),
        (lambda: evaluate(ENV_ID, "nope", 1, 0, env_kwargs()), "unknown policy"),
        (lambda: evaluate(ENV_ID, "greedy", 1, 0, {**env_kwargs(), "bogus": 1}), "bogus"),
        (lambda: compare(ENV_ID, ["greedy", "greedy"], 1, 0, env_kwargs()), "once"),
        (lambda: compare(ENV_ID, [], 1, 0, env_kwargs()), "at least one"),
    ],
)
def test_bad_api_input(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------- command line
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qenv")
    add_evaluate_parser(p.add_subparsers(dest="command", required=True))
    return p


@pytest.fixture
def object_env(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Build the CLI's env from objects (the CLI can only name scenarios); records kwargs."""
    seen: list[dict[str, Any]] = []
    real = ev._make_env

    def fake(env_id: str, kwargs: dict[str, Any]) -> Any:
        seen.append(dict(kwargs))
        base = env_kwargs()
        base.update({k: v for k, v in kwargs.items() if k != "scenario"})
        return real(env_id, base)

    monkeypatch.setattr(ev, "_make_env", fake)
    return seen


def test_help_renders(capsys: pytest.CaptureFixture[str]) -> None:
    p = parser()
    assert "evaluate" in p.format_help()
    with pytest.raises(SystemExit):
        p.parse_args(["evaluate", "--help"])
    out = capsys.readouterr().out
    for flag in ("--env", "--policy", "--baselines", "--episodes", "--seed", "--out"):
        assert flag in out
    for flag in ("--env-arg", "--scenario", "--no-progress"):
        assert flag in out


def test_parser_flags_and_defaults() -> None:
    args = parser().parse_args(["evaluate"])
    assert args.env == ENV_ID and args.episodes == 10 and args.seed == 0
    assert args.policy is None and args.baselines is None and args.out is None
    assert args.env_arg == [] and args.scenario is None and args.no_progress is False
    assert args.func is run_evaluate
    args = parser().parse_args(
        ["evaluate", "--env-arg", "horizon=200", "--env-arg", "scenario=mesh8", "--no-progress"]
    )
    assert parse_env_args(args.env_arg) == {"horizon": 200, "scenario": "mesh8"}


def test_env_args_are_yaml() -> None:
    got = parse_env_args(
        ["a=1", "b=0.5", "c=true", "d=[1, 2]", "e={team: true}", "f=mesh8", "g=", "a=2"]
    )
    assert got == {
        "a": 2,
        "b": 0.5,
        "c": True,
        "d": [1, 2],
        "e": {"team": True},
        "f": "mesh8",
        "g": None,
    }


def test_run_single_policy_writes_json(
    tmp_path: Path, object_env: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    argv = ["evaluate", "--policy", "greedy", "--episodes", "2", "--seed", "4"]
    argv += ["--env-arg", "horizon=40", "--out", str(out), "--no-progress"]
    assert run_evaluate(parser().parse_args(argv)) == 0
    data = json.loads(out.read_text())
    assert set(data) == RESULT_KEYS
    assert data["policy"] == "greedy" and data["seed"] == 4 and len(data["episodes"]) == 2
    assert data["env_kwargs"] == {"horizon": 40}
    assert object_env == [{"horizon": 40}]
    assert "greedy" in capsys.readouterr().out


def test_run_comparison_with_policy_on_top(
    tmp_path: Path, object_env: list[dict[str, Any]]
) -> None:
    out = tmp_path / "c.json"
    argv = ["evaluate", "--policy", "greedy", "--baselines", "all", "--episodes", "1"]
    argv += ["--env-arg", "horizon=30", "--scenario", "mesh8", "--out", str(out), "--no-progress"]
    assert run_evaluate(parser().parse_args(argv)) == 0
    data = json.loads(out.read_text())
    assert list(data["results"]) == ["greedy"] + [p for p in POLICIES if p != "greedy"]
    assert data["policy"] == "greedy"
    assert data["episodes"] == data["results"]["greedy"]["episodes"]
    assert data["mean"] == data["results"]["greedy"]["mean"]
    assert object_env == [{"horizon": 30, "scenario": "mesh8"}]


def test_run_baselines_only(tmp_path: Path, object_env: list[dict[str, Any]]) -> None:
    out = tmp_path / "b.json"
    argv = ["evaluate", "--baselines", "random, oracle", "--episodes", "1", "--out", str(out)]
    argv += ["--env-arg", "horizon=30", "--no-progress"]
    assert run_evaluate(parser().parse_args(argv)) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"env", "seed", "env_kwargs", "results"}
    assert list(data["results"]) == ["random", "oracle"]


def test_run_on_a_named_scenario(tmp_path: Path) -> None:
    from qenv.scenarios import load_scenario

    try:
        load_scenario("mesh8", 0)
    except Exception as exc:  # scenario files not there yet
        pytest.skip(f"scenario mesh8 not loadable: {exc}")
    out = tmp_path / "s.json"
    argv = ["evaluate", "--policy", "oracle", "--scenario", "mesh8", "--episodes", "1"]
    argv += ["--env-arg", "horizon=50", "--out", str(out), "--no-progress"]
    assert run_evaluate(parser().parse_args(argv)) == 0
    data = json.loads(out.read_text())
    assert data["env_kwargs"] == {"horizon": 50, "scenario": "mesh8"}
    assert data["mean"]["contention_rate"] == 0.0


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--policy", "nope"], "--policy"),
        (["--baselines", "greedy,nope"], "--baselines"),
        (["--baselines", ","], "--baselines"),
        (["--env", "Nope-v0", "--policy", "greedy"], "--env"),
        (["--policy", "greedy", "--episodes", "0"], "--episodes"),
        (["--policy", "greedy", "--seed", "-1"], "--seed"),
        (["--policy", "greedy", "--env-arg", "horizon"], "--env-arg"),
        (["--policy", "greedy", "--env-arg", "=3"], "--env-arg"),
        (["--policy", "greedy", "--env-arg", "x=[1"], "--env-arg"),
        (["--policy", "greedy", "--env-arg", "bogus=1"], "--env-arg"),
        (["--policy", "greedy", "--env-arg", "horizon=0"], "--env-arg"),
        (["--policy", "greedy", "--scenario", "a", "--env-arg", "scenario=b"], "--scenario"),
    ],
)
def test_bad_cli_input_names_the_flag(argv: list[str], flag: str) -> None:
    args = parser().parse_args(["evaluate", "--no-progress", *argv])
    with pytest.raises(ValueError, match=flag):
        run_evaluate(args)


# ---------------------------------------------------------------------- QPUAllocation-v0
QPU_ID = "QPUAllocation-v0"
QPU_KW = {"scenario": "small", "horizon": 40}
QPU_BASELINES = ["random", "round_robin", "least_loaded", "best_fidelity", "hyperscore_greedy"]
QPU_COLUMNS = (
    "throughput",
    "error_rate",
    "mean_completion_time",
    "deadline_miss_rate",
    "utilisation",
)


def test_evaluate_and_compare_on_the_qpu_env() -> None:
    res = evaluate(QPU_ID, "least_loaded", 2, 3, QPU_KW)
    assert set(res) == RESULT_KEYS
    assert res["env"] == QPU_ID and res["policy"] == "least_loaded"
    assert [e["seed"] for e in res["episodes"]] == [3, 4]
    assert set(QPU_COLUMNS) <= set(res["mean"]) and "delivery_rate" not in res["mean"]
    json.dumps(res, allow_nan=False)
    both = compare(QPU_ID, ["random", "least_loaded"], 2, 3, QPU_KW)["results"]
    assert both["least_loaded"]["episodes"] == res["episodes"]
    # Paired: the same tasks arrive under every policy.
    assert [e["tasks"] for e in both["random"]["episodes"]] == [e["tasks"] for e in res["episodes"]]
    with pytest.raises(ValueError, match=r"unknown policy 'greedy' for QPUAllocation-v0"):
        evaluate(QPU_ID, "greedy", 1, 0, QPU_KW)


def test_table_columns_are_chosen_per_environment() -> None:
    assert table_metrics(ENV_ID) == ev.TABLE_METRICS
    assert table_metrics(QPU_ID)[: len(QPU_COLUMNS)] == QPU_COLUMNS
    assert table_metrics("Other-v0", {"mean": {"a": 1.0, "b": None}}) == ("a", "b")
    res = evaluate(QPU_ID, "round_robin", 2, 0, QPU_KW)
    buf = io.StringIO()
    print_table(res, console=Console(file=buf, width=250))
    text = buf.getvalue()
    for column in QPU_COLUMNS:
        assert column in text
    assert "round_robin" in text and "delivery_rate" not in text and "QPUAllocation-v0" in text


def test_cli_compares_the_qpu_baselines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q.json"
    argv = ["evaluate", "--env", QPU_ID, "--baselines", "all", "--episodes", "2", "--seed", "1"]
    argv += ["--scenario", "small", "--env-arg", "horizon=40", "--out", str(out), "--no-progress"]
    assert run_evaluate(parser().parse_args(argv)) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"env", "seed", "env_kwargs", "results"}
    assert data["env"] == QPU_ID and data["seed"] == 1
    assert data["env_kwargs"] == {"horizon": 40, "scenario": "small"}
    assert list(data["results"]) == QPU_BASELINES
    for name, r in data["results"].items():
        assert r["policy"] == name and set(r) == RESULT_KEYS
        assert [e["seed"] for e in r["episodes"]] == [1, 2]
        assert set(QPU_COLUMNS) <= set(r["mean"]) and set(r["mean"]) == set(r["ci95"])
        assert r["mean"]["invalid_actions"] == 0
    text = capsys.readouterr().out
    for word in (*QPU_BASELINES, *QPU_COLUMNS):
        assert word in text
    assert "delivery_rate" not in text


def test_cli_without_baselines_flag_compares_every_qpu_baseline(tmp_path: Path) -> None:
    out = tmp_path / "d.json"
    argv = ["evaluate", "--env", QPU_ID, "--episodes", "1", "--scenario", "small"]
    argv += ["--env-arg", "horizon=20", "--out", str(out), "--no-progress"]
    assert run_evaluate(parser().parse_args(argv)) == 0
    assert list(json.loads(out.read_text())["results"]) == QPU_BASELINES
    argv = ["evaluate", "--env", QPU_ID, "--policy", "best_fidelity", "--baselines", "random"]
    argv += ["--episodes", "1", "--scenario", "small", "--env-arg", "horizon=20"]
    argv += ["--out", str(out), "--no-progress"]
    assert run_evaluate(parser().parse_args(argv)) == 0
    data = json.loads(out.read_text())
    assert list(data["results"]) == ["best_fidelity", "random"]
    assert data["policy"] == "best_fidelity"
    assert data["episodes"] == data["results"]["best_fidelity"]["episodes"]


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--policy", "greedy"], "--policy"),
        (["--baselines", "random,oracle"], "--baselines"),
        (["--baselines", ","], "--baselines"),
    ],
)
def test_bad_qpu_policy_names_list_the_qpu_baselines(argv: list[str], flag: str) -> None:
    args = parser().parse_args(["evaluate", "--env", QPU_ID, "--no-progress", *argv])
    with pytest.raises(ValueError, match=flag) as err:
        run_evaluate(args)
    assert "random, round_robin, least_loaded, best_fidelity" in str(err.value)
