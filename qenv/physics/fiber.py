"""Photon loss in fiber and the per-slot success probability of a link.

Link model (documented choice): the two nodes' sources drive heralded attempts
at the slower node's generation rate, r = min(r_u, r_v) attempts/s; an attempt
succeeds with probability η_det·η(L). Attempts within a slot are Poisson, so a
link produces at least one pair in a slot of dt seconds with probability
p = 1 − exp(−r·dt·η_det·η(L)). A link stores at most one new pair per slot
(for the default rates r·dt ≤ 0.1, two successes in one slot have probability
below 0.5%).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qenv.checks import check_probability, check_range
from qenv.physics.states import scalar_or_array

#: Standard telecom fiber at 1550 nm.
DEFAULT_ATTENUATION_DB_PER_KM = 0.2


def fiber_transmissivity(
    length_km: Any, attenuation_db_per_km: Any = DEFAULT_ATTENUATION_DB_PER_KM
) -> Any:
    """η(L) = 10^(−αL/10); L in km, α in dB/km (attenuation length 10/(α ln 10) ≈ 21.7 km)."""
    length = check_range("length_km", length_km, 0.0)
    alpha = check_range("attenuation_db_per_km", attenuation_db_per_km, 0.0)
    return scalar_or_array(10.0 ** (-alpha * length / 10.0))


def link_success_probability(
    length_km: Any,
    attempt_rate: Any,
    dt: float,
    detector_efficiency: float = 0.8,
    attenuation_db_per_km: Any = DEFAULT_ATTENUATION_DB_PER_KM,
) -> Any:
    """Probability that a link heralds at least one pair in a slot: 1 − exp(−r·dt·η_det·η(L))."""
    rate = check_range("attempt_rate", attempt_rate, 0.0)
    check_range("dt", dt, 0.0, low_open=True)
    eta_det = check_probability("detector_efficiency", detector_efficiency)
    eta = np.asarray(fiber_transmissivity(length_km, attenuation_db_per_km))
    return scalar_or_array(-np.expm1(-rate * dt * eta_det * eta))
