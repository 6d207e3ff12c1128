"""Stored elementary pairs on the links of a network, as arrays.

State: ``birth[l, q]`` is the slot in which the pair held in memory slot ``q`` of
link ``l`` was generated, or a sentinel when the slot is empty. Because all pairs
on a link start from the same F0 and decohere at the link's pair-level rate,
a pair's Werner parameter is a function of its age alone,
w = w0[l] · decay[l]^age, so decoherence costs nothing per slot.

Conventions (DESIGN.md §1): a pair has age 0 in the slot it is generated; it is
usable while age ≤ cutoff and discarded at the start of the first slot in which
its age would exceed the cutoff. Each pair occupies one qubit of memory at both
end nodes; a node never holds more pairs than its ``memory``. A link attempts
only while both end nodes have a free qubit; when more links herald at a node in
one slot than it has free qubits, heralds are served in a random order and those
ranked beyond the free count at either end are lost (``lost_heralds``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qenv.network.kernels import herald as herald_kernel

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: ``birth`` of a free memory slot (the smallest value, so ``argmin`` finds it).
EMPTY = np.int64(-(1 << 62))
#: ``birth`` of a slot beyond the link's capacity; never free, never a pair.
DISABLED = np.int64(EMPTY + 1)


def group_rank(groups: IntArray, n_groups: int) -> IntArray:
    """Rank of each entry among the entries of its group, in array order (0-based)."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.searchsorted(sorted_groups, np.arange(n_groups))
    rank_sorted = np.arange(groups.size) - starts[sorted_groups]
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    return rank


class LinkStore:
    """Pairs stored on ``L`` links between ``N`` nodes.

    Args:
        ends: (L, 2) end nodes of each link.
        p_gen: (L,) probability that a link heralds a pair in a slot.
        w0: (L,) Werner parameter of a fresh pair.
        decay: (L,) per-slot factor on w, exp(−dt/T_pair).
        link_capacity: (L,) most pairs a link may hold at once.
        node_memory: (N,) qubits of each node, shared by its links.
        cutoff: slots a pair stays usable (age ≤ cutoff), or None for no cutoff.
    """

    def __init__(
        self,
        ends: IntArray,
        p_gen: FloatArray,
        w0: FloatArray,
        decay: FloatArray,
        link_capacity: IntArray,
        node_memory: IntArray,
        cutoff: int | None = None,
    ) -> None:
        self.ends = np.ascontiguousarray(ends, dtype=np.int64)
        self.n_links = int(self.ends.shape[0])
        self.n_nodes = int(node_memory.shape[0])
        self.p_gen = np.asarray(p_gen, dtype=np.float64)
        self.w0 = np.asarray(w0, dtype=np.float64)
        self.decay = np.asarray(decay, dtype=np.float64)
        self.capacity = np.minimum(
            np.asarray(link_capacity, dtype=np.int64),
            np.minimum(node_memory[self.ends[:, 0]], node_memory[self.ends[:, 1]]),
        )
        self.node_memory = np.asarray(node_memory, dtype=np.int64)
        self.cutoff = cutoff
        q = max(1, int(self.capacity.max(initial=1)))
        self.birth: IntArray = np.full((self.n_links, q), EMPTY, dtype=np.int64)
        self.birth[np.arange(q)[None, :] >= self.capacity[:, None]] = DISABLED
        self.count: IntArray = np.zeros(self.n_links, dtype=np.int64)
        #: Birth slot of each link's freshest stored pair (EMPTY if none), kept up to date
        #: so that readers need no per-slot max over ``birth``.
        self.fresh: IntArray = np.full(self.n_links, EMPTY, dtype=np.int64)
        self.node_used: IntArray = np.zeros(self.n_nodes, dtype=np.int64)
        self._idx_buf: IntArray = np.zeros(self.n_links, dtype=np.int64)  # kernel scratch
        self._seen: IntArray = np.full(self.n_nodes, -1, dtype=np.int64)
        self.t = 0
        # Links that stored a pair in each recent slot: the only candidates for expiry
        # when that slot's pairs pass the cutoff (no full scan per slot).
        self._born: dict[int, IntArray] = {}
        self.generated = 0
        self.consumed = 0
        self.expired = 0
        self.lost_heralds = 0
        #: None, or a list that receives each slot's potential heralds (draw < p_gen, before
        #: memory and capacity are checked): the input of a clairvoyant bound.
        self.herald_log: list[BoolArray] | None = None

    # -- per-slot dynamics -------------------------------------------------------------
    def advance(self, rng: np.random.Generator) -> BoolArray:
        """One slot: age, cut off, generate; returns the links that stored a pair."""
        self.tick()
        return self.generate(rng)

    def tick(self) -> None:
        """Start a new slot: pairs age by one; those now older than the cutoff are discarded."""
        self.t += 1
        if self.cutoff is not None:
            stale = self.t - self.cutoff - 1
            links = self._born.pop(stale, None)
            if links is not None and links.size:
                self._expire(links, stale)

    def _expire(self, links: IntArray, stale: int) -> None:
        """Discard the pairs born in slot ``stale`` on ``links`` that are still stored."""
        hit = self.birth[links] == stale
        row, col = np.nonzero(hit)
        if row.size:
            gone = links[row]  # distinct: a link stores at most one pair per slot
            self.birth[gone, col] = EMPTY
            self.count[gone] -= 1
            empty = gone[self.count[gone] == 0]
            self.fresh[empty] = EMPTY
            ends = self.ends[gone].ravel()
            self.node_used -= np.bincount(ends, minlength=self.n_nodes)
            self.expired += int(gone.size)

    def generate(self, rng: np.random.Generator) -> BoolArray:
        """Links with a free slot herald with probability ``p_gen``; returns those that stored."""
        herald = np.empty(self.n_links, dtype=bool)
        draws = rng.random(self.n_links)
        if self.herald_log is not None:
            self.herald_log.append(draws < self.p_gen)
        n, shared = herald_kernel(
            draws,
            self.p_gen,
            self.count,
            self.capacity,
            self.node_used,
            self.node_memory,
            self.ends,
            self.birth,
            self.fresh,
            self.t,
            herald,
            self._idx_buf,
            self._seen,
        )
        if n == 0:
            return herald
        idx = self._idx_buf[:n].copy()
        if not shared:  # the usual slot: stored by the kernel
            self.generated += n
            if self.cutoff is not None:
                self._born[self.t] = idx
            return herald
        # Several heralds share a node: serve them in a random order within free memory.
        u, v = self.ends[idx, 0], self.ends[idx, 1]
        free = self.node_memory - self.node_used
        perm = rng.permutation(idx.size)
        idx, u, v = idx[perm], u[perm], v[perm]
        rank = group_rank(np.concatenate([u, v]), self.n_nodes)
        ok = (rank[: idx.size] < free[u]) & (rank[idx.size :] < free[v])
        self.lost_heralds += int(idx.size - ok.sum())
        herald[idx[~ok]] = False
        idx, u, v = idx[ok], u[ok], v[ok]
        slot = self.birth[idx].argmin(axis=1)
        self.birth[idx, slot] = self.t
        self.count[idx] += 1
        self.fresh[idx] = self.t
        self.node_used += np.bincount(u, minlength=self.n_nodes)
        self.node_used += np.bincount(v, minlength=self.n_nodes)
        self.generated += int(idx.size)
        if self.cutoff is not None:
            self._born[self.t] = idx
        return herald

    def _release(self, links: IntArray, n: IntArray) -> None:
        """Free ``n`` pairs' memory on each of ``links`` (a link may repeat)."""
        np.subtract.at(self.count, links, n)
        w = n.astype(np.float64)
        used = np.bincount(self.ends[links, 0], weights=w, minlength=self.n_nodes)
        used += np.bincount(self.ends[links, 1], weights=w, minlength=self.n_nodes)
        self.node_used -= used.astype(np.int64)

    def rebuild_index(self) -> None:
        """Recompute counts, memory use and the expiry index after ``birth`` was set directly."""
        present = self.birth > DISABLED
        self.count = present.sum(axis=1).astype(np.int64)
        self.node_used = np.bincount(self.ends[:, 0], weights=self.count, minlength=self.n_nodes)
        self.node_used += np.bincount(self.ends[:, 1], weights=self.count, minlength=self.n_nodes)
        self.node_used = self.node_used.astype(np.int64)
        self.fresh = np.where(present.any(axis=1), self.birth.max(axis=1), EMPTY)
        self._born = {}
        if self.cutoff is not None:
            row, col = np.nonzero(present)
            births = self.birth[row, col]
            for b in np.unique(births):
                self._born[int(b)] = row[births == b]

    # -- queries and consumption --------------------------------------------------------
    def werner(self, links: IntArray | None = None) -> FloatArray:
        """Werner parameters (L or len(links), Q) of stored pairs now; 0 where empty."""
        birth = self.birth if links is None else self.birth[links]
        sel = slice(None) if links is None else links
        age = self.t - birth
        present = birth > DISABLED
        w = self.w0[sel, None] * self.decay[sel, None] ** np.where(present, age, 0)
        return np.where(present, w, 0.0)

    def freshest_werner(self, links: IntArray) -> FloatArray:
        """Werner parameter of the freshest pair on each of ``links`` (0 where none)."""
        newest = self.fresh[links]
        present = newest > DISABLED
        age = np.where(present, self.t - newest, 0)
        return np.where(present, self.w0[links] * self.decay[links] ** age, 0.0)

    def take_freshest(self, links: IntArray) -> tuple[FloatArray, IntArray]:
        """Remove the freshest pair from each of ``links`` (distinct, each holding a pair).

        Returns the pairs' Werner parameters and birth slots (a pair is identified by
        (link, birth): a link stores at most one new pair per slot).
        """
        slot = self.birth[links].argmax(axis=1)
        birth = self.birth[links, slot]
        if (birth <= DISABLED).any():
            raise RuntimeError("take_freshest on a link without a stored pair")
        w = self.w0[links] * self.decay[links] ** (self.t - birth)
        self.birth[links, slot] = EMPTY
        left = self.birth[links].max(axis=1)
        self.fresh[links] = np.where(left > DISABLED, left, EMPTY)
        self.count[links] -= 1  # links are distinct
        self.node_used -= np.bincount(self.ends[links].ravel(), minlength=self.n_nodes)
        self.consumed += int(links.size)
        return w, birth

    def clear(self, links: IntArray) -> None:
        """Discard every pair stored on ``links`` (distinct)."""
        n = self.count[links].copy()
        row = self.birth[links]
        row[row > DISABLED] = EMPTY
        self.birth[links] = row
        self.fresh[links] = EMPTY
        self._release(links, n)
