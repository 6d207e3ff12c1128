"""The ``qenv`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table


def _chain(args: argparse.Namespace) -> int:
    from qenv.network.chains import estimate_chain_delivery

    est = estimate_chain_delivery(
        args.segments, args.p, args.swap_prob, args.cutoff, args.scheme, args.samples, args.seed
    )
    if args.json:
        print(json.dumps({"mean": est.mean, "stderr": est.stderr, "samples": est.samples}))
    else:
        print(
            f"mean delivery time: {est.mean:.4f} ± {est.stderr:.4f} slots "
            f"(standard error, {est.samples} samples, scheme={args.scheme})"
        )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from qenv.checks import check_positive_int
    from qenv.network.simulate import simulate
    from qenv.scenarios import load_scenario

    # Flags given on the command line replace the scenario's values; --dt goes through
    # the scenario so that traffic and engine keep the same slot length.
    given = {"dt": args.dt, "engine.cutoff_slots": args.cutoff, "engine.swap_prob": args.swap_prob}
    overrides = {key: value for key, value in given.items() if value is not None}
    scenario = load_scenario(args.scenario, args.seed, **overrides)
    slots = args.slots if args.slots is not None else scenario.env.get("horizon", 1000)
    k_paths = args.k_paths if args.k_paths is not None else scenario.env.get("k_paths", 3)
    slots = check_positive_int("--slots (or the scenario's env.horizon)", slots)
    k_paths = check_positive_int("--k-paths (or the scenario's env.k_paths)", k_paths)
    report = simulate(scenario.graph, scenario.traffic, slots, args.seed, scenario.engine, k_paths)
    g = scenario.graph
    table = Table(
        title=f"{scenario.name}: {g.number_of_nodes()} nodes, {g.number_of_edges()} links, "
        f"{slots} slots, greedy shortest feasible path"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.as_dict().items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    Console().print(table)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(report.as_dict(), fh, indent=2)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from qenv.scenarios import scenario_names

    parser = argparse.ArgumentParser(
        prog="qenv", description="Environments and tools for allocating quantum resources."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    chain = sub.add_parser("chain", help="mean delivery time of a homogeneous repeater chain")
    chain.add_argument("--segments", type=int, required=True, help="number of elementary links")
    chain.add_argument("--p", type=float, required=True, help="per-slot link success probability")
    chain.add_argument("--swap-prob", type=float, default=1.0, help="swap success probability")
    chain.add_argument("--cutoff", type=int, default=None, help="pairs usable while age <= cutoff")
    chain.add_argument("--scheme", choices=["swap_asap", "nested"], default="swap_asap")
    chain.add_argument("--samples", type=int, default=100_000)
    chain.add_argument("--seed", type=int, default=0)
    chain.add_argument("--json", action="store_true", help="print JSON instead of text")
    chain.set_defaults(func=_chain)

    sim = sub.add_parser(
        "simulate", help="run a scenario with the greedy controller, print metrics"
    )
    sim.add_argument(
        "--scenario",
        default="dpem",
        help=f"scenario name ({', '.join(scenario_names()) or 'none found'}; "
        "configs/scenarios/<name>.yaml) or path to a scenario YAML file (default: dpem)",
    )
    sim.add_argument(
        "--slots", type=int, default=None, help="slots to run (default: the scenario's env.horizon)"
    )
    sim.add_argument("--seed", type=int, default=0, help="seed of the scenario and the run")
    sim.add_argument(
        "--dt", type=float, default=None, help="slot length in seconds (default: the scenario's)"
    )
    sim.add_argument(
        "--cutoff",
        type=int,
        default=None,
        help="memory cutoff in slots (default: the scenario's engine.cutoff_slots)",
    )
    sim.add_argument(
        "--swap-prob", type=float, default=None, help="default: the scenario's engine.swap_prob"
    )
    sim.add_argument(
        "--k-paths", type=int, default=None, help="default: the scenario's env.k_paths"
    )
    sim.add_argument("--out", default=None, help="also write the metrics as JSON here")
    sim.set_defaults(func=_simulate)
    from qenv.evaluate import add_evaluate_parser

    add_evaluate_parser(sub)
    from agents.bound import add_bound_parser  # clairvoyant delivery bound (DPEM)

    add_bound_parser(sub)
    from agents.forecast.cli import add_forecast_parser  # demand forecaster (#6)

    add_forecast_parser(sub)
    from qenv.scoring.cli import add_scoring_parsers  # AHMO (#5): qenv meta-opt, qenv feedback

    add_scoring_parsers(sub)
    from training.cli import add_train_parser  # the training stack (#7): qenv train

    add_train_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:
        print(f"qenv {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
