"""``qenv meta-opt`` and ``qenv feedback`` end to end (small trial counts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qenv.cli import main
from qenv.envs.qpu.env import QPUAllocationEnv
from qenv.scoring import WEIGHT_NAMES, load_params
from qenv.scoring.feedback import load_matrix
from qenv.scoring.meta import load_meta_config

REPO = Path(__file__).resolve().parents[1]
AHP = REPO / "configs" / "scoring" / "ahp.yaml"


def _config(tmp_path: Path, **extra: str) -> Path:
    text = {
        "scenario": "small",
        "horizon": "40",
        "train_seeds": "[1, 2]",
        "heldout_seeds": "[3, 4]",
        "shapley_seeds": "[5]",
        "base": str(REPO / "configs" / "scoring" / "default.yaml"),
        "ahp": str(AHP),
    }
    text.update(extra)
    path = tmp_path / "meta.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in text.items()))
    return path


def test_meta_opt_writes_parameters_the_env_loads(tmp_path: Path, capsys) -> None:
    out = tmp_path / "best.yaml"
    data = tmp_path / "meta.json"
    rc = main(
        ["meta-opt", "--config", str(_config(tmp_path)), "--trials", "3", "--seed", "1",
         "--out", str(out), "--json", str(data), "--no-progress"]
    )  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "convergence: within 1% of the best after" in text
    assert "held-out seeds [3, 4]" in text and "AHP: λ_max" in text
    best = load_params(out)
    assert sum(best.weights.values()) == pytest.approx(1.0)
    result = json.loads(data.read_text())
    assert len(result["values"]) == 3
    assert result["best_value"] == pytest.approx(max(result["values"]))
    assert 1 <= result["converged_trial"] <= 3
    assert set(result["shapley"]) == set(WEIGHT_NAMES)
    assert result["fused"] and sum(result["fused"].values()) == pytest.approx(1.0)
    # The first trial is the base parameters.
    env = QPUAllocationEnv("small", 0, horizon=10, scoring=str(out))
    assert env.qpu_scorer.params == best
    assert "written by: qenv meta-opt" in out.read_text()


def test_meta_opt_is_reproducible(tmp_path: Path, capsys) -> None:
    cfg = _config(tmp_path)
    runs = []
    for k in range(2):
        data = tmp_path / f"r{k}.json"
        main(["meta-opt", "--config", str(cfg), "--trials", "3", "--seed", "7",
              "--json", str(data), "--no-progress"])  # fmt: skip
        runs.append(json.loads(data.read_text()))
    assert runs[0]["values"] == runs[1]["values"]
    assert runs[0]["best"] == runs[1]["best"]


def test_meta_opt_config_errors(tmp_path: Path, capsys) -> None:
    bad = _config(tmp_path, train_seeds="[1, 3]")  # overlaps the held-out seeds
    assert main(["meta-opt", "--config", str(bad), "--trials", "1", "--no-progress"]) == 2
    assert "must not overlap" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown key"):
        load_meta_config(_config(tmp_path, speed="3"))
    with pytest.raises(ValueError, match=r"search\.beta"):
        load_meta_config(_config(tmp_path, search="{beta: [5, 1]}"))
    assert main(["meta-opt", "--config", str(_config(tmp_path)), "--trials", "0"]) == 2


def test_the_shipped_meta_config_loads() -> None:
    cfg = load_meta_config(REPO / "configs" / "scoring" / "meta.yaml")
    assert not set(cfg.train_seeds) & set(cfg.heldout_seeds)
    assert cfg.ahp_matrix is not None and cfg.ahp_matrix.shape == (6, 6)


def test_feedback_cli(tmp_path: Path, capsys) -> None:
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(
        '{"type": "preference", "a": "qnc", "b": "meta", "strength": 3}\n'
        "oops\n"
        '{"type": "override", "row": "logic", "col": "logic", "value": 2}\n'
    )
    out = tmp_path / "ahp_new.yaml"
    weights = tmp_path / "scoring.yaml"
    rc = main(["feedback", "--file", str(prefs), "--matrix", str(AHP), "--out", str(out),
               "--weights-out", str(weights)])  # fmt: skip
    assert rc == 0
    captured = capsys.readouterr()
    assert "line 2: invalid, skipped" in captured.err
    assert "line 3: invalid, skipped" in captured.err and "itself" in captured.err
    assert "line 1: applied qnc over meta by 3" in captured.out
    assert "consistency ratio CR" in captured.out and "1 line(s) applied, 2 invalid" in captured.out
    new = load_matrix(out)
    i, j = WEIGHT_NAMES.index("qnc"), WEIGHT_NAMES.index("meta")
    assert new[i, j] == pytest.approx(3.0) and new[j, i] == pytest.approx(1 / 3)
    old = load_matrix(AHP)
    mask = np.ones_like(old, dtype=bool)
    mask[i, j] = mask[j, i] = False
    np.testing.assert_allclose(new[mask], old[mask], rtol=1e-6)
    params = load_params(weights)
    assert params.weights["qnc"] > params.weights["meta"]


def test_feedback_cli_warns_on_inconsistent_judgments(tmp_path: Path, capsys) -> None:
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(
        '{"type": "preference", "a": "novelty", "b": "qnc", "strength": 9}\n'
        '{"type": "preference", "a": "novelty", "b": "meta", "strength": 9}\n'
    )
    assert main(["feedback", "--file", str(prefs), "--matrix", str(AHP)]) == 0
    captured = capsys.readouterr()
    assert "> 0.1" in captured.out and "warning: AHP consistency ratio" in captured.err
    assert main(["feedback", "--file", str(tmp_path / "none.jsonl"), "--matrix", str(AHP)]) == 2
    assert "cannot read" in capsys.readouterr().err
