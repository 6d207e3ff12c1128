"""DP pieces of federated averaging: config checks, clipping bound, noise scale, accountant."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("opacus")

from opacus.accountants import RDPAccountant

from training.privacy import (
    RDP_ORDERS,
    DPConfig,
    PrivacyAccountant,
    add_gaussian_noise,
    clip_update,
    l2_norm,
    privatize_update,
)


def _update(rng: np.random.Generator, scale: float = 1.0) -> dict[str, np.ndarray]:
    return {
        "w": (scale * rng.normal(size=(6, 4))).astype(np.float32),
        "b": (scale * rng.normal(size=(4,))).astype(np.float32),
        "steps": np.array([7], dtype=np.int64),  # integer buffer: never clipped or noised
    }


# ----------------------------------------------------------------------------- config


def test_dp_config_defaults_and_mapping() -> None:
    assert DPConfig() == DPConfig(clip_norm=1.0, noise_multiplier=1.0, delta=1e-5)
    cfg = DPConfig.from_mapping({"clip_norm": 0.5, "noise_multiplier": 2, "delta": 1.0e-6})
    assert cfg == DPConfig(clip_norm=0.5, noise_multiplier=2, delta=1e-6)
    assert cfg.noise_std == pytest.approx(1.0)
    off = DPConfig.from_mapping({"clip_norm": None, "noise_multiplier": 0})
    assert off.clip_norm is None and off.noise_std == 0.0


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"clip_norm": 0}, r"federated\.dp\.clip_norm: must be > 0"),
        ({"clip_norm": -1.0}, r"federated\.dp\.clip_norm: must be > 0"),
        ({"clip_norm": "big"}, r"federated\.dp\.clip_norm: must be a number"),
        ({"clip_norm": math.inf}, r"federated\.dp\.clip_norm: must be finite"),
        ({"noise_multiplier": -0.1}, r"federated\.dp\.noise_multiplier: must be >= 0"),
        ({"noise_multiplier": True}, r"federated\.dp\.noise_multiplier: must be a number"),
        ({"clip_norm": None}, r"federated\.dp\.noise_multiplier: noise needs a clipping bound"),
        ({"delta": 0.0}, r"federated\.dp\.delta: must lie in \(0, 1\)"),
        ({"delta": 1.0}, r"federated\.dp\.delta: must lie in \(0, 1\)"),
        ({"sigma": 1.0}, r"federated\.dp\.sigma: unknown key"),
    ],
)
def test_dp_config_bad_values_name_the_key(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DPConfig.from_mapping(mapping)


def test_dp_config_direct_construction_is_checked() -> None:
    with pytest.raises(ValueError, match=r"DPConfig\.clip_norm"):
        DPConfig(clip_norm=0.0)
    with pytest.raises(ValueError, match="must be a mapping"):
        DPConfig.from_mapping([1.0], where="x.dp")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- clipping


def test_l2_norm_flattens_all_float_entries() -> None:
    update = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]]), "n": np.array([100])}
    assert l2_norm(update) == pytest.approx(5.0)  # integer entry ignored


@pytest.mark.parametrize("clip", [0.1, 0.5, 1.0, 3.0])
def test_clipping_bounds_the_norm(clip: float) -> None:
    rng = np.random.default_rng(1)
    for scale in (0.01, 0.3, 1.0, 10.0):
        update = _update(rng, scale)
        clipped, norm = clip_update(update, clip)
        assert norm == pytest.approx(l2_norm(update))
        assert l2_norm(clipped) <= clip * (1 + 1e-6)
        np.testing.assert_array_equal(clipped["steps"], update["steps"])
        assert clipped["w"].dtype == np.float32
        if norm <= clip:  # below the bound: unchanged
            for key in update:
                np.testing.assert_array_equal(clipped[key], update[key])
        else:  # above: same direction, norm exactly C
            assert l2_norm(clipped) == pytest.approx(clip, rel=1e-6)
            np.testing.assert_allclose(clipped["w"], update["w"] * (clip / norm), rtol=1e-6)


def test_clipping_off_returns_a_copy() -> None:
    update = _update(np.random.default_rng(2), 50.0)
    clipped, norm = clip_update(update, None)
    assert norm > 1.0
    np.testing.assert_array_equal(clipped["w"], update["w"])
    assert clipped["w"] is not update["w"]


# ----------------------------------------------------------------------------- noise


def test_noise_std_is_sigma_times_clip() -> None:
    dp = DPConfig(clip_norm=0.7, noise_multiplier=1.3)
    zeros = {"w": np.zeros(200_000, dtype=np.float64), "n": np.zeros(3, dtype=np.int32)}
    noised, noise_norm = add_gaussian_noise(zeros, dp.noise_std, np.random.default_rng(3))
    sample_std = float(np.std(noised["w"]))
    # Standard error of a sample std with n = 2e5 is about std / sqrt(2n) = 0.16 %.
    assert sample_std == pytest.approx(0.7 * 1.3, rel=0.01)
    assert abs(float(np.mean(noised["w"]))) < 5 * 0.91 / math.sqrt(200_000)
    assert noise_norm == pytest.approx(float(np.linalg.norm(noised["w"])))
    np.testing.assert_array_equal(noised["n"], zeros["n"])


def test_noise_is_reproducible_from_the_seed() -> None:
    update = _update(np.random.default_rng(4))
    dp = DPConfig(clip_norm=1.0, noise_multiplier=0.5)
    a = privatize_update(update, dp, np.random.default_rng(9))[0]
    b = privatize_update(update, dp, np.random.default_rng(9))[0]
    c = privatize_update(update, dp, np.random.default_rng(10))[0]
    np.testing.assert_array_equal(a["w"], b["w"])
    assert not np.array_equal(a["w"], c["w"])


def test_privatize_clips_before_noising() -> None:
    update = {"w": np.full(4, 10.0)}  # norm 20
    dp = DPConfig(clip_norm=2.0, noise_multiplier=1e-9)
    private, norm, noise_norm = privatize_update(update, dp, np.random.default_rng(0))
    assert norm == pytest.approx(20.0)
    np.testing.assert_allclose(private["w"], np.full(4, 1.0), atol=1e-6)
    assert noise_norm < 1e-6


def test_noise_rejects_bad_std() -> None:
    with pytest.raises(ValueError, match="std"):
        add_gaussian_noise({"w": np.zeros(2)}, -1.0, np.random.default_rng(0))


# ----------------------------------------------------------------------------- accountant


def _opacus_epsilon(
    sigma: float, rounds: int, delta: float, alphas: list[float] | None = None
) -> float:
    accountant = RDPAccountant()
    for _ in range(rounds):
        accountant.step(noise_multiplier=sigma, sample_rate=1.0)
    return float(accountant.get_epsilon(delta=delta, alphas=alphas or list(RDP_ORDERS)))


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_accountant_matches_opacus_and_grows(sigma: float) -> None:
    accountant = PrivacyAccountant(sigma)
    assert accountant.epsilon(1e-5) == 0.0
    previous = 0.0
    for rounds in range(1, 8):
        accountant.step()
        eps = accountant.epsilon(1e-5)
        assert accountant.rounds == rounds
        assert eps == pytest.approx(_opacus_epsilon(sigma, rounds, 1e-5), rel=1e-12)
        # The wider order grid can only tighten opacus's default conversion.
        default = RDPAccountant.DEFAULT_ALPHAS
        assert eps <= _opacus_epsilon(sigma, rounds, 1e-5, default) * (1 + 1e-12)
        assert eps > previous
        previous = eps
    assert accountant.epsilon(1e-3) < accountant.epsilon(1e-7)


def test_accountant_agrees_with_the_classical_rdp_bound() -> None:
    """Gaussian mechanism, q = 1: RDP T·α/(2σ²); Mironov's conversion bounds ε from above."""
    sigma, rounds, delta = 1.5, 20, 1e-5
    accountant = PrivacyAccountant(sigma)
    for _ in range(rounds):
        accountant.step()
    alphas = np.array(RDP_ORDERS, dtype=np.float64)
    bound = float(np.min(rounds * alphas / (2 * sigma**2) + np.log(1 / delta) / (alphas - 1)))
    eps = accountant.epsilon(delta)
    assert 0.85 * bound < eps <= bound


@pytest.mark.parametrize(("sigma", "rounds"), [(0.01, 1), (0.1, 100), (50.0, 1)])
def test_wider_orders_tighten_epsilon_at_the_extremes(sigma: float, rounds: int) -> None:
    """Where opacus's default optimum sits on its grid edge, RDP_ORDERS finds a lower ε."""
    accountant = PrivacyAccountant(sigma)
    for _ in range(rounds):
        accountant.step()
    with pytest.warns(UserWarning, match="Optimal order"):
        default = _opacus_epsilon(sigma, rounds, 1e-5, RDPAccountant.DEFAULT_ALPHAS)
    assert accountant.epsilon(1e-5) < 0.98 * default


def test_accountant_without_noise_is_infinite() -> None:
    accountant = PrivacyAccountant(0.0)
    assert accountant.epsilon(1e-5) == 0.0
    accountant.step()
    assert accountant.epsilon(1e-5) == math.inf


def test_accountant_state_round_trip() -> None:
    accountant = PrivacyAccountant(1.1)
    for _ in range(5):
        accountant.step()
    state = accountant.state_dict()
    restored = PrivacyAccountant(1.1)
    restored.load_state_dict(state)
    assert restored.rounds == 5
    assert restored.epsilon(1e-5) == accountant.epsilon(1e-5)
    restored.step()
    assert restored.epsilon(1e-5) == pytest.approx(_opacus_epsilon(1.1, 6, 1e-5))
    # msgpack turns tuples into lists: loading lists works too.
    as_lists = {**state, "history": [list(h) for h in state["history"]]}
    again = PrivacyAccountant(1.1)
    again.load_state_dict(as_lists)
    assert again.epsilon(1e-5) == accountant.epsilon(1e-5)


def test_accountant_rejects_foreign_state() -> None:
    state = PrivacyAccountant(1.0).state_dict()
    with pytest.raises(ValueError, match="noise_multiplier"):
        PrivacyAccountant(2.0).load_state_dict(state)
    with pytest.raises(ValueError, match="missing key"):
        PrivacyAccountant(1.0).load_state_dict({"noise_multiplier": 1.0})
    with pytest.raises(ValueError, match="noise_multiplier must be >= 0"):
        PrivacyAccountant(-1.0)
    with pytest.raises(ValueError, match="delta must lie"):
        PrivacyAccountant(1.0).epsilon(2.0)
