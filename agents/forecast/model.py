"""The recurrent demand forecaster: one GRU (or LSTM) shared by all nodes.

Design (DESIGN.md §6). One network serves every node; a learned node embedding
(``embed_dim`` numbers per node) tells the nodes apart. Sharing makes it
data-efficient (a 100-node trace trains one model on 100 series, so rarely-used
nodes borrow the diurnal and burst shapes learned on busy ones) and lets one forward
pass over a (nodes, features) batch forecast every node at once, which is what the
environment wrapper does each step. Per node, per window:

    x_t = [features_t (see agents.forecast.data.FEATURES), embedding]
    h_t = GRU(x_t, h_{t−1})                         (hidden state per node)
    ŷ_t = W·[h_t, embedding] + b  ∈ R^H             (scaled counts of windows t+1 … t+H)

The H steps are predicted directly by one linear head (a multi-output forecast, no
feeding back of predictions). Counts are scaled per node by the node's mean count
per window over the fit part (:func:`agents.forecast.data.node_scale`, stored in the
model as ``scale``); the head's bias starts at 1, i.e. at the node's mean, and
:meth:`DemandForecaster.predict` returns ``max(ŷ, 0)·scale`` in requests per window.
The model carries what it needs to rebuild its inputs: the window length
``window_s`` (s), the seasonal period in windows (``period``, or None) and ``scale``.

Reproducibility: :func:`build_model` initialises the weights from a seed inside
``torch.random.fork_rng()``, so the caller's global torch RNG is untouched.

Recurrent cells: ``torch.nn.GRU`` (Cho et al. 2014, arXiv:1406.1078) or
``torch.nn.LSTM`` (Hochreiter & Schmidhuber 1997), one layer.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from agents.forecast.data import FEATURES
from qenv.checks import check_positive_int

__all__ = ["CELLS", "DemandForecaster", "ForecasterConfig", "RecurrentState", "build_model"]

#: Recurrent cells :class:`DemandForecaster` can use.
CELLS: tuple[str, ...] = ("gru", "lstm")

#: GRU: h (1, B, hidden); LSTM: (h, c).
RecurrentState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class ForecasterConfig:
    """Shape and meaning of a :class:`DemandForecaster` (saved with its weights).

    Args:
        n_nodes: nodes (N); node ids are 0 … N − 1.
        horizon: windows predicted (H).
        window_s: window length (s) the model was trained on.
        period: seasonal period in windows (time-of-day features), or None.
        hidden: recurrent state size per node.
        embed_dim: node-embedding size.
        cell: ``"gru"`` or ``"lstm"``.
        features: input feature names, in order (:data:`agents.forecast.data.FEATURES`).
    """

    n_nodes: int
    horizon: int
    window_s: float
    period: int | None = None
    hidden: int = 32
    embed_dim: int = 8
    cell: str = "gru"
    features: tuple[str, ...] = field(default=FEATURES)

    def __post_init__(self) -> None:
        check_positive_int("n_nodes", self.n_nodes, 2)
        check_positive_int("horizon", self.horizon)
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError(f"window_s must be finite and > 0 (s), got {self.window_s!r}")
        if self.period is not None:
            check_positive_int("period", self.period, 2)
        check_positive_int("hidden", self.hidden)
        check_positive_int("embed_dim", self.embed_dim, 0)
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        object.__setattr__(self, "features", tuple(self.features))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (for saving)."""
        out = asdict(self)
        out["features"] = list(self.features)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForecasterConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"forecaster config: unknown field(s) {unknown}")
        kwargs = dict(data)
        if "features" in kwargs:
            kwargs["features"] = tuple(kwargs["features"])
        return cls(**kwargs)


class DemandForecaster(nn.Module):
    """Shared recurrent forecaster (see the module docstring).

    Args:
        config: sizes and meaning.
        scale: per-node count scale (N,), requests per window; default 1.
    """

    scale: torch.Tensor  # (N,) requests per window; a buffer, saved with the weights

    def __init__(self, config: ForecasterConfig, scale: npt.ArrayLike | None = None) -> None:
        super().__init__()
        self.config = config
        n, f, e, hid = config.n_nodes, len(config.features), config.embed_dim, config.hidden
        s = np.ones(n) if scale is None else np.asarray(scale, dtype=np.float64)
        if s.shape != (n,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(f"scale must be ({n},) finite values > 0, got shape {s.shape}")
        self.register_buffer("scale", torch.as_tensor(s, dtype=torch.float32))
        self.embed = nn.Embedding(n, e) if e else None
        rnn: nn.GRU | nn.LSTM = (nn.GRU if config.cell == "gru" else nn.LSTM)(f + e, hid)
        self.rnn = rnn
        self.head = nn.Linear(hid + e, config.horizon)
        with torch.no_grad():
            self.head.bias.fill_(1.0)  # start at the node's mean count

    @property
    def horizon(self) -> int:
        return self.config.horizon

    @property
    def n_nodes(self) -> int:
        return self.config.n_nodes

    def forward(
        self,
        x: torch.Tensor,
        state: RecurrentState | None = None,
        nodes: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, RecurrentState]:
        """Scaled forecasts after every window.

        Args:
            x: features (batch, time, nodes, F) of consecutive windows.
            state: recurrent state from the previous call (None: zeros); GRU:
                (1, batch·nodes, hidden), LSTM: a pair of those.
            nodes: ids (n,) of the nodes in ``x``'s node axis (default: all N in order);
                training uses node subsets as mini-batches.

        Returns:
            ``(y, state)``: ``y`` (batch, time, nodes, H) scaled counts of the H windows
            after each input window; ``state`` to continue the sequence.
        """
        n_in = self.n_nodes if nodes is None else int(nodes.shape[0])
        if x.ndim != 4 or x.shape[2] != n_in or x.shape[3] != len(self.config.features):
            raise ValueError(
                f"x must have shape (batch, time, {n_in}, {len(self.config.features)}), "
                f"got {tuple(x.shape)}"
            )
        b, t, n, _ = x.shape
        emb = None
        if self.embed is not None:
            e = self.embed.weight if nodes is None else self.embed(nodes)
            emb = e.expand(b, t, *e.shape)
        inp = x if emb is None else torch.cat([x, emb], dim=-1)
        seq = inp.permute(1, 0, 2, 3).reshape(t, b * n, inp.shape[-1])
        out, new_state = self.rnn(seq, state)
        hid = out.reshape(t, b, n, -1).permute(1, 0, 2, 3)
        if emb is not None:
            hid = torch.cat([hid, emb], dim=-1)
        y: torch.Tensor = self.head(hid)
        return y, new_state

    def predict(self, x: torch.Tensor, state: RecurrentState | None = None) -> torch.Tensor:
        """Expected requests per window (batch, nodes, H) after the last window of ``x``."""
        y, _ = self.forward(x, state)
        out: torch.Tensor = torch.clamp(y[:, -1], min=0.0) * self.scale[:, None]
        return out

    def numpy_weights(self) -> dict[str, npt.NDArray[np.float32]]:
        """Weights and buffers as float32 arrays (the wrapper's numpy step path)."""
        return {
            k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.state_dict().items()
        }


def build_model(
    config: ForecasterConfig, scale: npt.ArrayLike | None = None, seed: int = 0
) -> DemandForecaster:
    """A freshly initialised model; weights depend only on ``config`` and ``seed``.

    The global torch RNG is forked, seeded and restored, so callers' draws are unchanged.
    """
    seed = check_positive_int("seed", seed, 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DemandForecaster(config, scale)
