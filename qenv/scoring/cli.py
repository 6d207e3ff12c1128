"""``qenv meta-opt`` (④ + ⑤) and ``qenv feedback`` (⑥): :func:`add_scoring_parsers`."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from qenv.scoring.params import WEIGHT_NAMES

__all__ = ["add_scoring_parsers", "run_feedback", "run_meta_opt"]


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal:  # a file or a pipe: do not squeeze the tables to 80 columns
        console = Console(stderr=stderr, width=max(console.width, 120))
    return console


def _fmt_ci(pair: tuple[float | None, float | None]) -> str:
    mean, half = pair
    if mean is None:
        return "–"
    return f"{mean:.4g}" if half is None else f"{mean:.4g} ± {half:.2g}"


def run_meta_opt(args: argparse.Namespace) -> int:
    """``qenv meta-opt``: fusion, TPE search, held-out report, best parameters to ``--out``."""
    from qenv.scoring.meta import TERMS, load_meta_config, run_meta
    from qenv.scoring.params import params_to_mapping, save_params

    if isinstance(args.trials, bool) or args.trials < 1:
        raise ValueError(f"--trials must be >= 1, got {args.trials}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    config = load_meta_config(args.config)
    out = _console()
    err = _console(stderr=True)
    out.print(
        f"[bold]meta-opt[/bold]: {args.trials} trials of hyperscore_greedy on "
        f"{config.scenario} ({config.horizon} slots), train seeds {list(config.train_seeds)}, "
        f"held-out seeds {list(config.heldout_seeds)}, TPE seed {args.seed}"
    )
    show = not args.no_progress
    if show:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bar = Progress(
            TextColumn("trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=err,
        )
        bar.start()
        task = bar.add_task("", total=args.trials)

        def progress(n: int, value: float, best: float) -> None:
            bar.update(task, completed=n, description=f"goodput {value:.4f} (best {best:.4f})")
    else:

        def progress(n: int, value: float, best: float) -> None:
            return None

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            result = run_meta(config, args.trials, args.seed, progress=progress)
    finally:
        if show:
            bar.stop()
    for w in caught:
        err.print(f"warning: {w.message}")

    fusion = Table(title="⑤ fusion: AHP weights, Shapley values (R² of the outcome), blend")
    fusion.add_column("term")
    fusion.add_column("AHP", justify="right")
    fusion.add_column("Shapley φ", justify="right")
    fusion.add_column(f"fused (blend {config.blend:g})", justify="right")
    fusion.add_column("best (TPE)", justify="right")
    for i, k in enumerate(WEIGHT_NAMES):
        ahp = f"{result.ahp.weights[i]:.4f}" if result.ahp is not None else "–"
        fusion.add_row(
            f"{k} ({TERMS[i]})",
            ahp,
            f"{result.shapley[k]:.4f}",
            f"{result.fused[k]:.4f}",
            f"{result.best.weights[k]:.4f}",
        )
    out.print(fusion)
    if result.ahp is not None:
        out.print(
            f"AHP: λ_max = {result.ahp.lambda_max:.4f}, CI = {result.ahp.ci:.4f}, "
            f"CR = {result.ahp.cr:.4f} ({'consistent' if result.ahp.consistent else 'CR > 0.1'}); "
            f"Σφ = R²(all terms) = {sum(result.shapley.values()):.4f}"
        )
    b = result.best
    out.print(
        f"best training goodput {result.best_value:.4f} tasks/s (trial values "
        f"{min(result.values):.4f}–{max(result.values):.4f}); β = {b.beta:.3f}, "
        f"γ = {b.gamma:.3f}, κ = {b.kappa:.3f}"
    )
    out.print(
        f"convergence: within 1% of the best after {result.converged_trial} of "
        f"{len(result.values)} trials, {result.converged_s:.1f} s of "
        f"{result.search_s:.1f} s of search"
    )
    held = Table(title=f"held-out seeds {list(config.heldout_seeds)} (mean ± 95 % CI)")
    held.add_column("parameters")
    for key in ("goodput", "throughput", "error_rate", "deadline_miss_rate"):
        held.add_column(key, justify="right")
    for name, label in (("base", "base (config)"), ("best", "best (meta-opt)")):
        row = result.heldout[name]
        held.add_row(
            label,
            *(
                _fmt_ci(row[k])
                for k in ("goodput", "throughput", "error_rate", "deadline_miss_rate")
            ),
        )
    out.print(held)
    cal = result.calibration
    if cal is not None:
        d = cal.as_dict()
        out.print(
            f"Bayesian calibration on the held-out dispatches (n = {cal.n}): P(success | V) = "
            f"σ({d['a']:.3f} ± {d['sd_a']:.3f} + ({d['b']:.3f} ± {d['sd_b']:.3f})·V)"
        )
        for cbin in result.calibration_bins:
            mid = 0.5 * (cbin["v_low"] + cbin["v_high"])
            pred = float(cal.predict(mid))
            out.print(
                f"  V in [{cbin['v_low']:.3f}, {cbin['v_high']:.3f}]: observed "
                f"{cbin['observed']:.3f} (n = {int(cbin['n'])}), predicted at the midpoint "
                f"{pred:.3f}",
                markup=False,
            )
    if args.out:
        header = (
            f"written by: qenv meta-opt --config {args.config} --trials {args.trials} "
            f"--seed {args.seed}\n"
            f"training goodput {result.best_value:.4f}; held-out goodput "
            f"{_fmt_ci(result.heldout['best']['goodput'])} (base "
            f"{_fmt_ci(result.heldout['base']['goodput'])})"
        )
        save_params(result.best, args.out, header=header)
        out.print(f"best parameters written to {args.out}")
    if args.json:
        data = {
            "best": params_to_mapping(result.best),
            "best_value": result.best_value,
            "values": result.values,
            "converged_trial": result.converged_trial,
            "converged_s": result.converged_s,
            "search_s": result.search_s,
            "shapley": result.shapley,
            "fused": result.fused,
            "heldout": result.heldout,
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


def run_feedback(args: argparse.Namespace) -> int:
    """``qenv feedback``: apply a JSONL file to the AHP matrix; print weights and CR."""
    from qenv.scoring.feedback import (
        apply_feedback,
        load_matrix,
        read_feedback,
        save_matrix,
        summary,
    )
    from qenv.scoring.params import load_params, save_params

    matrix = load_matrix(args.matrix)
    lines = read_feedback(args.file)
    result = apply_feedback(matrix, lines)
    info = summary(matrix, result)
    out = _console()
    for line, change in result.applied:
        out.print(f"line {line}: applied {change}", markup=False, highlight=False)
    for line, reason in result.errors:
        print(f"{args.file}: line {line}: invalid, skipped: {reason}", file=sys.stderr)
    table = Table(title=f"AHP weights: {args.matrix} + {args.file}")
    table.add_column("term")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for k in WEIGHT_NAMES:
        table.add_row(k, f"{info['weights_before'][k]:.4f}", f"{info['weights_after'][k]:.4f}")
    out.print(table)
    cr = info["cr_after"]
    out.print(
        f"consistency ratio CR: {info['cr_before']:.4f} -> {cr:.4f}"
        + ("" if cr <= 0.1 else "  (> 0.1: the judgments are inconsistent; revise them)")
    )
    out.print(f"{len(result.applied)} line(s) applied, {len(result.errors)} invalid")
    if cr > 0.1:
        print(f"warning: AHP consistency ratio CR = {cr:.3f} > 0.1", file=sys.stderr)
    if args.out:
        save_matrix(
            result.matrix, args.out, header=f"AHP matrix: {args.matrix} updated by {args.file}"
        )
        out.print(f"matrix written to {args.out}")
    if args.weights_out:
        base = load_params(args.params)
        new = base.with_updates(weights=info["weights_after"])
        save_params(new, args.weights_out, header=f"weights from {args.matrix} + {args.file}")
        out.print(f"scoring parameters written to {args.weights_out}")
    return 0


def add_scoring_parsers(subparsers: Any) -> None:
    """Register ``meta-opt`` and ``feedback`` on the ``qenv`` subparsers."""
    meta = subparsers.add_parser(
        "meta-opt",
        help="tune the HyperScore weights (w1..w6, β, γ, κ) with Optuna TPE",
        description="AHP + Shapley fusion, then Optuna TPE over the weights, β, γ, κ of the "
        "AHMO HyperScore against the goodput (throughput × (1 − error rate)) of "
        "hyperscore_greedy on QPUAllocation-v0's training seeds; reports the held-out "
        "seeds and how many trials and seconds convergence (within 1%% of the best) took.",
    )
    meta.add_argument("--config", default="configs/scoring/meta.yaml", help="meta-loop YAML")
    meta.add_argument("--trials", type=int, required=True, help="Optuna trials (>= 1)")
    meta.add_argument("--seed", type=int, default=0, help="seed of the TPE sampler")
    meta.add_argument("--out", default=None, help="write the best parameters (scoring YAML)")
    meta.add_argument("--json", default=None, help="also write the results as JSON here")
    meta.add_argument("--no-progress", action="store_true", help="no progress bar")
    meta.set_defaults(func=run_meta_opt)

    fb = subparsers.add_parser(
        "feedback",
        help="update the AHP matrix from expert preferences (JSONL)",
        description="Apply preferences ('a over b by strength s') and overrides of matrix "
        "entries from a JSONL file to the AHP pairwise matrix; invalid lines are reported "
        "with their line numbers and skipped. Prints the new weights and consistency ratio. "
        "Schema: qenv/scoring/feedback.py.",
    )
    fb.add_argument("--file", required=True, help="JSONL feedback file")
    fb.add_argument("--matrix", default="configs/scoring/ahp.yaml", help="AHP matrix YAML")
    fb.add_argument("--out", default=None, help="write the updated matrix here")
    fb.add_argument(
        "--weights-out", default=None, help="write scoring parameters with the new weights"
    )
    fb.add_argument(
        "--params",
        default=None,
        help="base scoring parameters for --weights-out (default configs/scoring/default.yaml)",
    )
    fb.set_defaults(func=run_feedback)
