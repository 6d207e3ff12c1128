"""Mean delivery time of a homogeneous repeater chain, estimated by the network engine."""

from __future__ import annotations


def chain_delivery_time(
    n_segments: int,
    p: float,
    swap_prob: float = 1.0,
    cutoff: int | None = None,
    scheme: str = "swap_asap",
    samples: int = 100_000,
    seed: int = 0,
) -> float:
    """Mean number of slots until the first end-to-end pair on a repeater chain.

    Runs ``samples`` independent chains of ``n_segments`` links (per-slot success
    ``p``, swap success ``swap_prob``, usable while age ≤ ``cutoff``) as one batched
    network of the engine (:mod:`qenv.network.chains`) until each delivers once.
    ``scheme`` is ``"swap_asap"`` or ``"nested"`` (n a power of two). First attempt in
    slot 1, so one segment has mean 1/p. The standard error is
    :func:`qenv.network.chains.estimate_chain_delivery`'s ``stderr``.
    """
    # Imported here: the engine builds on the physics package, not the other way round.
    from qenv.network.chains import estimate_chain_delivery

    return estimate_chain_delivery(n_segments, p, swap_prob, cutoff, scheme, samples, seed).mean
