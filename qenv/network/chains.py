"""Homogeneous repeater chains run as one batched network.

``B`` independent chains of ``n`` segments are the disjoint union of ``B``
paths: ``B·n`` links in one :class:`~qenv.network.links.LinkStore` (one memory
slot per link end), so the chain estimates exercise the same generation, ageing
and cutoff code as every other network. Swap state is kept per inner node:
``joined[b, i]`` is true once the swap at node ``i + 1`` of chain ``b`` has
succeeded, so a run of present segments linked by ``joined`` is one long pair
(a span). A span's age is that of its oldest segment, so the cutoff discards a
whole span when any of its segments expires.

Schemes (swaps take no time; all of a slot's swaps happen after its generation):

* ``"swap_asap"``: every inner node holding two pairs swaps. Swaps in one slot are
  simultaneous, so a failure destroys the whole span those swaps would have formed
  (its measured qubits are gone).
* ``"nested"``: doubling on ``n = 2^k`` segments. Level ℓ joins two adjacent
  complete blocks of ``2^(ℓ−1)`` segments at their common node; levels run in
  order within a slot. A failed swap destroys both blocks, rebuilt from fresh links.

A chain delivers in the slot in which one span covers all ``n`` segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qenv.checks import check_positive_int, check_range
from qenv.network.links import DISABLED, BoolArray, IntArray, LinkStore

SCHEMES = ("swap_asap", "nested")


class RepeaterChains:
    """``n_chains`` chains of ``n_segments`` links with per-slot success ``p``."""

    def __init__(
        self,
        n_chains: int,
        n_segments: int,
        p: float,
        swap_prob: float = 1.0,
        cutoff: int | None = None,
        scheme: str = "swap_asap",
    ) -> None:
        self.n_chains = check_positive_int("n_chains", n_chains)
        self.n = check_positive_int("n_segments", n_segments)
        check_range("p", p, 0.0, 1.0, low_open=True)
        check_range("swap_prob", swap_prob, 0.0, 1.0, low_open=True)
        if cutoff is not None:
            check_positive_int("cutoff", cutoff, minimum=0)
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        if scheme == "nested" and self.n & (self.n - 1):
            raise ValueError(f"scheme 'nested' needs n_segments a power of two, got {self.n}")
        self.p, self.swap_prob, self.cutoff, self.scheme = p, swap_prob, cutoff, scheme
        self.store = self._make_store(self.n_chains)
        self.joined: BoolArray = np.zeros((self.n_chains, self.n - 1), dtype=bool)

    def _make_store(self, n_chains: int) -> LinkStore:
        n = self.n
        chain = np.repeat(np.arange(n_chains), n)
        seg = np.tile(np.arange(n), n_chains)
        left = chain * (n + 1) + seg
        ends = np.stack([left, left + 1], axis=1)
        links = n_chains * n
        return LinkStore(
            ends=ends,
            p_gen=np.full(links, self.p),
            w0=np.ones(links),
            decay=np.ones(links),
            link_capacity=np.ones(links, dtype=np.int64),
            node_memory=np.full(n_chains * (n + 1), 2, dtype=np.int64),
            cutoff=self.cutoff,
        )

    @property
    def t(self) -> int:
        return self.store.t

    def present(self) -> BoolArray:
        """(B, n): segments holding a pair (possibly as part of a span)."""
        return (self.store.birth[:, 0] > DISABLED).reshape(self.n_chains, self.n)

    def _span_ids(self) -> IntArray:
        """(B, n) global span label of each segment: segments linked by ``joined`` share it."""
        b = self.n_chains
        starts = np.ones((b, self.n), dtype=np.int64)
        starts[:, 1:] = ~self.joined
        return np.cumsum(starts, axis=1) - 1 + (np.arange(b) * self.n)[:, None]

    def _destroy(self, seg_mask: BoolArray) -> None:
        """Discard the pairs of the masked segments and forget swaps touching them."""
        links = np.flatnonzero(seg_mask.ravel())
        if links.size:
            self.store.clear(links[self.store.count[links] > 0])
            self.joined &= ~(seg_mask[:, :-1] | seg_mask[:, 1:])

    def step(self, rng: np.random.Generator) -> BoolArray:
        """Run one slot; returns the chains that delivered an end-to-end pair in it (then reset)."""
        self.store.tick()
        if self.cutoff is not None and self.n > 1:
            # A span with an expired segment is gone as a whole.
            spans = self._span_ids()
            missing = np.bincount(
                spans.ravel(), weights=~self.present().ravel(), minlength=spans.size
            )
            broken = missing[spans] > 0
            self._destroy(broken & self.present())
            self.joined &= ~broken[:, :-1]
        self.store.generate(rng)
        if self.n > 1:
            if self.scheme == "swap_asap":
                self._swap_asap(rng)
            else:
                self._swap_nested(rng)
        done: BoolArray = np.asarray(self.present().all(axis=1))
        if self.n > 1:
            done &= self.joined.all(axis=1)
        if done.any():
            self._destroy(np.repeat(done[:, None], self.n, axis=1))
        return done

    def _swap_asap(self, rng: np.random.Generator) -> None:
        pres = self.present()
        attempt = pres[:, :-1] & pres[:, 1:] & ~self.joined
        if not attempt.any():
            return
        failed = attempt & (rng.random(attempt.shape) >= self.swap_prob)
        self.joined |= attempt
        if failed.any():
            spans = self._span_ids()
            bad_span = np.zeros(spans.size, dtype=bool)
            bad_span[spans[:, :-1][failed]] = True
            bad = bad_span[spans]
            self._destroy(bad)
            self.joined &= ~bad[:, :-1]

    def _swap_nested(self, rng: np.random.Generator) -> None:
        b, n = self.n_chains, self.n
        size = 1
        while size < n:
            pres = self.present()
            joined_pad = np.ones((b, n), dtype=bool)
            joined_pad[:, :-1] = self.joined
            complete: BoolArray = np.asarray(pres.reshape(b, n // size, size).all(axis=2))
            if size > 1:
                complete &= joined_pad.reshape(b, n // size, size)[:, :, : size - 1].all(axis=2)
            # The inner node joining each pair of sibling blocks.
            node = np.arange(1, n // (2 * size) + 1) * 2 * size - size
            attempt = complete[:, 0::2] & complete[:, 1::2] & ~self.joined[:, node - 1]
            if attempt.any():
                ok = attempt & (rng.random(attempt.shape) < self.swap_prob)
                self.joined[:, node - 1] |= ok
                failed = attempt & ~ok
                if failed.any():
                    self._destroy(np.repeat(failed, 2 * size, axis=1))
            size *= 2

    def keep(self, chains: IntArray) -> None:
        """Keep only the given chains (compaction once most have finished)."""
        old_birth = self.store.birth.reshape(self.n_chains, self.n, -1)[chains]
        t = self.store.t
        self.n_chains = int(chains.size)
        self.joined = self.joined[chains]
        self.store = self._make_store(self.n_chains)
        self.store.t = t
        self.store.birth[:] = old_birth.reshape(self.n_chains * self.n, -1)
        self.store.rebuild_index()


@dataclass(frozen=True)
class ChainEstimate:
    """Monte-Carlo estimate of the mean delivery time (slots) of a repeater chain."""

    mean: float
    stderr: float
    samples: int
    times: IntArray


def estimate_chain_delivery(
    n_segments: int,
    p: float,
    swap_prob: float = 1.0,
    cutoff: int | None = None,
    scheme: str = "swap_asap",
    samples: int = 100_000,
    seed: int = 0,
    max_slots: int = 10_000_000,
) -> ChainEstimate:
    """Run ``samples`` independent chains until each delivers once; the times are i.i.d."""
    samples = check_positive_int("samples", samples)
    chains = RepeaterChains(samples, n_segments, p, swap_prob, cutoff, scheme)
    rng = np.random.default_rng(seed)
    times = np.zeros(samples, dtype=np.int64)
    row_of = np.arange(samples)  # sample recorded by each row, -1 once it has delivered
    remaining = samples
    while remaining:
        done = chains.step(rng)
        fresh = done & (row_of >= 0)
        if fresh.any():
            times[row_of[fresh]] = chains.t
            row_of[fresh] = -1
            remaining -= int(fresh.sum())
            if remaining and remaining < chains.n_chains // 2:
                live = np.flatnonzero(row_of >= 0)
                chains.keep(live)
                row_of = row_of[live]
        if chains.t > max_slots:
            raise RuntimeError(
                f"chain did not deliver within max_slots={max_slots}; p={p}, "
                f"swap_prob={swap_prob}, "
                f"cutoff={cutoff} make the waiting time too long to simulate"
            )
    mean = float(times.mean())
    stderr = float(times.std(ddof=1) / np.sqrt(samples)) if samples > 1 else float("nan")
    return ChainEstimate(mean=mean, stderr=stderr, samples=samples, times=times)
