"""⑤ fusion (AHP, Shapley, Bayesian calibration) and ⑥ expert feedback, against
closed forms and hand-checked cases."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from qenv.scoring import WEIGHT_NAMES, ahp_weights, blend_weights, shapley_values
from qenv.scoring.feedback import apply_feedback, load_matrix, save_matrix
from qenv.scoring.fusion import (
    RANDOM_INDEX,
    BayesCalibration,
    calibration_table,
    parse_judgment,
    r2_value,
    shapley_weights,
)
from qenv.scoring.meta import _convergence, goodput

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- AHP
def test_ahp_recovers_the_weights_of_a_consistent_matrix() -> None:
    w = np.array([0.4, 0.3, 0.2, 0.1])
    a = w[:, None] / w[None, :]  # perfectly consistent: a_ij = w_i / w_j
    res = ahp_weights(a)
    np.testing.assert_allclose(res.weights, w, rtol=1e-10)
    assert res.lambda_max == pytest.approx(4.0)
    assert res.cr == pytest.approx(0.0, abs=1e-12) and res.consistent


def test_ahp_consistency_ratio_and_warning() -> None:
    # Saaty's classic intransitive triple: A > B, B > C, C > A.
    a = np.array([[1, 3, 1 / 3], [1 / 3, 1, 3], [3, 1 / 3, 1]], dtype=float)
    with pytest.warns(UserWarning, match="CR ="):
        res = ahp_weights(a)
    lam = res.lambda_max
    assert res.ci == pytest.approx((lam - 3) / 2)
    assert res.cr == pytest.approx(res.ci / RANDOM_INDEX[3]) and res.cr > 0.1
    np.testing.assert_allclose(res.weights, 1 / 3)  # symmetric: equal weights
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ahp_weights(a, warn=False)


def test_ahp_rejects_bad_matrices() -> None:
    with pytest.raises(ValueError, match="square"):
        ahp_weights(np.ones((2, 3)))
    with pytest.raises(ValueError, match="reciprocal"):
        ahp_weights(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match=r"matrix\[0\]\[1\]"):
        ahp_weights(np.array([[1.0, -2.0], [-0.5, 1.0]]))
    assert parse_judgment("1/3") == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="fraction"):
        parse_judgment("one third")


# ---------------------------------------------------------------------- Shapley
def test_shapley_axioms_on_known_games() -> None:
    # v(S) = |S|²: symmetric players share v(N) = 9 equally.
    phi = shapley_values(lambda s: len(s) ** 2, 3)
    np.testing.assert_allclose(phi, 3.0)
    # A null player gets 0; the rest is additive.
    weights = {0: 2.0, 1: 0.0, 2: 5.0}
    phi = shapley_values(lambda s: sum(weights[i] for i in s), 3)
    np.testing.assert_allclose(phi, [2.0, 0.0, 5.0])
    # Glove game: player 0 holds a left glove, players 1 and 2 right gloves.
    phi = shapley_values(lambda s: float(0 in s and (1 in s or 2 in s)), 3)
    np.testing.assert_allclose(phi, [2 / 3, 1 / 6, 1 / 6])


def test_shapley_of_r2_attributes_the_explained_variance() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    y = 2.0 * x[:, 0] + 1.0 * x[:, 3] + 0.1 * rng.normal(size=400)
    value = r2_value(x, y)
    phi = shapley_values(value, 6)
    assert phi.sum() == pytest.approx(value((0, 1, 2, 3, 4, 5)))  # efficiency
    # Independent regressors: φ_i ≈ each one's own R² share (4 : 1).
    assert phi[0] == pytest.approx(0.8, abs=0.05) and phi[3] == pytest.approx(0.2, abs=0.05)
    assert np.abs(phi[[1, 2, 4, 5]]).max() < 0.01
    w = shapley_weights(phi)
    assert w.sum() == pytest.approx(1.0) and w[0] > w[3] > w[1]
    np.testing.assert_allclose(shapley_weights(np.zeros(6)), 1 / 6)
    with pytest.raises(ValueError, match="finite"):
        r2_value(np.full((3, 2), np.nan), np.zeros(3))


def test_blend_weights() -> None:
    a = np.full(6, 1 / 6)
    s = np.array([1, 0, 0, 0, 0, 0], dtype=float)
    out = blend_weights(a, s, 0.5)
    assert list(out) == list(WEIGHT_NAMES)
    assert out["logic"] == pytest.approx(0.5 / 6 + 0.5)
    assert sum(out.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="blend"):
        blend_weights(a, s, 1.5)


# ---------------------------------------------------------------------- calibration
def test_bayesian_calibration_recovers_a_logistic_law() -> None:
    rng = np.random.default_rng(1)
    v = rng.uniform(0, 1, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(-3.0 + 6.0 * v)))).astype(float)
    cal = BayesCalibration.fit(v, y)
    d = cal.as_dict()
    assert abs(d["a"] + 3.0) < 4 * d["sd_a"] and abs(d["b"] - 6.0) < 4 * d["sd_b"]
    p = cal.predict(np.array([0.1, 0.5, 0.9]))
    assert (np.diff(p) > 0).all() and p[1] == pytest.approx(0.5, abs=0.05)
    lo, hi = cal.interval(0.5)
    assert lo < 0.5 < hi
    bins = calibration_table(v, y, bins=4)
    assert len(bins) == 4 and bins[0]["observed"] < bins[-1]["observed"]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BayesCalibration.fit([0.1, 0.2], [0.0, 2.0])


def test_prior_keeps_separable_data_finite() -> None:
    cal = BayesCalibration.fit([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], prior_sd=2.0)
    assert np.isfinite(cal.mean).all() and np.isfinite(cal.cov).all()


def test_goodput_and_convergence() -> None:
    assert goodput({"throughput": 4.0, "error_rate": 0.25}) == 3.0
    assert goodput({"throughput": 0.0, "error_rate": None}) == 0.0
    trial, seconds = _convergence([1.0, 1.5, 1.99, 2.0, 1.0], [1, 2, 3, 4, 5])
    assert (trial, seconds) == (3, 3.0)  # 1.99 is within 1 % of 2.0


# ---------------------------------------------------------------------- feedback
def test_feedback_applies_valid_lines_and_reports_invalid_ones() -> None:
    base = load_matrix(REPO / "configs" / "scoring" / "ahp.yaml")
    i = {k: n for n, k in enumerate(WEIGHT_NAMES)}
    lines = [
        "# a comment",
        '{"type": "preference", "a": "qnc", "b": "meta", "strength": 2}',
        "",
        '{"type": "override", "row": "novelty", "col": "logic", "value": "1/4"}',
        '{"type": "preference", "a": "qnc", "b": "qnc", "strength": 3}',
        '{"type": "preference", "a": "qnc", "b": "speed", "strength": 3}',
        '{"type": "override", "row": "meta", "col": "impact", "value": 12}',
        "not json",
        '{"type": "preference", "a": "repro", "b": "impact"}',
        '{"type": "vote", "a": "repro"}',
        '{"type": "preference", "a": "repro", "b": "impact", "strength": 3, '
        '"combine": "geometric"}',
    ]
    res = apply_feedback(base, lines)
    assert [n for n, _ in res.applied] == [2, 4, 11]
    assert [n for n, _ in res.errors] == [5, 6, 7, 8, 9, 10]
    reasons = dict(res.errors)
    assert "itself" in reasons[5] and "speed" in reasons[6] and "[1/9, 9]" in reasons[7]
    assert "JSON" in reasons[8] and "missing" in reasons[9] and "type" in reasons[10]
    a = res.matrix
    assert a[i["qnc"], i["meta"]] == 2 and a[i["meta"], i["qnc"]] == 0.5
    assert a[i["novelty"], i["logic"]] == 0.25 and a[i["logic"], i["novelty"]] == 4
    assert a[i["repro"], i["impact"]] == pytest.approx(math.sqrt(1 * 3))
    # Entries no valid line touched are unchanged; so is the input.
    touched = {(i["qnc"], i["meta"]), (i["novelty"], i["logic"]), (i["repro"], i["impact"])}
    touched |= {(b, a_) for a_, b in touched}
    for r in range(6):
        for c in range(6):
            if (r, c) not in touched:
                assert a[r, c] == base[r, c]
    assert base[i["qnc"], i["meta"]] == 1
    assert ahp_weights(a).weights[i["qnc"]] > ahp_weights(base).weights[i["qnc"]]


def test_matrix_files_round_trip(tmp_path: Path) -> None:
    base = load_matrix(REPO / "configs" / "scoring" / "ahp.yaml")
    path = save_matrix(base, tmp_path / "m.yaml", header="copy")
    np.testing.assert_allclose(load_matrix(path), base, rtol=1e-6)
    shuffled = tmp_path / "order.yaml"
    shuffled.write_text(
        "criteria: [qnc, logic, novelty, impact, repro, meta]\n"
        "matrix:\n"
        + "".join(
            "  - [" + ", ".join(str(base[r, c]) for c in (5, 0, 1, 2, 3, 4)) + "]\n"
            for r in (5, 0, 1, 2, 3, 4)
        )
    )
    np.testing.assert_allclose(load_matrix(shuffled), base, rtol=1e-9)
    broken = tmp_path / "broken.yaml"
    broken.write_text("criteria: [logic]\nmatrix: [[1]]\n")
    with pytest.raises(ValueError, match=r"broken\.yaml: criteria"):
        load_matrix(broken)
