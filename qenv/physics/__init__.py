"""Physics of the quantum network: pure numpy, elementwise over arrays of links and pairs.

Units: time in slots or seconds (say which), lengths in km, fidelity
F = ⟨Φ+|ρ|Φ+⟩ in [0.25, 1]. Imports no gymnasium, pettingzoo or ray.
"""

from qenv.physics.chain import chain_delivery_time
from qenv.physics.exact import exact_chain_delivery_time, nested_delivery_pmf
from qenv.physics.fiber import fiber_transmissivity, link_success_probability
from qenv.physics.purification import bbpssw, dejmps
from qenv.physics.states import (
    BELL_ORDER,
    decohered_fidelity,
    fidelity_from_werner,
    pair_coherence_time,
    swap_fidelity,
    werner_bell_diagonal,
    werner_parameter,
)

__all__ = [
    "BELL_ORDER",
    "bbpssw",
    "chain_delivery_time",
    "decohered_fidelity",
    "dejmps",
    "exact_chain_delivery_time",
    "fiber_transmissivity",
    "fidelity_from_werner",
    "link_success_probability",
    "nested_delivery_pmf",
    "pair_coherence_time",
    "swap_fidelity",
    "werner_bell_diagonal",
    "werner_parameter",
]
