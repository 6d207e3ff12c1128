"""③-3 Novelty: 1 − the largest cosine similarity to circuits seen before.

Embedding: :meth:`qenv.scoring.decompose.CircuitGraph.embedding`, a unit vector of the
circuit's structure (log sizes, shape ratios, gate-name histogram), all entries >= 0, so
cosine similarities lie in [0, 1] and Novelty = 1 − max_similarity ∈ [0, 1].

Store (:class:`VectorStore`): one embedding per circuit key, in insertion order, as rows of
a matrix; a similarity query is one matrix-vector product. Update rule:

* :meth:`VectorStore.novelty` scores a circuit against every stored circuit *except itself*
  (same key), so scoring the same circuit twice gives the same answer, and an exact
  duplicate of a stored circuit under another key has Novelty 0; an empty store gives 1;
* :meth:`VectorStore.observe` scores and then adds (a circuit seen again is not added
  twice: the store holds distinct keys). This is the "seen before" rule of
  :func:`qenv.scoring.score`, whose process-wide :data:`DEFAULT_STORE` grows as circuits
  are scored;
* ``capacity`` bounds the store; beyond it the oldest entries are dropped (first in, first
  out), so memory stays bounded in long runs.

In ``QPUAllocation-v0`` the store holds the workload's circuit library (every circuit the
environment can be asked to run), and each circuit's Novelty is against the others
(leave-one-out): a fixed per-circuit value, independent of the order of the library.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt

from qenv.checks import check_positive_int

__all__ = ["DEFAULT_STORE", "VectorStore"]

FloatArray = npt.NDArray[np.float64]


class VectorStore:
    """Embeddings of circuits seen before, keyed by circuit key (module docstring)."""

    def __init__(self, dim: int | None = None, capacity: int = 100_000) -> None:
        self.capacity = check_positive_int("capacity", capacity)
        self.dim = dim
        self._rows: OrderedDict[str, FloatArray] = OrderedDict()
        self._matrix: FloatArray | None = None
        self._keys: list[str] = []

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def _check(self, vector: npt.ArrayLike) -> FloatArray:
        v = np.asarray(vector, dtype=np.float64).ravel()
        if self.dim is None:
            self.dim = v.size
        if v.size != self.dim:
            raise ValueError(f"vector must have {self.dim} entries, got {v.size}")
        if not np.isfinite(v).all():
            raise ValueError("vector must be finite")
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            raise ValueError("vector must not be zero (no direction to compare)")
        out: FloatArray = v / norm
        return out

    def add(self, key: str, vector: npt.ArrayLike) -> None:
        """Store ``vector`` (normalised) under ``key``; a known key keeps its first vector."""
        if key in self._rows:
            return
        self._rows[key] = self._check(vector)
        while len(self._rows) > self.capacity:
            self._rows.popitem(last=False)
        self._matrix = None

    def _stack(self) -> tuple[FloatArray, list[str]]:
        if self._matrix is None:
            self._keys = list(self._rows)
            self._matrix = (
                np.stack(list(self._rows.values())) if self._rows else np.zeros((0, self.dim or 0))
            )
        return self._matrix, self._keys

    def similarities(self, vector: npt.ArrayLike, exclude: str | None = None) -> FloatArray:
        """Cosine similarity of ``vector`` to every stored entry (except key ``exclude``)."""
        v = self._check(vector)
        matrix, keys = self._stack()
        sims: FloatArray = matrix @ v
        if exclude is not None and exclude in self._rows:
            sims = np.delete(sims, keys.index(exclude))
        return sims

    def novelty(self, vector: npt.ArrayLike, key: str | None = None) -> float:
        """1 − max cosine similarity to the stored entries other than ``key``; 1 if none."""
        sims = self.similarities(vector, exclude=key)
        if sims.size == 0:
            return 1.0
        return float(np.clip(1.0 - sims.max(), 0.0, 1.0))

    def observe(self, key: str, vector: npt.ArrayLike) -> float:
        """Novelty against what was seen before, then remember the circuit."""
        value = self.novelty(vector, key)
        self.add(key, vector)
        return value


#: The store of :func:`qenv.scoring.score` (grows as circuits are scored in the process).
DEFAULT_STORE = VectorStore()
