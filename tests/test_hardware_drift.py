"""Calibration drift: bounds, reproducibility, Ornstein–Uhlenbeck statistics, recalibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logit

from qenv.hardware import Calibration, CalibrationDrift, QPUSpec, load_qpu
from qenv.hardware.drift import HOUR_S

FIELDS = ("t1_s", "t2_s", "readout_error", "gate_error_1q", "gate_error_2q")


@pytest.fixture(scope="module")
def nairobi() -> QPUSpec:
    return load_qpu("ibm_nairobi")


@pytest.fixture(scope="module")
def photonic() -> QPUSpec:
    return load_qpu("photonic_synthetic")


def latent(cal: Calibration) -> np.ndarray:
    """ln T1 and logit of every error (T2 is left out: its output is clipped)."""
    return np.concatenate(
        [np.log(cal.t1_s), logit(cal.readout_error), logit(cal.gate_error_1q),
         logit(cal.gate_error_2q)]
    )  # fmt: skip


def assert_valid(cal: Calibration) -> None:
    assert np.all(cal.t1_s > 0) and np.all(cal.t2_s > 0)
    assert np.all(cal.t2_s <= 2 * cal.t1_s)
    for key in ("readout_error", "gate_error_1q", "gate_error_2q"):
        arr = getattr(cal, key)
        assert np.all((arr >= 0) & (arr < 1)), key
    assert all(not getattr(cal, key).flags.writeable for key in FIELDS)


def test_values_stay_in_range_even_under_violent_drift(nairobi: QPUSpec, photonic: QPUSpec) -> None:
    rng = np.random.default_rng(1)
    for spec in (nairobi, photonic):
        drift = CalibrationDrift(spec, sigma=3.0, reversion=0.1, recalibration_period_s=HOUR_S)
        for _ in range(300):
            cal = drift.step(1800.0, rng)
            assert_valid(cal)
            assert cal.t1_s.shape == spec.calibration.t1_s.shape
            spec.with_calibration(cal)  # shapes fit the device
        assert_valid(drift.observed())
    # The photonic device has no T1/T2: infinities never move.
    assert np.all(np.isinf(drift.true().t1_s)) and np.all(np.isinf(drift.true().t2_s))
    assert not np.allclose(drift.true().readout_error, photonic.calibration.readout_error)


def test_zero_probabilities_stay_zero(nairobi: QPUSpec) -> None:
    cal = nairobi.calibration
    zero = Calibration(cal.t1_s, cal.t2_s, np.zeros(7), cal.gate_error_1q, cal.gate_error_2q)
    drift = CalibrationDrift(nairobi.with_calibration(zero), sigma=1.0)
    rng = np.random.default_rng(2)
    for _ in range(20):
        out = drift.step(600.0, rng)
    assert np.all(out.readout_error == 0) and np.all(out.gate_error_1q != cal.gate_error_1q)


def test_seed_reproduces_the_walk(nairobi: QPUSpec) -> None:
    def run(seed: int) -> list[np.ndarray]:
        drift = CalibrationDrift(nairobi, recalibration_period_s=250.0)
        rng = np.random.default_rng(seed)
        out = []
        for dt in (10.0, 100.0, 0.0, 400.0, 33.3) * 4:
            true = drift.step(dt, rng)
            out += [getattr(true, k) for k in FIELDS]
            out += [getattr(drift.observed(), k) for k in FIELDS]
        return out

    a, b, c = run(7), run(7), run(8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_sigma_zero_is_a_static_device(nairobi: QPUSpec) -> None:
    drift = CalibrationDrift(nairobi, sigma=0.0, recalibration_period_s=100.0)
    rng = np.random.default_rng(3)
    for _ in range(5):
        cal = drift.step(70.0, rng)
    for key in FIELDS:
        np.testing.assert_allclose(getattr(cal, key), getattr(nairobi.calibration, key), rtol=1e-12)
    assert cal.version != nairobi.calibration.version


def test_long_run_statistics_are_those_of_the_ou_process() -> None:
    spec = load_qpu("ibm_hanoi")  # 27 qubits, 28 edges: 136 independent walks
    sigma, theta = 0.2, 0.5  # per sqrt(h), per h: stationary std 0.2, correlation time 2 h
    drift = CalibrationDrift(spec, sigma=sigma, reversion=theta, recalibration_period_s=1e9)
    rng = np.random.default_rng(4)
    dt_h = 0.5
    mu = latent(spec.calibration)
    xs = np.array([latent(drift.step(dt_h * HOUR_S, rng)) - mu for _ in range(3000)])
    xs = xs[200:]  # forget the start at the snapshot
    # Mean reversion: the long-run mean of ln T1 / logit p is the snapshot's.
    # 2800 samples with correlation time 4 steps: standard error ~ 0.2 / sqrt(350) ~ 0.011.
    assert np.abs(xs.mean(axis=0)).max() < 0.06
    assert abs(xs.mean()) < 0.01
    # Stationary spread sigma / sqrt(2 theta).
    assert xs.std() == pytest.approx(drift.stationary_std, rel=0.05)
    assert drift.stationary_std == pytest.approx(0.2)
    # Lag-1 autocorrelation exp(-theta dt).
    rho = np.mean(xs[1:] * xs[:-1]) / np.mean(xs * xs)
    assert rho == pytest.approx(math.exp(-theta * dt_h), abs=0.02)


def test_one_long_step_equals_many_short_ones_in_distribution() -> None:
    spec = load_qpu("ibm_brisbane")  # 127 qubits, 144 edges: ~650 walks in one step
    sigma, theta = 0.3, 0.8
    expected = sigma * math.sqrt(-math.expm1(-2 * theta * 1.0) / (2 * theta))  # after 1 h
    mu = latent(spec.calibration)
    for n_steps in (1, 60):
        drift = CalibrationDrift(spec, sigma=sigma, reversion=theta, recalibration_period_s=1e9)
        rng = np.random.default_rng(5 + n_steps)
        for _ in range(n_steps):
            cal = drift.step(HOUR_S / n_steps, rng)
        dev = latent(cal) - mu
        assert dev.std() == pytest.approx(expected, rel=0.08)
        assert abs(dev.mean()) < 4 * expected / math.sqrt(dev.size)


def test_observed_changes_only_at_recalibration(nairobi: QPUSpec) -> None:
    drift = CalibrationDrift(nairobi, recalibration_period_s=1000.0)
    rng = np.random.default_rng(6)
    seen = [drift.observed()]
    assert seen[0] is nairobi.calibration and drift.true() is nairobi.calibration
    for k in range(1, 31):
        true = drift.step(100.0, rng)
        assert drift.true() is true
        if k % 10 == 0:  # t = 1000, 2000, 3000 s
            assert drift.observed() is true and drift.observed() is not seen[-1]
            assert drift.last_recalibration_s == pytest.approx(100.0 * k)
            seen.append(true)
        else:
            assert drift.observed() is seen[-1] and true is not seen[-1]
    versions = [c.version for c in seen]
    assert versions == sorted(versions) and len(set(versions)) == 4
    assert drift.time_s == pytest.approx(3000.0) and drift.next_recalibration_s == 4000.0


def test_a_step_across_a_recalibration_records_the_boundary_state(nairobi: QPUSpec) -> None:
    drift = CalibrationDrift(nairobi, sigma=1.0, recalibration_period_s=1000.0)
    rng = np.random.default_rng(7)
    true = drift.step(2500.0, rng)  # recalibrations at 1000 and 2000 s inside the step
    assert drift.last_recalibration_s == 2000.0 and drift.time_s == 2500.0
    assert drift.observed() is not true
    assert not np.array_equal(drift.observed().t1_s, true.t1_s)
    assert drift.observed().version < true.version
    drift.reset()
    assert drift.true() is nairobi.calibration and drift.time_s == 0.0


def test_versions_are_unique_across_drifts_and_above_the_snapshot(nairobi: QPUSpec) -> None:
    a, b = CalibrationDrift(nairobi), CalibrationDrift(nairobi)
    rng = np.random.default_rng(8)
    versions = [a.step(10.0, rng).version for _ in range(5)]
    versions += [b.step(10.0, rng).version for _ in range(5)]
    assert versions == sorted(versions) and len(set(versions)) == 10
    cal = nairobi.calibration
    high = Calibration(cal.t1_s, cal.t2_s, cal.readout_error, cal.gate_error_1q,
                       cal.gate_error_2q, version=10**9)  # fmt: skip
    c = CalibrationDrift(nairobi.with_calibration(high))
    assert c.step(1.0, rng).version > 10**9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": -0.1}, "sigma must be a finite number >= 0"),
        ({"reversion": float("nan")}, "reversion must be a finite number >= 0"),
        ({"recalibration_period_s": 0.0}, "recalibration_period_s must be > 0"),
    ],
)
def test_bad_parameters(nairobi: QPUSpec, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CalibrationDrift(nairobi, **kwargs)


def test_bad_step_arguments(nairobi: QPUSpec) -> None:
    drift = CalibrationDrift(nairobi)
    with pytest.raises(ValueError, match="dt_s must be a finite number >= 0"):
        drift.step(-1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator"):
        drift.step(1.0, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="spec must be a QPUSpec"):
        CalibrationDrift(nairobi.calibration)  # type: ignore[arg-type]
