"""``qenv forecast``: request traces from scenarios, and the forecaster's fit and score.

::

    qenv forecast generate --scenario diurnal --slots 20160 --out trace.csv --seed 0
    qenv forecast fit-eval --trace trace.csv --horizon 8 --window-seconds 300 \\
        --train-fraction 0.7 --out report.json [--model-out model.pt] [--nodes 100]

``generate`` draws the requests of ``--slots`` slots from the scenario's traffic model
(:mod:`qenv.network.traffic`: diurnal, bursty, gravity popularity, as the YAML says)
and writes them as ``timestamp,source,destination,fidelity`` (timestamp in seconds,
the middle of the arrival slot; fidelity = the requested F_min). The scenario is built
from ``--seed`` and the requests drawn from the first of three streams spawned from
``--seed``, as ``EntanglementAllocation-v0`` does at ``reset(seed)``: the trace of
``--seed S --slots <horizon>`` is exactly the requests of the environment built with
``scenario_seed=S`` in the episode ``reset(seed=S)``.

``fit-eval`` runs :func:`agents.forecast.train.fit_eval` (aggregation into windows,
fit / validation / test split, training with early stopping, scores of the model and
the naive baselines on the held-out test part), prints a table, writes the report
as JSON and saves the model for :class:`agents.forecast.wrapper.DemandForecastWrapper`.

Every bad input is a ``ValueError`` naming the flag, file or line, which ``qenv``
prints as ``qenv forecast: error: …`` with exit status 2. Heavy imports (torch) happen
only when a command runs, so ``qenv --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_forecast_parser", "run_fit_eval", "run_generate"]


def add_forecast_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``qenv forecast {generate,fit-eval}`` on ``subparsers``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "forecast",
        help="request traces and the recurrent demand forecaster (generate, fit-eval)",
        description="Generate request traces from a scenario; fit the demand forecaster "
        "on a trace and score it against naive baselines on held-out data.",
    )
    sub = p.add_subparsers(dest="forecast_command", required=True)

    gen = sub.add_parser(
        "generate",
        help="write a request trace (timestamp,source,destination,fidelity) from a scenario",
        description="Draw the requests of --slots slots from a scenario's traffic model and "
        "write them as CSV: timestamp (s, middle of the arrival slot), source, destination, "
        "fidelity (the requested F_min).",
    )
    gen.add_argument(
        "--scenario",
        required=True,
        help="scenario name (configs/scenarios/<name>.yaml, e.g. diurnal) or a YAML path",
    )
    gen.add_argument("--slots", type=int, required=True, help="slots of the scenario's dt")
    gen.add_argument("--out", required=True, help="CSV file to write")
    gen.add_argument("--seed", type=int, default=0, help="scenario and request seed (default 0)")
    gen.add_argument(
        "--dt", type=float, default=None, help="slot length in s (default: the scenario's dt)"
    )
    gen.set_defaults(func=run_generate)

    fe = sub.add_parser(
        "fit-eval",
        help="fit the forecaster on a trace, score it and the baselines on held-out data",
        description="Aggregate a trace into per-node request counts per window, fit the "
        "recurrent forecaster on the first part (early stopping on a validation split), and "
        "report MAE and RMSE (requests per window, averaged over the horizon) of the model "
        "and of the naive baselines last_value, moving_average and seasonal_naive on the "
        "rest.",
    )
    fe.add_argument("--trace", required=True, help="CSV trace: timestamp,source,destination,…")
    fe.add_argument("--horizon", type=int, required=True, help="windows to predict (H)")
    fe.add_argument("--window-seconds", type=float, required=True, help="aggregation window W (s)")
    fe.add_argument(
        "--train-fraction",
        type=float,
        default=0.7,
        help="leading share of the windows to train on (its last 20%% validate); the rest "
        "is the test part (default 0.7)",
    )
    fe.add_argument("--out", required=True, help="JSON report to write")
    fe.add_argument("--seed", type=int, default=0, help="seed of the fit (default 0)")
    fe.add_argument(
        "--model-out", default=None, help="where to save the model (default: --out with .pt)"
    )
    fe.add_argument(
        "--nodes",
        type=int,
        default=None,
        help="number of nodes: ids must lie in [0, NODES) (default: largest id in the trace + 1)",
    )
    fe.add_argument(
        "--period-seconds",
        default="auto",
        help='seasonal period in s, "auto" (estimated on the training part; default) or "none"',
    )
    fe.add_argument("--epochs", type=int, default=60, help="most epochs (default 60)")
    fe.add_argument(
        "--patience", type=int, default=8, help="epochs without improvement (default 8)"
    )
    fe.add_argument("--hidden", type=int, default=32, help="recurrent state size (default 32)")
    fe.add_argument("--cell", choices=("gru", "lstm"), default="gru", help="(default gru)")
    fe.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    fe.add_argument("--no-progress", action="store_true", help="no per-epoch progress")
    fe.set_defaults(func=run_fit_eval)
    return p


# --------------------------------------------------------------------------- generate


def run_generate(args: argparse.Namespace) -> int:
    """``qenv forecast generate``."""
    import numpy as np

    from qenv.checks import check_positive_int
    from qenv.scenarios import load_scenario

    slots = check_positive_int("--slots", args.slots)
    overrides: dict[str, Any] = {}
    if args.dt is not None:
        if not (math.isfinite(args.dt) and args.dt > 0):
            raise ValueError(f"--dt must be a number of seconds > 0, got {args.dt!r}")
        overrides["dt"] = args.dt
    scenario = load_scenario(args.scenario, args.seed, **overrides)
    n_nodes = scenario.graph.number_of_nodes()
    dt = scenario.traffic.dt
    traffic_rng = np.random.default_rng(args.seed).spawn(3)[0]  # as the env's reset(seed)
    trace = scenario.traffic.generate(n_nodes, slots, traffic_rng).to_trace(dt)
    try:
        trace.to_csv(args.out)
    except OSError as exc:
        raise ValueError(f"--out {args.out}: cannot write: {exc}") from exc
    seconds = slots * dt
    print(
        f"wrote {len(trace)} requests of {n_nodes} nodes over {slots} slots of {dt:g} s "
        f"({seconds:g} s = {seconds / 86400:.3g} days, scenario {scenario.name}, seed "
        f"{args.seed}) to {args.out}"
    )
    return 0


# --------------------------------------------------------------------------- fit-eval


def _period_windows(text: str, window_s: float) -> int | str | None:
    value = str(text).strip().lower()
    if value == "auto":
        return "auto"
    if value == "none":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(
            f'--period-seconds must be "auto", "none" or a number of seconds, got {text!r}'
        ) from None
    windows = seconds / window_s
    if not math.isfinite(windows) or windows < 2 or abs(windows - round(windows)) > 1e-6:
        raise ValueError(
            f"--period-seconds {text} must be a whole number >= 2 of windows of "
            f"--window-seconds {window_s:g} (it is {windows:g} windows)"
        )
    return round(windows)


def run_fit_eval(args: argparse.Namespace) -> int:
    """``qenv forecast fit-eval``."""
    from agents.forecast.data import TraceTooShortError, load_trace
    from agents.forecast.train import FitConfig, fit_eval, save_model, torch_threads

    window_s = float(args.window_seconds)
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"--window-seconds must be > 0, got {args.window_seconds!r}")
    fraction = float(args.train_fraction)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--train-fraction must lie in (0, 1), got {args.train_fraction!r}")
    period = _period_windows(args.period_seconds, window_s)
    model_out = Path(args.model_out) if args.model_out else Path(args.out).with_suffix(".pt")
    if model_out.resolve() == Path(args.out).resolve():
        raise ValueError(f"--model-out {model_out} would overwrite the report --out {args.out}")
    config = FitConfig(
        epochs=args.epochs,
        patience=args.patience,
        hidden=args.hidden,
        cell=args.cell,
        max_threads=args.threads,
    )
    trace = load_trace(args.trace, args.nodes)
    try:
        with torch_threads(config.max_threads):
            report, result = fit_eval(
                trace,
                args.horizon,
                window_s,
                fraction,
                seed=args.seed,
                config=config,
                n_nodes=args.nodes,
                period=period,
                progress=not args.no_progress,
            )
    except TraceTooShortError as exc:
        raise TraceTooShortError(f"{args.trace}: {exc}") from exc
    report["meta"]["trace"] = os.fspath(args.trace)
    report["meta"]["model_file"] = os.fspath(model_out)
    try:
        save_model(result.model, model_out)
    except OSError as exc:
        raise ValueError(f"--model-out {model_out}: cannot write: {exc}") from exc
    try:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    except OSError as exc:
        raise ValueError(f"--out {args.out}: cannot write: {exc}") from exc
    print_report(report)
    print(f"report: {args.out}; model: {model_out}")
    return 0


def print_report(report: dict[str, Any]) -> None:
    """The scores of a :func:`~agents.forecast.train.fit_eval` report as a table."""
    from rich.console import Console
    from rich.table import Table

    meta = report["meta"]
    h = meta["horizon"]
    period = meta["period_windows"]
    parts = meta["parts"]
    rows = {"model": report["model"], **report["baselines"]}
    best = min(v["rmse"] for v in report["baselines"].values())
    title = (
        f"{meta['requests']} requests, {meta['nodes']} nodes, {meta['windows']} windows of "
        f"{meta['window_s']:g} s, H = {h}, test windows {parts['test'][0]}–{parts['test'][1]}"
    )
    caption = f"errors in requests per window over {meta['test_origins']} test origins"
    table = Table(title=title, caption=caption)
    table.add_column("forecast")
    for col in ("MAE", "RMSE", "RMSE h=1", f"RMSE h={h}", "RMSE vs best baseline"):
        table.add_column(col, justify="right")
    labels = {
        "moving_average": f"moving_average (k={meta['moving_average_window']})",
        "seasonal_naive": "seasonal_naive" + (f" (P={period})" if period else " (= last)"),
    }
    for name, err in rows.items():
        rel = f"{err['rmse'] / best - 1.0:+.1%}" if best > 0 else "n/a"
        table.add_row(
            labels.get(name, name),
            f"{err['mae']:.4g}",
            f"{err['rmse']:.4g}",
            f"{err['rmse_per_step'][0]:.4g}",
            f"{err['rmse_per_step'][-1]:.4g}",
            rel,
        )
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    fit = meta["fit"]
    print(
        f"fit: {fit['epochs_run']} epochs (best {fit['best_epoch']}, "
        f"{'stopped early' if fit['stopped_early'] else 'epoch limit'}), {fit['seconds']:.1f} s"
    )
