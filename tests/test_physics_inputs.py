"""Bad input to the physics functions: a ValueError naming the argument and its range."""

from __future__ import annotations

import numpy as np
import pytest

from qenv.physics import (
    bbpssw,
    decohered_fidelity,
    dejmps,
    fiber_transmissivity,
    fidelity_from_werner,
    link_success_probability,
    swap_fidelity,
    werner_parameter,
)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fiber_transmissivity(-1.0), r"length_km must lie in \[0, inf\)"),
        (lambda: fiber_transmissivity(10.0, -0.2), "attenuation_db_per_km"),
        (lambda: decohered_fidelity(1.2, 1.0, 1.0), r"f0 must lie in \[0.25, 1\]"),
        (lambda: decohered_fidelity(0.9, -1.0, 1.0), "t must lie"),
        (lambda: decohered_fidelity(0.9, 1.0, 0.0), r"t_coh must lie in \(0, inf\)"),
        (lambda: swap_fidelity(0.2, 0.9), "f1"),
        (lambda: swap_fidelity([0.9, 1.01], 0.9), "f1"),
        (lambda: bbpssw(0.9, np.nan), "f2 must not be NaN"),
        (lambda: dejmps([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0]), "c1 must sum to 1"),
        (lambda: dejmps([1, 0, 0], [1, 0, 0, 0]), "c1 must have a last axis of 4"),
        (lambda: dejmps([1, 0, 0, 0], [1.5, -0.5, 0, 0]), "c2 must lie in"),
        (lambda: link_success_probability(10.0, -1.0, 0.01), "attempt_rate"),
        (lambda: link_success_probability(10.0, 1.0, 0.01, 1.5), "detector_efficiency"),
        (lambda: werner_parameter("high"), "fidelity must be numeric"),
        (lambda: fidelity_from_werner(-0.1), "w must lie"),
    ],
)
def test_bad_input_names_the_argument(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_closed_forms_on_arrays() -> None:
    length = np.array([0.0, 10 / 0.2 / 1.0, 21.714724095162588])
    eta = fiber_transmissivity(length)
    np.testing.assert_allclose(eta, [1.0, 0.1, np.exp(-1.0)], rtol=1e-12)
    f = np.array([0.25, 0.6, 1.0])
    np.testing.assert_allclose(fidelity_from_werner(werner_parameter(f)), f)
    np.testing.assert_allclose(swap_fidelity(f, 1.0), f)  # a perfect pair is the identity
    np.testing.assert_allclose(decohered_fidelity(f, np.inf, 1.0), 0.25)
    p, f_out = bbpssw(1.0, 1.0)
    assert p == 1.0 and f_out == 1.0
