"""The qenv command line: help, chain estimate, simulation, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qenv.cli import main


def test_help_runs_as_a_console_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "qenv.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and "chain" in out.stdout and "simulate" in out.stdout


def test_chain_prints_estimate_with_standard_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["chain", "--segments", "2", "--p", "0.5", "--swap-prob", "0.5", "--samples", "20000"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(out["mean"] - 16 / 3) < 4 * out["stderr"]


def test_chain_bad_argument_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chain", "--segments", "2", "--p", "1.5"]) == 2
    assert "p must lie in (0, 1]" in capsys.readouterr().err


def test_simulate_writes_metrics(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    assert main(["simulate", "--scenario", "mesh8", "--slots", "300", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    for key in ("delivery_rate", "contention_rate", "mean_latency", "mean_fidelity", "utilisation"):
        assert key in metrics
    assert 0.0 <= metrics["delivery_rate"] <= 1.0
