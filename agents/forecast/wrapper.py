"""The demand forecaster inside EntanglementAllocation-v0's observations.

:class:`DemandForecastWrapper` is a PettingZoo ``BaseParallelWrapper`` around an
:class:`~qenv.envs.entanglement.env.EntanglementAllocationEnv`. It fills the H
``demand`` fields of every node's observation row with the forecaster's expected
requests per slot for the next H windows, for all nodes at once. A wrapper rather than
a callback inside the environment: the environment stays free of torch, the forecast
can be switched on and off per experiment, and any trained model file plugs in.

What the agents see. Window j of the model covers slots ``j·k + 1 … (j + 1)·k``
(k = ``window_s / dt`` slots, an integer >= 1; a model trained with ``--window-seconds``
equal to the slot length has k = 1). The history is the environment's own requests,
aggregated per window exactly as a trace is by :func:`agents.forecast.data.aggregate`
(count, mean F_min and distinct destinations per source node). When the arrivals of
the slot that completes window j are known, i.e. in the observation of that slot, the
recurrent state takes window j and the H predictions cover windows j + 1 … j + H;
demand field h of node n is ``prediction[n, h] / k``, in requests per slot. Before
the first window is complete the fields hold the model's prior (its forecast from a
zero state). The recurrent state starts from zeros at every ``reset``, as in training,
and the time-of-day features count windows from the episode's first slot, which is
where the scenario's traffic generators start their clock.

How. The arrivals of the episode are aggregated once at ``reset`` (the environment
draws every request of the episode then); reading row j at the slot that completes
window j uses no future information. Before each ``step`` the wrapper advances the
recurrent state to the slot the step enters and writes the forecast into the array
that :meth:`~qenv.envs.entanglement.env.EntanglementAllocationEnv.set_predicted_demand`
fills (in place, skipping that method's per-call validation: the forecast is finite
and >= 0 by construction), so the environment puts it into the observations it builds;
at ``reset`` it goes through ``set_predicted_demand`` and the observations already
built are patched in place. One window is one batched step of the recurrent cell
over all N nodes, run by :class:`ForecastStepper` in a compiled kernel on preallocated
float32 arrays (:mod:`agents.forecast.kernels`: the arithmetic of ``torch.nn.GRU`` /
``LSTM``, checked against the torch model in the tests): tens of microseconds per step
at 100 nodes, without torch's per-call overhead (``bench/forecast_bench.py`` times the
whole environment step with and without the wrapper).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt
from pettingzoo.utils.wrappers import BaseParallelWrapper

from agents.forecast.data import FEATURES, aggregate, window_features
from agents.forecast.kernels import gru_step, lstm_step, zero_head
from agents.forecast.model import DemandForecaster
from qenv.envs.entanglement.env import EntanglementAllocationEnv

__all__ = ["DemandForecastWrapper", "ForecastStepper", "slots_per_window"]

F32Array = npt.NDArray[np.float32]


def slots_per_window(window_s: float, dt: float) -> int:
    """Slots of ``dt`` s per model window of ``window_s`` s; a whole number >= 1, else
    ``ValueError``."""
    ratio = float(window_s) / float(dt)
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 1e-6 * max(1.0, ratio):
        raise ValueError(
            f"the model's window ({window_s:g} s) must be a whole number >= 1 of the "
            f"environment's slots (dt = {dt:g} s); got {ratio:g} slots"
        )
    return k


class ForecastStepper:
    """Inference of a :class:`DemandForecaster` one window at a time for all nodes.

    The node embedding's share of the recurrent cell's input and of the head is constant
    per node and folded into per-node biases once; a step is then one call of the
    compiled kernel :func:`agents.forecast.kernels.gru_step` (or ``lstm_step``) on
    preallocated float32 arrays.
    """

    def __init__(self, model: DemandForecaster) -> None:
        cfg = model.config
        w = model.numpy_weights()
        n, f, hid, e = cfg.n_nodes, len(cfg.features), cfg.hidden, cfg.embed_dim
        emb = w["embed.weight"] if e else np.zeros((n, 0), dtype=np.float32)
        w_ih, w_hh = w["rnn.weight_ih_l0"], w["rnn.weight_hh_l0"]
        b_ih, b_hh = w["rnn.bias_ih_l0"], w["rnn.bias_hh_l0"]
        self.cell = cfg.cell
        self.n_nodes, self.hidden, self.horizon = n, hid, cfg.horizon
        c_x = emb @ w_ih[:, f:].T + b_ih  # (N, 4·hid) for LSTM, (N, 3·hid) for GRU
        if self.cell == "gru":
            # Column blocks r, z, n_x, n_h: the recurrent part of the n gate is kept apart
            # because the reset gate multiplies it (with its bias b_hn).
            w_big = np.zeros((f + hid, 4 * hid), dtype=np.float32)
            w_big[:f, : 3 * hid] = w_ih[:, :f].T
            w_big[f:, : 2 * hid] = w_hh[: 2 * hid].T
            w_big[f:, 3 * hid :] = w_hh[2 * hid :].T
            bias = np.zeros((n, 4 * hid), dtype=np.float32)
            bias[:, : 3 * hid] = c_x
            bias[:, : 2 * hid] += b_hh[: 2 * hid]
            bias[:, 3 * hid :] = b_hh[2 * hid :]
        else:
            w_big = np.concatenate([w_ih[:, :f].T, w_hh.T])
            bias = c_x + b_hh
        self.w = _f32(w_big)  # (F + hid, 4·hid)
        self.c_x = _f32(bias)  # (N, 4·hid)
        head_w, head_b = w["head.weight"], w["head.bias"]
        self.w_y = _f32(head_w[:, :hid].T)  # (hid, H)
        self.c_y = _f32(emb @ head_w[:, hid:].T + head_b)  # (N, H)
        self.scale = _f32(w["scale"])  # (N,) requests per window
        if not all(np.all(np.isfinite(a)) for a in (self.w, self.c_x, self.w_y, self.c_y)):
            raise ValueError("the model has non-finite weights")
        self.h = np.zeros((n, hid), dtype=np.float32)
        self.c = np.zeros((n, hid), dtype=np.float32)  # LSTM cell state
        self._xh = np.empty((n, f + hid), dtype=np.float32)
        self.prediction = np.empty((n, cfg.horizon), dtype=np.float32)

    def reset(self) -> F32Array:
        """Zero state; returns the prior forecast (N, H) in requests per window."""
        self.h.fill(0.0)
        self.c.fill(0.0)
        zero_head(self.h, self.w_y, self.c_y, self.scale, self.prediction)
        return self.prediction

    def step(self, x: F32Array) -> F32Array:
        """Advance the state by one window of features ``x`` (N, F) float32, C-contiguous;
        returns the forecast (N, H) of the next H windows in requests per window (a
        buffer reused by every call)."""
        if self.cell == "gru":
            gru_step(
                x, self.h, self._xh, self.w, self.c_x, self.w_y, self.c_y, self.scale,
                self.prediction,
            )  # fmt: skip
        else:
            lstm_step(
                x, self.h, self.c, self._xh, self.w, self.c_x, self.w_y, self.c_y, self.scale,
                self.prediction,
            )  # fmt: skip
        return self.prediction


def _f32(a: npt.ArrayLike) -> F32Array:
    return np.ascontiguousarray(a, dtype=np.float32)


class DemandForecastWrapper(BaseParallelWrapper):  # type: ignore[misc]
    """EntanglementAllocation-v0 with the forecaster's predictions in the ``demand`` fields.

    Args:
        env: an :class:`EntanglementAllocationEnv` (possibly wrapped); node agents or
            edge clouds.
        model: a fitted :class:`DemandForecaster` or the path of one saved by
            ``qenv forecast fit-eval`` (:func:`agents.forecast.train.save_model`). It
            must cover the env's nodes (same count), predict at least the env's
            ``demand_horizon`` windows, and have a window of a whole number of slots.

    Raises:
        ValueError: a model that does not fit the environment (the message says how).
    """

    def __init__(self, env: Any, model: DemandForecaster | str | os.PathLike[str]) -> None:
        base = getattr(env, "unwrapped", env)
        if not isinstance(base, EntanglementAllocationEnv):
            raise ValueError(
                f"env must be an EntanglementAllocationEnv (or wrap one), got {type(base).__name__}"
            )
        if not isinstance(model, DemandForecaster):
            from agents.forecast.train import load_model

            model = load_model(model)
        cfg = model.config
        core = base.core
        if tuple(cfg.features) != FEATURES:
            raise ValueError(f"model features {cfg.features} differ from {FEATURES}")
        if cfg.n_nodes != core.n_nodes:
            raise ValueError(
                f"the model forecasts {cfg.n_nodes} nodes, the environment has {core.n_nodes}"
            )
        if core.demand_horizon < 1:
            raise ValueError("the environment has demand_horizon=0: no demand fields to fill")
        if cfg.horizon < core.demand_horizon:
            raise ValueError(
                f"the model predicts {cfg.horizon} windows, the environment's observation "
                f"has demand_horizon={core.demand_horizon}"
            )
        super().__init__(env)
        self.model = model
        self.slots_per_window = slots_per_window(cfg.window_s, core.engine_config.dt)
        self.stepper = ForecastStepper(model)
        self._inv_k = np.float32(1.0 / self.slots_per_window)
        self._base = base
        self._core = core
        self._h = core.demand_horizon
        self._dem = base.layout.fields["demand"]
        self._row = base.layout.size
        self._features = np.zeros((0, core.n_nodes, len(FEATURES)), dtype=np.float32)

    @property
    def demand(self) -> F32Array:
        """The forecast (N, H) in the latest observations, requests per slot (a copy)."""
        return np.array(self._core.demand, dtype=np.float32)

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, infos = self.env.reset(seed=seed, options=options)
        self.begin_episode()
        self.patch(obs)
        return obs, infos

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        if self._base.agents:  # the step enters slot t + 1, whose arrivals are then known
            self.advance(int(self._core.t) + 1)
        return self.env.step(actions)  # type: ignore[no-any-return]

    def state(self) -> npt.NDArray[np.float32]:
        s: npt.NDArray[np.float32] = self.env.state()
        s.reshape(self._core.n_nodes, self._row)[:, self._dem] = self._core.demand
        return s

    # ------------------------------------------------------------------ internals
    def begin_episode(self) -> None:
        """Start the forecast of the episode the base env has just reset: the windows'
        features, a zero recurrent state (its prior in the demand fields), and the windows
        completed up to the env's slot. ``reset`` calls it; so does a policy that forecasts
        on its own side (:class:`training.checkpoint.PolicyForecast`)."""
        self._start_episode()
        self._base.set_predicted_demand(self._per_slot(self.stepper.reset()))
        self.advance(int(self._core.t))

    def _start_episode(self) -> None:
        """Features of every window of the episode from its requests (drawn at reset)."""
        core, k = self._core, self.slots_per_window
        n_windows = (core.horizon + 1) // k + 1
        dt = core.engine_config.dt
        trace = core.batch.to_trace(dt)
        windows = aggregate(trace, k * dt, core.n_nodes, n_windows)
        cfg = self.model.config
        scale = self.stepper.scale.astype(np.float64)
        self._features = window_features(
            windows.counts, windows.fidelity_sum, windows.destinations, scale, cfg.period
        )

    def advance(self, slot: int) -> None:
        """Take the window that ``slot`` completes (if any) and publish the forecast."""
        k = self.slots_per_window
        if slot % k:
            return
        j = slot // k - 1
        if 0 <= j < self._features.shape[0]:
            self._publish(self.stepper.step(self._features[j]))

    def _per_slot(self, prediction: F32Array) -> F32Array:
        out: F32Array = prediction[:, : self._h] / np.float32(self.slots_per_window)
        return out

    def _publish(self, prediction: F32Array) -> None:
        # In place into the array that set_predicted_demand fills and the env's observe()
        # reads: no copy and no re-validation per step (the forecast is finite and >= 0
        # by construction: finite weights, a ReLU and positive scales).
        np.multiply(prediction[:, : self._h], self._inv_k, out=self._core.demand)

    def patch(self, obs: dict[str, Any]) -> None:
        """Write the current forecast into observations already built (those of reset)."""
        base = self._base
        members = base.members
        ext = np.vstack([self._core.demand, np.zeros((1, self._h), dtype=np.float32)])
        rows = ext[np.where(members < 0, self._core.n_nodes, members)]  # (agents, S, H)
        for i, agent in enumerate(base.possible_agents):
            if agent in obs:
                view = obs[agent]["observation"].reshape(members.shape[1], self._row)
                view[:, self._dem] = rows[i]
