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
    from qenv.network.engine import EngineConfig
    from qenv.network.simulate import simulate
    from qenv.scenarios import make_scenario

    scenario = make_scenario(args.scenario, args.seed)
    config = EngineConfig(dt=args.dt, cutoff_slots=args.cutoff, swap_prob=args.swap_prob)
    report = simulate(scenario.graph, scenario.traffic, args.slots, args.seed, config, args.k_paths)
    g = scenario.graph
    table = Table(
        title=f"{args.scenario}: {g.number_of_nodes()} nodes, {g.number_of_edges()} links, "
        f"{args.slots} slots, greedy shortest feasible path"
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
    from qenv.scenarios import SCENARIOS

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
    sim.add_argument("--scenario", choices=sorted(SCENARIOS), default="dpem")
    sim.add_argument("--slots", type=int, default=1000)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--dt", type=float, default=0.01, help="slot length in seconds")
    sim.add_argument("--cutoff", type=int, default=100, help="memory cutoff in slots")
    sim.add_argument("--swap-prob", type=float, default=1.0)
    sim.add_argument("--k-paths", type=int, default=3)
    sim.add_argument("--out", default=None, help="also write the metrics as JSON here")
    sim.set_defaults(func=_simulate)
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
