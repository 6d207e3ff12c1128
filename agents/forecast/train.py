"""Fit, evaluate, save and load the demand forecaster.

Pipeline of :func:`fit_eval` (``qenv forecast fit-eval``): a trace is aggregated into
per-node windows (:func:`agents.forecast.data.aggregate`), split into fit, validation
and test parts (:func:`agents.forecast.data.split_windows`), the seasonal period is
estimated on the training part (or given), the model is fitted on the fit part with
early stopping on the validation part, and the model and the naive baselines are
scored on the held-out test part (:mod:`agents.forecast.baselines`).

Training (:func:`fit`). The model runs over the series the way the environment
wrapper runs it online: one recurrent state per node, carried from window to window.
Each epoch walks through the fit part in consecutive chunks of ``chunk`` windows
(truncated back-propagation through time: the state is carried across chunks but the
gradient is not), with one Adam step (Kingma & Ba 2015) per chunk and group of at most
``nodes_per_batch`` nodes, on the weighted MSE of the scaled counts of all H steps
whose targets lie in the fit part. A node's weight is ∝ scale^``weight_power``; the
default 2 makes the loss the MSE in requests per window, the quantity the RMSE scores
(scaled counts keep the inputs and outputs of all nodes near 1, the weights keep the
busy nodes, which dominate the error in requests, in charge). The chunk boundaries
shift by a random offset and the node groups are reshuffled each epoch. The learning
rate halves when the validation score stalls (``ReduceLROnPlateau``). After every
epoch the model runs over the fit and validation windows without gradients and is
scored by the mean over the H steps of the RMSE in requests per window at the
validation origins; the best epoch's weights are kept, and training stops after
``patience`` epochs without a better score (early stopping).

Reproducibility: one ``seed`` determines a run. It seeds the weight initialisation
(inside ``torch.random.fork_rng()``, so the global torch RNG is untouched) and a
``numpy.random.Generator`` for the chunk offsets and node groups; ``torch.set_num_threads``
is at most ``FitConfig.max_threads`` (default 1) during a fit and restored afterwards,
and CPU kernels
with a fixed thread count are deterministic, so the same seed gives the same weights.

Saved models (:func:`save_model`) are ``torch.save`` dictionaries of plain values and
tensors, ``{"format": "qenv-demand-forecaster", "version": 1, "config": {...},
"state_dict": {...}}``, read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from agents.forecast.baselines import (
    BASELINES,
    best_window,
    forecast_errors,
    last_value,
    moving_average,
    seasonal_naive,
)
from agents.forecast.data import (
    Split,
    WindowCounts,
    aggregate,
    estimate_period,
    node_scale,
    split_windows,
    targets,
    window_features,
)
from agents.forecast.model import CELLS, DemandForecaster, ForecasterConfig, build_model
from qenv.checks import check_positive_int
from qenv.network.traffic import Trace

__all__ = [
    "MODEL_FORMAT",
    "FitConfig",
    "FitResult",
    "Prepared",
    "evaluate",
    "fit",
    "fit_eval",
    "load_model",
    "predict_origins",
    "prepare",
    "save_model",
    "torch_threads",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]
PathLike = str | os.PathLike[str]

MODEL_FORMAT = "qenv-demand-forecaster"
_MODEL_VERSION = 1


@dataclass(frozen=True)
class FitConfig:
    """Hyper-parameters of :func:`fit` (defaults: under a minute for a 100-node,
    2,000-window training part on one core).

    Args:
        epochs: most passes over the fit part.
        lr: Adam learning rate.
        chunk: windows per truncated-BPTT chunk (one optimiser step each).
        patience: epochs without a better validation score before stopping.
        hidden, embed_dim, cell: model size (:class:`ForecasterConfig`).
        val_fraction: share of the training part used for validation.
        clip: gradient-norm clip.
        max_threads: torch threads during the fit (at most; restored afterwards).
        weight_power: loss weight of a node ∝ its scale to this power (2: MSE in requests).
        nodes_per_batch: nodes per optimiser step (the fit part's nodes are split into
            groups of at most this many).
    """

    epochs: int = 60
    lr: float = 5e-3
    chunk: int = 32
    patience: int = 8
    hidden: int = 32
    embed_dim: int = 8
    cell: str = "gru"
    val_fraction: float = 0.2
    clip: float = 1.0
    max_threads: int = 1
    weight_power: float = 2.0
    nodes_per_batch: int = 128

    def __post_init__(self) -> None:
        check_positive_int("epochs", self.epochs)
        check_positive_int("chunk", self.chunk)
        check_positive_int("patience", self.patience)
        check_positive_int("max_threads", self.max_threads)
        check_positive_int("nodes_per_batch", self.nodes_per_batch)
        check_positive_int("hidden", self.hidden)
        check_positive_int("embed_dim", self.embed_dim, 0)
        if not math.isfinite(self.weight_power):
            raise ValueError(f"weight_power must be finite, got {self.weight_power!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be finite and > 0, got {self.lr!r}")
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise ValueError(f"clip must be finite and > 0, got {self.clip!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in (0, 1), got {self.val_fraction!r}")
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")


@dataclass(frozen=True)
class Prepared:
    """A trace ready for fitting: windows, parts, period, scale, inputs and targets.

    ``x`` (T, N, F) float32 features; ``y`` (T, N, H) float32 scaled counts of the H
    windows after each window (0 past the end of the series).
    """

    windows: WindowCounts
    split: Split
    period: int | None
    scale: FloatArray
    x: F32Array
    y: F32Array

    @property
    def horizon(self) -> int:
        return self.split.horizon


@dataclass
class FitResult:
    """A fitted model and its training record (one dict per epoch)."""

    model: DemandForecaster
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0


@contextlib.contextmanager
def torch_threads(limit: int) -> Iterator[None]:
    """At most ``limit`` torch threads inside the block; the previous count afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, min(previous, limit)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------- data


def prepare(
    windows: WindowCounts,
    horizon: int,
    train_fraction: float = 0.7,
    val_fraction: float = 0.2,
    period: int | str | None = "auto",
) -> Prepared:
    """Split ``windows``, fix the period (``"auto"``: estimated on the training part;
    an int: given in windows; None: no seasonality) and build inputs and targets.

    Raises:
        TraceTooShortError: too few windows for ``horizon`` (the message says how many).
        ValueError: a given period that does not fit in the training part.
    """
    horizon = check_positive_int("horizon", horizon)
    split = split_windows(
        windows.n_windows, horizon, train_fraction, val_fraction, window_s=windows.window_s
    )
    counts = windows.counts
    if period == "auto":
        period = estimate_period(counts[: split.train_end], windows.window_s)
    elif period is not None:
        if isinstance(period, str):
            raise ValueError(f'period must be "auto", an integer or None, got {period!r}')
        period = check_positive_int("period (season windows)", period, 2)
        if period > split.fit_end:
            raise ValueError(
                f"period (season windows) {period} is longer than the fit part "
                f"({split.fit_end} windows): seasonal_naive would have no earlier season"
            )
    scale = node_scale(counts[: split.fit_end])
    x = window_features(counts, windows.fidelity_sum, windows.destinations, scale, period)
    t, n = counts.shape
    y = np.zeros((t, n, horizon), dtype=np.float32)
    scaled = (counts / scale).astype(np.float32)
    for h in range(1, horizon + 1):
        y[: t - h, :, h - 1] = scaled[h:]
    return Prepared(windows, split, period, scale, x, y)


# --------------------------------------------------------------------------- model runs


def predict_origins(model: DemandForecaster, x: F32Array, origins: IntArray) -> FloatArray:
    """Forecasts (O, H, N) in requests per window at ``origins``, running the model once
    over windows ``0 … max(origins)`` from a zero state (as online)."""
    if origins.size == 0:
        return np.zeros((0, model.horizon, model.n_nodes))
    stop = int(origins.max()) + 1
    with torch.inference_mode():
        y, _ = model(torch.from_numpy(np.ascontiguousarray(x[None, :stop])))
        pred = torch.clamp(y[0], min=0.0) * model.scale[:, None]  # (T, N, H)
    out: FloatArray = pred.numpy()[origins].transpose(0, 2, 1).astype(np.float64)
    return out


def _validation_rmse(model: DemandForecaster, prep: Prepared) -> float:
    origins = prep.split.val_origins
    pred = predict_origins(model, prep.x, origins)
    truth = targets(prep.windows.counts, origins, prep.horizon)
    return float(forecast_errors(pred, truth)["rmse"])


def fit(
    prep: Prepared,
    config: FitConfig | None = None,
    seed: int = 0,
    progress: bool = False,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Fit a forecaster on ``prep`` (see the module docstring); early stopping on the
    validation part. ``progress`` shows a rich bar on stderr; ``on_epoch`` gets each
    epoch's record ``{"epoch", "train_loss", "val_rmse"}``."""
    cfg = config or FitConfig()
    seed = check_positive_int("seed", seed, 0)
    init_ss, order_ss = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(order_ss)
    mcfg = ForecasterConfig(
        n_nodes=prep.windows.n_nodes,
        horizon=prep.horizon,
        window_s=prep.windows.window_s,
        period=prep.period,
        hidden=cfg.hidden,
        embed_dim=cfg.embed_dim,
        cell=cfg.cell,
    )
    model = build_model(mcfg, prep.scale, int(init_ss.generate_state(1)[0]))
    result = FitResult(model)
    started = time.perf_counter()
    with torch_threads(cfg.max_threads), _progress(progress, cfg.epochs) as advance:
        _train(prep, cfg, rng, result, advance, on_epoch)
    result.seconds = time.perf_counter() - started
    return result


def _train(
    prep: Prepared,
    cfg: FitConfig,
    rng: np.random.Generator,
    result: FitResult,
    advance: Callable[[str], None],
    on_epoch: Callable[[dict[str, float]], None] | None,
) -> None:
    model = result.model
    n = prep.windows.n_nodes
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=max(1, cfg.patience // 3)
    )
    # Inputs up to the last fit origin; every position there has all H targets in the part.
    stop = int(prep.split.fit_origins[-1]) + 1
    x = torch.from_numpy(np.ascontiguousarray(prep.x[None, :stop]))
    y = torch.from_numpy(np.ascontiguousarray(prep.y[None, :stop]))
    w = prep.scale**cfg.weight_power
    weight = torch.as_tensor(w / w.mean(), dtype=torch.float32)[:, None]
    n_groups = max(1, math.ceil(n / cfg.nodes_per_batch))
    best = math.inf
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    stale = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        offset = int(rng.integers(0, cfg.chunk))
        bounds = [0, *range(offset or cfg.chunk, stop, cfg.chunk), stop]
        groups = [torch.from_numpy(g) for g in np.array_split(rng.permutation(n), n_groups)]
        hidden = [torch.zeros(1, n, cfg.hidden) for _ in range(2 if cfg.cell == "lstm" else 1)]
        total, count = 0.0, 0
        for lo, hi in itertools.pairwise(bounds):
            if hi <= lo:
                continue
            for g in groups:
                parts = [h[:, g] for h in hidden]
                state: Any = (parts[0], parts[1]) if len(parts) == 2 else parts[0]
                pred, new = model(x[:, lo:hi, g], state, nodes=g)
                for h, v in zip(hidden, new if isinstance(new, tuple) else (new,), strict=True):
                    h[:, g] = v.detach()
                loss = torch.mean(weight[g] * (pred - y[:, lo:hi, g]) ** 2)
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                opt.step()
                total += float(loss.detach()) * (hi - lo) * g.numel()
                count += (hi - lo) * g.numel()
        model.eval()
        val = _validation_rmse(model, prep)
        sched.step(val)
        record = {"epoch": float(epoch), "train_loss": total / max(count, 1), "val_rmse": val}
        result.history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if val < best - 1e-9:
            best, stale = val, 0
            result.best_epoch = epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        advance(
            f"train loss {record['train_loss']:.4g}, val RMSE {val:.4f} "
            f"(best {best:.4f} @ epoch {result.best_epoch})"
        )
        if stale >= cfg.patience:
            result.stopped_early = epoch < cfg.epochs
            break
    model.load_state_dict(best_state)
    model.eval()


@contextlib.contextmanager
def _progress(show: bool, epochs: int) -> Iterator[Callable[[str], None]]:
    """Per-epoch progress on stderr: a rich bar on a terminal, else one line per epoch
    (readable in logs and CI)."""
    if not show:
        yield lambda text: None
        return
    if not sys.stderr.isatty():
        done = [0]

        def line(text: str) -> None:
            done[0] += 1
            print(f"fit epoch {done[0]}/{epochs}: {text}", file=sys.stderr, flush=True)

        yield line
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("[bold]fit"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("", total=epochs)
        yield lambda text: bar.update(task, advance=1, description=text)
        bar.update(task, total=bar.tasks[0].completed)  # stopped early: show a full bar


# --------------------------------------------------------------------------- evaluation


def evaluate(prep: Prepared, model: DemandForecaster) -> dict[str, Any]:
    """Errors of the model and the baselines at the test origins.

    Returns ``{"model": {mae, rmse, rmse_per_step}, "baselines": {name: {...}},
    "moving_average_window": k}``; the moving-average window is chosen on the training
    origins (fit and validation), the test part stays unseen.
    """
    counts = prep.windows.counts
    h = prep.horizon
    split = prep.split
    origins = split.test_origins
    truth = targets(counts, origins, h)
    train_origins = np.concatenate([split.fit_origins, split.val_origins])
    k = best_window(counts, train_origins, h)
    preds = {
        "last_value": last_value(counts, origins, h),
        "moving_average": moving_average(counts, origins, h, k),
        "seasonal_naive": seasonal_naive(counts, origins, h, prep.period),
    }
    return {
        "model": forecast_errors(predict_origins(model, prep.x, origins), truth),
        "baselines": {name: forecast_errors(preds[name], truth) for name in BASELINES},
        "moving_average_window": k,
    }


def fit_eval(
    trace: Trace,
    horizon: int,
    window_s: float,
    train_fraction: float = 0.7,
    seed: int = 0,
    config: FitConfig | None = None,
    n_nodes: int | None = None,
    period: int | str | None = "auto",
    progress: bool = False,
) -> tuple[dict[str, Any], FitResult]:
    """Aggregate ``trace``, fit on the training part, score on the test part.

    Returns ``(report, fit_result)``; ``report`` is ``{"model": {mae, rmse,
    rmse_per_step}, "baselines": {last_value, moving_average, seasonal_naive: {same}},
    "meta": {...}}`` with mae and rmse averaged over the H steps, in requests per window.
    """
    cfg = config or FitConfig()
    windows = aggregate(trace, window_s, n_nodes)
    prep = prepare(windows, horizon, train_fraction, cfg.val_fraction, period)
    result = fit(prep, cfg, seed, progress)
    scores = evaluate(prep, result.model)
    best_base = min(scores["baselines"].values(), key=lambda e: e["rmse"])["rmse"]
    split = prep.split
    report = {
        "model": scores["model"],
        "baselines": scores["baselines"],
        "meta": {
            "horizon": horizon,
            "window_s": windows.window_s,
            "nodes": windows.n_nodes,
            "windows": windows.n_windows,
            "requests": len(trace),
            "mean_count_per_window": float(windows.counts.mean()),
            "parts": {
                "fit": [0, split.fit_end],
                "validation": [split.fit_end, split.train_end],
                "test": [split.train_end, split.n_windows],
            },
            "test_origins": int(split.test_origins.size),
            "period_windows": prep.period,
            "moving_average_window": scores["moving_average_window"],
            "rmse_vs_best_baseline": scores["model"]["rmse"] / best_base - 1.0
            if best_base > 0
            else None,
            "seed": seed,
            "fit": {
                "epochs_run": len(result.history),
                "best_epoch": result.best_epoch,
                "stopped_early": result.stopped_early,
                "seconds": result.seconds,
                "config": {**cfg.__dict__},
            },
        },
    }
    return report, result


# --------------------------------------------------------------------------- persistence


def save_model(model: DemandForecaster, path: PathLike) -> None:
    """Write the model (config, scale and weights) with ``torch.save``."""
    payload = {
        "format": MODEL_FORMAT,
        "version": _MODEL_VERSION,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    torch.save(payload, os.fspath(path))


def load_model(path: PathLike) -> DemandForecaster:
    """Read a model written by :func:`save_model` (``weights_only=True``: no code runs).

    Raises ``ValueError`` naming the file when it is missing, unreadable or not a
    saved forecaster.
    """
    name = os.fspath(path)
    try:
        payload = torch.load(name, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ValueError(f"{name}: no such model file") from exc
    except Exception as exc:  # torch raises many kinds for a corrupt or foreign file
        raise ValueError(f"{name}: not a readable forecaster model ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"{name}: not a {MODEL_FORMAT} file")
    if payload.get("version") != _MODEL_VERSION:
        raise ValueError(f"{name}: unsupported version {payload.get('version')!r}")
    config = ForecasterConfig.from_dict(payload["config"])
    state = payload["state_dict"]
    model = DemandForecaster(config, state["scale"].numpy())
    model.load_state_dict(state)
    model.eval()
    return model
